"""Semantic checks placeholder."""
from . import ast as A


def check(q):
    out = []
    return out
