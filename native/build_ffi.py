"""cffi builder for lpgdb._native (out-of-line API mode), used by setup.py's cffi_modules.

The cdef is the block between the cffi:begin / cffi:end markers of native/lpgdb.h, so the
header is the single source of truth.  Every native/*.c file is compiled in.
"""
import glob
import os
import re

from cffi import FFI

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)


def _cdef() -> str:
    with open(os.path.join(_HERE, "lpgdb.h"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"/\* cffi:begin \*/(.*?)/\* cffi:end \*/", text, re.S)
    if not m:
        raise RuntimeError("native/lpgdb.h has no cffi:begin/cffi:end block")
    return m.group(1)


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
# the opener of lazily attached base files (store.c calls it at a file's first use; core.py)
ffibuilder.cdef('extern "Python+C" int lpg_open_file_cb(uint64_t handle, lpg_file **out);')
# a streamed bulk load's spill records, one direction at a time (build.c asks; core.py reads)
ffibuilder.cdef('extern "Python+C" int lpg_spill_cb(uint64_t handle, uint32_t d, const uint8_t **data, '
                'size_t *len);')
ffibuilder.set_source(
    "lpgdb._native",
    '#include "lpgdb.h"',
    # paths relative to the repository root, as setuptools runs from there
    sources=sorted(os.path.relpath(p, _ROOT) for p in glob.glob(os.path.join(_HERE, "*.c"))),
    include_dirs=["native"],
    libraries=["pthread"],
    extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror=int-conversion",
                        "-Werror=incompatible-pointer-types", "-Werror=implicit-function-declaration"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
