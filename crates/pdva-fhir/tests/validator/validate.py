"""Validates FHIR R4 (4.0.1) NDJSON files with fhir.resources 6.4.0.

Usage: validate.py FILE.ndjson...

Each line is parsed as JSON and then with the fhir.resources model of its
resourceType (which rejects unknown elements, wrong types, malformed
primitives and missing required elements). The models do not check the
codes of elements bound to a value set with strength "required", so the
codes of those the export uses are checked here against the R4 value sets
(REQUIRED below, copied from the R4 specification). Every reference
`Type/id` must name a resource of the files given, and no id may repeat
within a type. Every error is printed as `FILE:LINE: message`. The last line printed is a JSON summary
{"resources": n, "errors": n, "by_type": {...}}. Exit status: 0 when there
are no errors, 1 when there are, 3 when fhir.resources is not installed.
"""

import json
import sys
from collections import Counter

try:
    import fhir.resources
    from fhir.resources import get_fhir_model_class
except ImportError as e:  # the venv is missing: the Rust test decides
    print(f"fhir.resources not installed: {e}", file=sys.stderr)
    sys.exit(3)


# FHIR R4 (4.0.1) elements with a "required" binding that the export fills:
# (resourceType, path) -> allowed codes. A path step into a list visits each
# item; a CodeableConcept's codes are checked by its `coding.code`.
REQUIRED = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Patient", "name.use"): {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    ("Practitioner", "name.use"): {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    ("Procedure", "status"): {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"},
    ("Condition", "clinicalStatus.coding.code"): {"active", "recurrence", "relapse", "inactive", "remission", "resolved"},
    ("Condition", "verificationStatus.coding.code"): {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("Consent", "provision.type"): {"deny", "permit"},
    ("MedicationStatement", "status"): {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"},
    ("EpisodeOfCare", "status"): {"planned", "waitlist", "active", "onhold", "finished", "cancelled", "entered-in-error"},
    ("Device", "deviceName.type"): {"udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name", "model-name", "other"},
    ("AdverseEvent", "actuality"): {"actual", "potential"},
    ("AdverseEvent", "severity.coding.code"): {"mild", "moderate", "severe"},
    ("AdverseEvent", "outcome.coding.code"): {"resolved", "recovering", "ongoing", "resolvedWithSequelae", "fatal", "unknown"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"},
    ("Bundle", "entry.request.method"): {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"},
}


def values_at(data, path):
    """Every value at a dotted path, stepping into lists."""
    items = [data]
    for step in path.split("."):
        found = []
        for item in items:
            if isinstance(item, list):
                item_list = item
            else:
                item_list = [item]
            for x in item_list:
                if isinstance(x, dict) and step in x:
                    v = x[step]
                    found.extend(v if isinstance(v, list) else [v])
        items = found
    return items


def binding_errors(data):
    kind = data.get("resourceType")
    errors = []
    for (rtype, path), allowed in REQUIRED.items():
        if rtype != kind:
            continue
        for value in values_at(data, path):
            if value not in allowed:
                errors.append(f"{kind}.{path} = {value!r} is not in its required value set")
    if kind == "Bundle":
        for entry in data.get("entry", []):
            if isinstance(entry.get("resource"), dict):
                errors.extend(binding_errors(entry["resource"]))
    return errors


def references(data):
    """Every `reference` string anywhere in a resource."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(data, list):
        for value in data:
            yield from references(value)


def main(paths):
    if fhir.resources.__fhir_version__ != "4.0.1":
        print(
            f"fhir.resources {fhir.resources.__version__} models FHIR "
            f"{fhir.resources.__fhir_version__}, not 4.0.1",
            file=sys.stderr,
        )
        return 3
    errors = 0
    by_type = Counter()
    seen = set()
    cited = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                where = f"{path}:{number}"
                if not line.strip():
                    print(f"{where}: empty line")
                    errors += 1
                    continue
                try:
                    data = json.loads(line)
                except ValueError as e:
                    print(f"{where}: not JSON: {e}")
                    errors += 1
                    continue
                kind = data.get("resourceType") if isinstance(data, dict) else None
                try:
                    model = get_fhir_model_class(kind)
                except (KeyError, TypeError):
                    print(f"{where}: unknown resourceType {kind!r}")
                    errors += 1
                    continue
                try:
                    model.parse_obj(data)
                except Exception as e:  # pydantic's ValidationError and friends
                    message = str(e).replace("\n", "\n    ")
                    print(f"{where}: {kind} {data.get('id')}: {message}")
                    errors += 1
                    continue
                problems = binding_errors(data)
                for problem in problems:
                    print(f"{where}: {kind} {data.get('id')}: {problem}")
                errors += len(problems)
                key = (kind, data.get("id"))
                if kind != "Bundle":
                    if key in seen:
                        print(f"{where}: {kind} id {data.get('id')} repeats")
                        errors += 1
                    seen.add(key)
                    for target in references(data):
                        cited.append((where, target))
                by_type[kind] += 1
    for where, target in cited:
        parts = target.split("/")
        if len(parts) != 2 or tuple(parts) not in seen:
            print(f"{where}: reference {target} names no resource of the export")
            errors += 1
    print(json.dumps({"resources": sum(by_type.values()), "errors": errors, "by_type": by_type}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
