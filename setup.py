"""Build script: the only non-declarative part is the cffi C core (native/)."""
from setuptools import setup

setup(
    packages=["lpgdb", "lpgdb.storage", "lpgdb.schema", "lpgdb.query", "lpgdb.cli", "lpgdb.grammar"],
    package_dir={"lpgdb.grammar": "grammar"},
    package_data={"lpgdb": ["py.typed"], "lpgdb.grammar": ["*.lark"]},
    cffi_modules=["native/build_ffi.py:ffibuilder"],
    zip_safe=False,
)
