"""LadybugDB (``pip install ladybug``), the maintained fork of Kùzu: same Cypher dialect and
Python API under the module name ``ladybug``.  Everything is inherited from the Kùzu adapter;
only the module and file names differ.  Ladybug's ``execute(query_string, params)`` caches
prepared statements, unlike Kùzu 0.11's (W3u shows it).

Kùzu and LadybugDB cannot be imported into the same process (their pybind11 types collide);
the harness runs every system in its own child process, so this never happens.
"""
from __future__ import annotations

from .kuzu_adapter import KuzuAdapter


class LadybugAdapter(KuzuAdapter):
    name = "ladybug"
    module_name = "ladybug"
    db_filename = "graph.lbug"
    variants = {"literal": {"inline_keys": True}}

    def version(self):
        v = getattr(self.mod, "__version__", "?")
        try:
            storage = self.mod.Database.get_storage_version()
        except Exception:
            storage = "?"
        return f"{self.module_name} {v} (storage version {storage}, pybind backend)"


ADAPTER = LadybugAdapter
