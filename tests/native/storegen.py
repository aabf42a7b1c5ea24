"""Test helper: drive a core.Store like the engine does, with checkpoints into new generations.

``Gen`` is one generation (a Store over files held in memory); ``checkpoint(gen, snap, ...)``
builds the files a checkpoint would write (every dirty partition / edge range / key sub-index)
and returns the next generation over them.  Files are kept as bytes (tests mutate them).
"""
from __future__ import annotations

import msgpack

from lpgdb import core

PART, ELOC = core.PART_SHIFT, core.ELOC_SHIFT


def pack(props: dict) -> bytes:
    return msgpack.packb(props, use_bin_type=True) if props else b""


def unpack(buf) -> dict:
    return msgpack.unpackb(bytes(buf), raw=False, strict_map_key=False) if len(buf) else {}


class Gen:
    def __init__(self, node_base, edge_base, labelsets, propkeys, files, key_index, counts):
        self.store = core.Store(node_base, edge_base)
        self.files = dict(files)          # name -> bytes
        self.key_index = dict(key_index)  # index -> nsub_log
        for i, ls in enumerate(labelsets):
            self.store.set_labelset(i, ls)
        for i, k in enumerate(propkeys):
            self.store.set_propkey(i, k)
        self.handles = []
        for name, data in self.files.items():
            f = core.File(data, len(self.handles))
            self.handles.append(f)
            self.store.attach(f)
        for index, nsub in self.key_index.items():
            self.store.key_index(index, nsub)
        self.store.set_base_counts(*counts)


def checkpoint(gen: Gen, snap: int, next_node: int, next_edge: int, labelsets, label_ids, types,
               indexes, key_nsub=None) -> Gen:
    """The next generation: every dirty file rebuilt at ``snap`` (the writer's applied LSN)."""
    s = gen.store
    s.register_keys()
    files = dict(gen.files)
    for p in s.dirty(core.KIND_PART):
        fb = s.build_part(snap, p, min(1 << PART, next_node - (p << PART)))
        files[f"part-{p}"] = bytes(fb.image())
    for q in s.dirty(core.KIND_ELOC):
        fb = s.build_eloc(snap, q, min(1 << ELOC, next_edge - (q << ELOC)))
        files[f"eloc-{q}"] = bytes(fb.image())
    key_index = {}
    for index in indexes:
        old = gen.key_index.get(index)
        nsub = (key_nsub or {}).get(index, old or 0)
        kb = s.key_builder(snap, index, nsub)
        subs = range(1 << nsub) if old != nsub else kb.dirty()
        if old != nsub:
            for name in [n for n in files if n.startswith(f"key-{index}-")]:
                del files[name]
        for sub in subs:
            fb, n = kb.sub(sub)
            name = f"key-{index}-{sub}"
            if n:
                files[name] = bytes(fb.image())
            else:
                files.pop(name, None)
        key_index[index] = nsub
    lcounts = [s.label_count(lid, snap) for lid in range(max(label_ids, default=0) + 1)]
    tcounts = [s.edge_count([t], snap) for t in range(len(types))]
    return Gen(next_node, next_edge, labelsets, s.propkeys(), files, key_index, (lcounts, tcounts))


def recrc(data: bytes) -> bytes:
    """The same file with every CRC recomputed (to fuzz the structural checks behind the CRCs)."""
    import struct
    b = bytearray(data)
    data_end, = struct.unpack_from("<Q", b, 56)
    nsec, = struct.unpack_from("<I", b, 76)
    nblocks = (data_end + 65535) >> 16
    for i in range(nblocks):
        lo, hi = i << 16, min((i + 1) << 16, data_end)
        if i == 0:
            c = core.crc32c(bytes(b[88:hi]), core.crc32c(bytes(8), core.crc32c(bytes(b[0:80]))))
        else:
            c = core.crc32c(bytes(b[lo:hi]))
        struct.pack_into("<I", b, data_end + 4 * i, c)
    struct.pack_into("<I", b, 80, core.crc32c(bytes(b[data_end:data_end + 4 * nblocks])))
    table_end = 128 + 32 * nsec
    h = core.crc32c(bytes(b[88:table_end]), core.crc32c(bytes(4), core.crc32c(bytes(b[0:84]))))
    struct.pack_into("<I", b, 84, h)
    return bytes(b)
