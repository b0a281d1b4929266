"""Validates FHIR R4 (4.0.1) NDJSON files with fhir.resources 6.4.0.

Usage: validate.py FILE.ndjson...

Each line is parsed as JSON and then with the fhir.resources model of its
resourceType (which rejects unknown elements, wrong types, malformed
primitives and missing required elements). Every error is printed as
`FILE:LINE: message`. The last line printed is a JSON summary
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
                by_type[kind] += 1
    print(json.dumps({"resources": sum(by_type.values()), "errors": errors, "by_type": by_type}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
