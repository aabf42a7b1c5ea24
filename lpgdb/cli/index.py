"""``lpgdb index list|create|drop``: the hash indexes (user ones and those schema KEYs provide)."""
from __future__ import annotations

import argparse

from .common import CliError, add_timeout, open_db


def cmd_index(a: argparse.Namespace) -> int:
    if a.action == "list":
        with open_db(a.db, readonly=True) as db:
            infos = db.indexes()
        for i in infos:
            on = f"{i.label if i.label is not None else '-'}({', '.join(i.properties)})"
            if i.kind == "user":
                print(f"{on}  user index")
            elif i.label is not None:
                print(f"{on}  from the schema: {i.constraint}")
            else:
                print(f"{on}  from the schema, enforcing only (no label's lookups are exact through it): "
                      f"{i.constraint}")
        if not infos:
            print("no indexes")
        return 0
    if not a.label or not a.properties:
        raise CliError(f"give a label and at least one property, e.g. lpgdb index {a.action} DB Person id",
                       status=2)
    with open_db(a.db, timeout=a.timeout, readonly_flag=None) as db:
        if a.action == "create":
            db.create_index(a.label, *a.properties)
            print(f"index {a.label}({', '.join(a.properties)}) created")
        else:
            db.drop_index(a.label, *a.properties)
            print(f"index {a.label}({', '.join(a.properties)}) dropped")
    return 0


def register(sub) -> None:
    s = sub.add_parser("index", help="list, create or drop hash indexes")
    s.add_argument("action", choices=["list", "create", "drop"])
    s.add_argument("db")
    s.add_argument("label", nargs="?")
    s.add_argument("properties", nargs="*", metavar="property")
    add_timeout(s)
    s.set_defaults(func=cmd_index)
