"""Load the PG-Schema conformance cases (shared/pgschema/cases) for the schema tests."""
import datetime as dt
import json

from tests.shared import SHARED


def load_cases():
    """All cases, or [] when shared/ is absent (the case tests then collect nothing, and
    test_parser.test_conformance_cases_are_present skips with the reason)."""
    folder = SHARED / "pgschema" / "cases"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) | {"file": p.name} for p in sorted(folder.glob("*.json"))]


def case_ids(cases):
    return [c["file"][:-5] for c in cases]


def decode_value(v):
    """A case's JSON value as the Python value lpgdb stores ({"$date": ...} etc.).

    A typed value that is not a valid value of its type (e.g. 2024-02-30) stays the string it is
    written as: that is what a loader without a date parser would store, and it must fail DATE."""
    if isinstance(v, dict) and len(v) == 1:
        (tag, text), = v.items()
        try:
            if tag == "$date":
                return dt.date.fromisoformat(text)
            if tag == "$datetime":
                return dt.datetime.fromisoformat(text)
            if tag == "$time":
                return dt.time.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(v, list):
        return [decode_value(i) for i in v]
    return v


def decode_props(props):
    return {k: decode_value(v) for k, v in (props or {}).items() if v is not None}


def edge_labels(e):
    if "labels" in e:
        return list(e["labels"])
    return [e["label"]] if e.get("label") is not None else []
