"""Reads an export back with independent tools and compares it with the tidy
CSV export of the same registry (crates/pdva-exchange/tests/formats.rs runs
it with the interpreter of scripts/exchange-venv).

    check.py odm  FILE.xml  CSV_DIR PATIENTS SAME_VALUES
    check.py xlsx FILE.xlsx CSV_DIR PATIENTS SAME_VALUES

SAME_VALUES is 1 when both exports hold the same values (identified
exports; a de-identified export shifts dates by a new secret offset each
time, so then only shapes and counts are compared). Exits non-zero with a
message on the first difference.
"""

import csv
import datetime
import importlib.resources
import os
import sys

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"


def fail(message):
    print(f"check.py: {message}", file=sys.stderr)
    sys.exit(1)


def read_csv(csv_dir, name):
    with open(os.path.join(csv_dir, f"{name}.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def check_odm(path, csv_dir, patients, same_values):
    from lxml import etree

    xsd_path = importlib.resources.files("odmlib") / "schemas/odm/1.3.2/ODM1-3-2.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd_path)))
    doc = etree.parse(path)
    if not schema.validate(doc):
        fail(f"{path} is not valid against the ODM 1.3.2 schema: {schema.error_log}")
    root = doc.getroot()
    if root.get("ODMVersion") != "1.3.2" or root.get("FileType") != "Snapshot":
        fail("root attributes")

    mdv = root.find(f"{ODM}Study/{ODM}MetaDataVersion")
    item_defs = {i.get("OID"): i for i in mdv.iter(f"{ODM}ItemDef")}
    code_lists = {
        c.get("OID"): {i.get("CodedValue") for i in c.iter(f"{ODM}CodeListItem")}
        for c in mdv.iter(f"{ODM}CodeList")
    }
    groups = {
        g.get("OID"): {r.get("ItemOID") for r in g.iter(f"{ODM}ItemRef")}
        for g in mdv.iter(f"{ODM}ItemGroupDef")
    }
    forms = {f.get("OID"): f for f in mdv.iter(f"{ODM}FormDef")}
    for oid, items in groups.items():
        for item in items:
            if item not in item_defs:
                fail(f"{oid} refers to undeclared item {item}")
    for oid, item in item_defs.items():
        ref = item.find(f"{ODM}CodeListRef")
        if ref is not None and ref.get("CodeListOID") not in code_lists:
            fail(f"{oid}: code list {ref.get('CodeListOID')} is not declared")

    subjects = root.findall(f"{ODM}ClinicalData/{ODM}SubjectData")
    if len(subjects) != patients:
        fail(f"{len(subjects)} SubjectData, {patients} patients exported")
    keys = [s.get("SubjectKey") for s in subjects]
    if len(set(keys)) != len(keys):
        fail("a SubjectKey repeats")

    counts = {}
    values = {}
    for subject in subjects:
        repeat_keys = {}
        for form in subject.iter(f"{ODM}FormData"):
            form_oid = form.get("FormOID")
            if form_oid not in forms:
                fail(f"undeclared form {form_oid}")
            repeating = forms[form_oid].get("Repeating") == "Yes"
            if repeating:
                n = repeat_keys.get(form_oid, 0) + 1
                if form.get("FormRepeatKey") != str(n):
                    fail(f"{form_oid}: FormRepeatKey {form.get('FormRepeatKey')}, expected {n}")
                repeat_keys[form_oid] = n
            elif form.get("FormRepeatKey") is not None:
                fail(f"{form_oid} is not repeating but has a FormRepeatKey")
            for group in form.iter(f"{ODM}ItemGroupData"):
                group_oid = group.get("ItemGroupOID")
                name = group_oid.removeprefix("IG.")
                counts[name] = counts.get(name, 0) + 1
                record = {}
                for data in group.iter(f"{ODM}ItemData"):
                    oid, value = data.get("ItemOID"), data.get("Value")
                    if oid not in groups[group_oid]:
                        fail(f"{oid} is not an item of {group_oid}")
                    ref = item_defs[oid].find(f"{ODM}CodeListRef")
                    if ref is not None and value not in code_lists[ref.get("CodeListOID")]:
                        fail(f"{oid}: value {value!r} is not in its code list")
                    check_type(oid, item_defs[oid].get("DataType"), value)
                    record[oid] = value
                record_id = record.get(f"I.{name}.record_id")
                if record_id is None:
                    fail(f"{group_oid}: a group without its record id")
                values[(name, record_id)] = (subject.get("SubjectKey"), record)

    for name in counts.keys() | {"patients"}:
        header, rows = read_csv(csv_dir, name)
        if counts.get(name, 0) != len(rows):
            fail(f"{name}: {counts.get(name, 0)} ItemGroupData, {len(rows)} CSV rows")
        if not same_values:
            continue
        for row in rows:
            cells = dict(zip(header, row))
            subject, record = values[(name, cells["record_id"])]
            if "registry_id" in cells and cells["registry_id"] != subject:
                fail(f"{name} {cells['record_id']}: subject {subject}, CSV {cells['registry_id']}")
            for column, text in cells.items():
                if column == "registry_id" and name != "patients":
                    continue
                oid = f"I.{name}.{column}"
                if oid in item_defs:
                    got = record.get(oid, "")
                    if got != text:
                        fail(f"{oid} of {cells['record_id']}: ODM {got!r}, CSV {text!r}")
                else:
                    # A code list: one boolean item per code.
                    ticked = {
                        o.rsplit(".", 1)[1]
                        for o, v in record.items()
                        if o.startswith(oid + ".") and v == "1"
                    }
                    expected = set(text.split("|")) if text else set()
                    if ticked != expected:
                        fail(f"{oid} of {cells['record_id']}: ODM {ticked}, CSV {expected}")
    print(f"odm: valid against the ODM 1.3.2 XSD; {len(subjects)} subjects; {counts}")


def check_type(oid, data_type, value):
    try:
        if data_type == "date":
            datetime.date.fromisoformat(value)
        elif data_type == "integer":
            int(value)
        elif data_type == "float":
            float(value)
        elif data_type == "boolean" and value not in ("0", "1"):
            raise ValueError
    except ValueError:
        fail(f"{oid}: {value!r} is not of type {data_type}")


def check_xlsx(path, csv_dir, patients, same_values):
    import openpyxl

    # Not read-only: read-only mode does not report frozen panes.
    book = openpyxl.load_workbook(path)
    if book.sheetnames[0] != "Summary":
        fail(f"the first sheet is {book.sheetnames[0]}")
    summary = {}
    for r in book["Summary"].iter_rows(values_only=True):
        if r[0]:
            # The facts come first; an instrument may share a fact's label.
            summary.setdefault(r[0], r[1])
    if summary.get("Patients") != patients:
        fail(f"summary says {summary.get('Patients')} patients, {patients} exported")
    seen = {"date": False, "number": False, "bool": False}
    for name in book.sheetnames[1:]:
        sheet = book[name]
        header, rows = read_csv(csv_dir, name)
        got = list(sheet.iter_rows(values_only=True))
        if list(got[0]) != header:
            fail(f"{name}: header {got[0]} is not the CSV's {header}")
        if len(got) - 1 != len(rows):
            fail(f"{name}: {len(got) - 1} rows, CSV {len(rows)}")
        if sheet.freeze_panes != "A2":
            fail(f"{name}: frozen at {sheet.freeze_panes}, not below the header")
        if not all(c.font.bold for c in sheet[1]):
            fail(f"{name}: header not bold")
        if sheet.auto_filter.ref is None or not sheet.auto_filter.ref.startswith("A1:"):
            fail(f"{name}: no autofilter")
        summary_rows = [r for r in book["Summary"].iter_rows(values_only=True) if r[1] == name]
        if not summary_rows or summary_rows[0][2] != len(rows):
            fail(f"{name}: the summary's count is not {len(rows)}")
        for row, csv_row in zip(got[1:], rows):
            for column, value, text in zip(header, row, csv_row):
                where = f"{name} {csv_row[0]} {column}"
                if value is None:
                    if text != "":
                        fail(f"{where}: empty cell, CSV {text!r}")
                    continue
                if isinstance(value, datetime.datetime):
                    seen["date"] = True
                    shown = value.date().isoformat()
                elif isinstance(value, bool):
                    seen["bool"] = True
                    shown = "1" if value else "0"
                elif isinstance(value, (int, float)):
                    seen["number"] = True
                    if column != "age_at_index" and text and same_values and float(text) != value:
                        fail(f"{where}: {value!r}, CSV {text!r}")
                    continue
                elif isinstance(value, str):
                    shown = value
                else:
                    fail(f"{where}: a cell of type {type(value)}")
                if same_values and shown != text:
                    fail(f"{where}: {value!r}, CSV {text!r}")
    if not all(seen.values()):
        fail(f"not every cell type was seen: {seen}")
    print(f"xlsx: {len(book.sheetnames) - 1} instrument sheets match the CSV export")


def main():
    kind, path, csv_dir, patients, same_values = sys.argv[1:6]
    check = {"odm": check_odm, "xlsx": check_xlsx}[kind]
    check(path, csv_dir, int(patients), same_values == "1")


if __name__ == "__main__":
    main()
