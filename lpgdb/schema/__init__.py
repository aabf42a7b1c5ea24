"""PG-Schema: the DDL language (parser.py, ast.py), resolved graph types (graphtype.py) and, for the
engine, commit-time validation (validate.py) and schema inference (infer.py).

``parse_schema(text, graph_type=None)`` is the entry point: DDL text -> resolved ``GraphType``.
"""
from __future__ import annotations

from typing import Optional

from ..errors import SemanticError
from .graphtype import GraphType, IndexSpec, resolve_schema
from .parser import parse_ddl

__all__ = ["parse_schema", "GraphType", "IndexSpec"]


def parse_schema(text: str, graph_type: Optional[str] = None) -> GraphType:
    """Parse and check PG-Schema DDL; return the graph type named ``graph_type``, else the last one.

    Raises ``SchemaSyntaxError`` (does not parse) or ``SemanticError`` (parses but is wrong; ``.kind``
    says how, e.g. ``unknown_type_reference``, ``cyclic_type_reference``).
    """
    schema = parse_ddl(text)
    try:
        return resolve_schema(schema, graph_type)
    except RecursionError:
        raise SemanticError("the schema is nested too deeply to resolve; simplify it",
                            kind="schema_too_complex") from None
