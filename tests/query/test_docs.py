"""The doctests of the query-facing modules run as written."""
import doctest

import pytest

import lpgdb.query.procedures
import lpgdb.result
import lpgdb.cli.output
import lpgdb.cli.shell


@pytest.mark.parametrize("module", [lpgdb.result, lpgdb.cli.shell, lpgdb.cli.output, lpgdb.query.procedures])
def test_doctests(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
