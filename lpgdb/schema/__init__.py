"""PG-Schema: the DDL language (parser.py, ast.py), resolution (resolve.py) into graph types
(graphtype.py, built from types.py and constraints.py) and, for the
engine, commit-time validation (validate.py, which asks the compiled commit check in fastpath.py
first), the vectorized validator of stored data and bulk loads (bulk.py) and schema inference
(infer.py).

``parse_schema(text, graph_type=None)`` is the entry point: DDL text -> resolved ``GraphType``.
"""
from __future__ import annotations

import functools
from typing import List, Optional, Tuple

from ..errors import InterfaceError, SemanticError
from ..values import plain
from .constraints import IndexSpec
from .graphtype import GraphType
from .resolve import resolve_schema
from .parser import parse_ddl

__all__ = ["parse_schema", "load", "key_specs", "GraphType", "IndexSpec"]


def parse_schema(text: str, graph_type: Optional[str] = None) -> GraphType:
    """Parse and check PG-Schema DDL; return the graph type named ``graph_type``, else the last one.

    Raises ``SchemaSyntaxError`` (does not parse) or ``SemanticError`` (parses but is wrong; ``.kind``
    says how, e.g. ``unknown_type_reference``, ``cyclic_type_reference``).
    """
    schema = parse_ddl(text)
    if graph_type is not None and type(graph_type) is not str:
        graph_type = plain(graph_type)
        if type(graph_type) is not str:
            raise InterfaceError(f"graph_type must be the name of a graph type (a str) or None, "
                                 f"not {type(graph_type).__name__}")
    try:
        return resolve_schema(schema, graph_type)
    except RecursionError:
        raise SemanticError("the schema is nested too deeply to resolve; simplify it",
                            kind="schema_too_complex") from None


@functools.lru_cache(maxsize=16)
def load(ddl: str, name: Optional[str] = None) -> GraphType:
    """The GraphType of stored schema text (what storage keeps: the DDL and the graph type's
    name), resolved once and cached: the same text gives the same object."""
    return parse_schema(ddl, name)


class KeySpecs(list):
    """The key specs of a schema (a list of ``IndexSpec``), and which user index each can serve."""

    def __init__(self, gt: GraphType):
        super().__init__(gt.index_specs())
        self._label_index = gt.label_index
        #: name -> (label, property) of each spec that holds exactly what a user index on
        #: ``label(property)`` would, on committed data (``GraphType.label_index``): storage
        #: reads such a key straight from the stored map, as it does a user index's
        self.plain = {}
        for spec in self:
            keys, label = spec.constraint.prop_keys, spec.label
            if label is not None and keys is not None and len(keys) == 1 \
                    and gt.label_index(label, keys) is spec:
                self.plain[spec.name] = (label, keys[0])

    def shared(self, label: str, props: Tuple[str, ...]) -> Optional[str]:
        """The name of the spec that holds exactly the nodes and keys a user index on
        ``label(props)`` would (``GraphType.label_index``), or None: storage then keeps one index
        for both (issue 11)."""
        spec = self._label_index(label, tuple(props))
        return None if spec is None else spec.name


@functools.lru_cache(maxsize=16)
def key_specs(ddl: str, name: Optional[str] = None) -> List[IndexSpec]:
    """What storage needs to index for stored schema text: one ``IndexSpec`` (``.name``,
    ``.key_of(labels, props)``) per EXCLUSIVE constraint over node properties, as a ``KeySpecs``
    list (``.shared(label, props)``). Storage keeps the text and these specs; it never holds the
    resolved graph type."""
    return KeySpecs(load(ddl, name))


def of(schema: Optional[Tuple[str, Optional[str]]]) -> Optional[GraphType]:
    """The GraphType of a storage view's ``schema`` ((ddl, name) or None)."""
    return None if schema is None else load(*schema)
