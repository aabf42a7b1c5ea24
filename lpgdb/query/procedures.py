"""Registry of procedures callable with ``CALL name(args) YIELD ...``.

Owns: procedure signatures (input and output names with types), registration, lookup and
argument coercion, and the built-in procedures (``BUILTINS``: ``db.labels()``,
``db.relationshipTypes()``, ``db.propertyKeys()``, ``db.indexes()``), which read the graph only
through the reader the query runs on (a Transaction, with its own writes, or a snapshot).  The
registry is process-wide: register a procedure once, call it from any database.  Its ``version``
changes on every (un)registration so cached query plans that depend on procedures are rebuilt.
Must not: know about clauses.

Types: INTEGER, FLOAT, NUMBER, STRING, BOOLEAN, LIST, MAP, ANY; a trailing ``?`` allows null.
A FLOAT input accepts an integer and receives it as a float.

>>> register_procedure("demo.double", [("x", "INTEGER?")], [("y", "INTEGER?")], lambda x: [(x * 2,)])
>>> get_procedure("demo.double").outputs
[('y', 'INTEGER?')]
>>> unregister_procedure("demo.double")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import InterfaceError
from ..values import kind
from .diagnostics import type_error
from .runtime import type_name

__all__ = ["Procedure", "register_procedure", "unregister_procedure", "get_procedure", "accepts"]

_KNOWN = {"INTEGER", "FLOAT", "NUMBER", "STRING", "BOOLEAN", "LIST", "MAP", "ANY"}


@dataclass(frozen=True)
class Procedure:
    name: str
    inputs: list     # [(name, type)]
    outputs: list    # [(name, type)]
    fn: Callable     # fn(*args) -> iterable of rows (tuples in output order, or dicts)
    reads_graph: bool = False   # a built-in: fn(reader, *args), the reader the query runs on


_REGISTRY: dict = {}
version = 0


def _check_sig(items, what):
    out = []
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise InterfaceError(f"procedure {what} must be (name, type) pairs, got {item!r}")
        name, typ = item
        if typ.rstrip("?").upper() not in _KNOWN:
            raise InterfaceError(f"unknown procedure type {typ!r}; use one of {sorted(_KNOWN)}")
        out.append((str(name), typ.upper()))
    return out


def register_procedure(name: str, inputs, outputs, fn: Callable) -> None:
    """Make ``CALL name(...)`` run ``fn``; replaces a procedure of the same name."""
    global version
    if not isinstance(name, str) or not name:
        raise InterfaceError("a procedure name must be a non-empty str")
    _REGISTRY[name] = Procedure(name, _check_sig(inputs, "inputs"), _check_sig(outputs, "outputs"), fn)
    version += 1


def unregister_procedure(name: str) -> None:
    global version
    _REGISTRY.pop(name, None)
    version += 1


def get_procedure(name: str) -> Optional[Procedure]:
    return _REGISTRY.get(name)


# a procedure signature's type -> the value kinds (lpgdb.values.kind, plus "map") it accepts;
# any other type name (ANY, NODE, ...) accepts every value
_ACCEPTS = {"INTEGER": ("int",), "FLOAT": ("float", "int"), "NUMBER": ("int", "float"), "STRING": ("str",),
            "BOOLEAN": ("bool",), "LIST": ("list",), "MAP": ("map",)}


def accepts(typ: str, static: str) -> bool:
    """Can a value of static type ``static`` (see semantic.py) be passed as ``typ``?"""
    base = typ.rstrip("?")
    if static in ("any",):
        return True
    if static == "null":
        return typ.endswith("?")
    return base == "ANY" or static in _ACCEPTS.get(base, (static,))


def coerce(proc: Procedure, args: list) -> list:
    out = []
    for (name, typ), v in zip(proc.inputs, args):
        base = typ.rstrip("?")
        if v is None:
            if not typ.endswith("?"):
                raise type_error(f"{proc.name}: argument '{name}' must not be null")
            out.append(None)
            continue
        if base in _ACCEPTS and ("map" if isinstance(v, dict) else kind(v)) not in _ACCEPTS[base]:
            raise type_error(f"{proc.name}: argument '{name}' expects {base}, got {type_name(v)}")
        out.append(float(v) if base == "FLOAT" else v)
    return out


# ---------------------------------------------------------------- built-ins
def _indexes(reader):
    for info in reader.indexes():
        user = info.kind == "user"
        yield ("_".join([info.label, *info.properties]) if user else None, "HASH", "NODE",
               [info.label] if info.label is not None else [], list(info.properties),
               None if user else info.constraint)


BUILTINS = {
    "db.labels": ([("label", "STRING")], lambda reader: [(x,) for x in reader.label_names()]),
    "db.relationshipTypes": ([("relationshipType", "STRING")],
                             lambda reader: [(x,) for x in reader.edge_label_names()]),
    "db.propertyKeys": ([("propertyKey", "STRING")], lambda reader: [(x,) for x in reader.property_keys()]),
    # SHOW INDEXES
    "db.indexes": ([("name", "STRING?"), ("type", "STRING"), ("entityType", "STRING"),
                    ("labelsOrTypes", "LIST"), ("properties", "LIST"), ("owningConstraint", "STRING?")], _indexes),
}
for _name, (_outputs, _fn) in BUILTINS.items():
    _REGISTRY[_name] = Procedure(_name, [], _check_sig(_outputs, "outputs"), _fn, reads_graph=True)
del _name, _outputs, _fn
