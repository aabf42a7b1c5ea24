"""Adapter registry: each file ``bench/adapters/<name>_adapter.py`` that defines ``ADAPTER`` (a
subclass of ``base.Adapter``) is a system the harness can run as ``<name>`` or
``<name>@<variant>``.

Invariant: an adapter module imports its engine only inside the adapter's ``__init__``, and
this registry imports an adapter module only when that system is selected, so a missing
engine breaks nothing but its own column.
"""
from __future__ import annotations

import importlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def available() -> list[str]:
    """Names of all adapters, from the file names."""
    return sorted(f[: -len("_adapter.py")] for f in os.listdir(_HERE) if f.endswith("_adapter.py"))


def resolve(spec: str):
    """'name' or 'name@variant' -> (adapter class, a fresh copy of the variant's options).

    Raises:
        KeyError: no such adapter or variant.
    """
    name, _, variant = spec.partition("@")
    if name not in available():
        raise KeyError(f"no adapter {name!r}; available: {', '.join(available())}")
    cls = importlib.import_module(f"{__name__}.{name}_adapter").ADAPTER
    if not variant:
        return cls, {}
    if variant not in cls.variants:
        raise KeyError(f"{name} has no variant {variant!r}; it has {sorted(cls.variants)}")
    return cls, dict(cls.variants[variant])
