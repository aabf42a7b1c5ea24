"""A streamed bulk load: a columnar load of any size committed as ONE bulk attach (attach.py),
each partition file written once, in bounded memory.

Why (docs/storage.md "Streamed bulk loads")
    A bulk attach applies the whole load to the overlay and builds the files it touches from it,
    so memory grows with the load (about 130 bytes an edge); committing a big load in pieces
    instead rewrites every partition a piece's random edges touch, once per piece.  Here the
    edges never enter the overlay: as each batch arrives they are routed (native/build.c,
    ``lpg_spill``) into per-partition runs (by source partition with their properties for the
    out-adjacency, by target partition for the in-adjacency) and an edge-locator stream,
    buffered in C and appended to ONE spill file in tmp/ whenever ``budget`` bytes are buffered.
    At the commit each partition file is built once by the checkpoint's builder from its base
    file, the overlay (the load's nodes) and its spill runs (``lpg_store_build_part_x``), each
    edge-locator file from its stream, then the load is committed by one ATTACH record exactly
    like ``Engine._attach``.

    The nodes go to the overlay at LSN base + 1 (never published, as in ``_attach``): they arrive
    in id order and are small next to the edges; their key index entries go with them.

Memory: the parse buffer + ``budget`` + the nodes' overlay; at the commit (the buffers freed by
``seal``) one partition's spill runs and its image.  Disk: about 60 bytes an edge plus its properties, in tmp/ (removed on
success and failure; a crash leaves it to the next writer open, which empties tmp/).

Spill file: chunks appended at ``end``; ``chunks[(p, d)]`` = [(offset, length, crc32c,
unpacked length)] in order (d 0/1: partition p's edge runs, packed by C: about half the bytes of
the records the builder reads, ``core.spill_unpack``; d 2: its nodes; d 3: the edge-locator
records of edge-id range p; d 4 the index keys).  Every
chunk is CRC-checked when read back (CorruptionError), and the C builders check every record.
"""
from __future__ import annotations

import os
import uuid
from array import array
from typing import Optional

from .. import core
from ..errors import CorruptionError, InternalError
from . import io
from .records import EDGES_COLS, NODES_COLS

#: bytes of spill records buffered in memory before they are appended to the spill file
BUDGET = 16 << 20
_READ = 1 << 20          # the spill is read back in reads of this size


class Stream:
    """The streamed bulk load of one transaction (``Engine.stream_begin``); the caller holds the
    writer lock from ``stream_begin`` to ``Engine.commit_stream`` or ``abort``."""

    def __init__(self, engine, budget: int = BUDGET):
        self.engine = engine
        self.state = engine.state
        self.base = self.state.base_lsn
        self.budget = max(1 << 10, int(budget))
        self.path = os.path.join(engine.path, "tmp", f"spill-{uuid.uuid4().hex}")
        self.fd: Optional[int] = None
        self.end = 0
        self.chunks: dict = {}
        self.spill = core.Spill()
        self.x_first: Optional[int] = None      # the first edge id routed
        self.edges = 0
        self.tcounts: dict = {}                 # type id -> edges routed
        self.lcounts: dict = {}                 # label id (0: every node) -> nodes routed
        self.touched = False                    # anything taken (the catalog changed)
        self.open = True

    # -- loading ----------------------------------------------------------------------------------
    def add(self, ops: list) -> None:
        """Take the columnar bulk ops ``ops`` (NODES_COLS / EDGES_COLS, each checked by
        ``prepare`` as a commit's would be): nodes into the overlay, edges into the spill.
        Each op is dropped from ``ops`` once taken."""
        if not self.open or self.engine.state is not self.state:
            raise InternalError("a streamed bulk load was used after it ended; this is a bug")
        st = self.state
        while ops:
            op = ops.pop(0)
            if not isinstance(op, list) or not op or op[0] not in (NODES_COLS, EDGES_COLS):
                raise InternalError("a streamed bulk load was given an op that is not columnar; this is a bug")
            plan = st.prepare([op])
            self.touched = True
            if op[0] == NODES_COLS:
                self._route_nodes(op, plan[0])
            else:
                self._route(op, plan[0])
            del op, plan

    def _route_nodes(self, op, step) -> None:
        first, lsets, blob = op[1], op[2], op[4]
        idx, offs, keys = step
        n = len(idx)
        if not n:
            return
        cat = self.state.catalog
        if first != cat.next_node_id:
            raise InternalError(f"a streamed bulk load's nodes are not consecutive ({first}); this is a bug")
        ids = [cat.labelset_id(frozenset(ls)) for ls in lsets]
        lsids = core.u32_take(ids, idx)
        for k, c in enumerate(_row_counts(idx, n, len(ids))):
            if c:
                for lid in [0] + [cat.label_id(name) for name in lsets[k]]:
                    self.lcounts[lid] = self.lcounts.get(lid, 0) + c
        self.state.store.register_rows(blob, offs)
        self.spill.nodes(first, lsids, blob, offs)
        if keys:
            by_ident = {s.ident: s.index_id for s in cat.all_specs()}
            for ident, kb, koffs, flags in keys:
                self.spill.keys(by_ident[ident], first, kb, koffs, flags)
        cat.next_node_id = first + n
        if self.spill.size()[0] >= self.budget:
            self.flush()

    def _route(self, op, step) -> None:
        first, lsets, blob = op[1], op[2], op[6]
        idx, srcs, dsts, offs = step
        n = len(idx)
        if not n:
            return
        if self.x_first is None:
            self.x_first = first
        if first != self.x_first + self.edges:
            raise InternalError(f"a streamed bulk load's edges are not consecutive ({first}); this is a bug")
        cat = self.state.catalog
        tids = [cat.type_id(frozenset(ls)) for ls in lsets]
        types = core.u32_take(tids, idx)
        for t, c in zip(tids, _row_counts(idx, n, len(tids))):
            if c:
                self.tcounts[t] = self.tcounts.get(t, 0) + c
        self.state.store.register_rows(blob, offs)
        self.spill.edges(first, types, srcs, dsts, blob, offs)
        self.edges += n
        if first + n > cat.next_edge_id:
            cat.next_edge_id = first + n
        if self.spill.size()[0] >= self.budget:
            self.flush()

    def flush(self) -> None:
        """Append every buffered run to the spill file (one chunk per partition and direction;
        the edge-locator records split at edge-id range boundaries) and empty the buffers."""
        nbytes, nparts = self.spill.size()
        if not nbytes:
            return
        if self.fd is None:
            self.fd = io.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | io.NOFOLLOW, 0o600)
        for p in range(nparts):
            for d in (0, 1, 2):
                self._put((p, d), *self.spill.buffer(p, d))
        self._put((0, 4), *self.spill.buffer(0, 4))
        el = self.spill.buffer(0, 3)[0]
        eid = self.x_first + self.edges - len(el) // 12 if self.edges else 0   # the buffer's first edge
        pos = 0
        while pos < len(el):
            q = eid >> core.ELOC_SHIFT
            take = min(len(el) - pos, (((q + 1) << core.ELOC_SHIFT) - eid) * 12)
            self._put((q, 3), el[pos:pos + take], take)
            pos += take
            eid += take // 12
        self.spill.clear()

    def seal(self) -> None:
        """The last flush before the build: every buffered record goes to the spill file and
        the C buffers (kept between flushes, up to ``budget`` bytes and more) are freed, so
        the partition builds that follow have that memory."""
        self.flush()
        self.spill.close()

    def _put(self, key, data, unpacked: int) -> None:
        n = len(data)
        if not n:
            return
        io.pwrite(self.fd, data, self.end)
        self.chunks.setdefault(key, []).append((self.end, n, core.crc32c(data), unpacked))
        self.end += n

    def _read(self, key) -> bytes:
        """The records of ``key``'s chunks, unpacked, in order.  Each chunk is read into one
        buffer reused for the next and unpacked by C into the result."""
        chunks = self.chunks.get(key)
        if not chunks:
            return b""
        out = bytearray(sum(c[3] for c in chunks))
        view = memoryview(out)
        d = key[1]
        pos = 0
        scratch = bytearray(max(c[1] for c in chunks))
        sview = memoryview(scratch)
        try:
            for off, n, crc, unpacked in chunks:
                got = 0
                while got < n:                    # 1 MiB reads: no chunk-sized temporary copy
                    data = io.pread(self.fd, min(_READ, n - got), off + got)
                    if not data:
                        break
                    sview[got:got + len(data)] = data
                    got += len(data)
                if got != n or core.crc32c(sview[:n]) != crc:
                    raise CorruptionError("a bulk load's spill file is damaged (a chunk fails its checksum); "
                                          "the load was not committed: run it again", path=self.path, offset=off)
                try:
                    core.spill_unpack(d, sview[:n], view[pos:pos + unpacked])
                except core.Corrupt as e:
                    raise self.corruption(core.Corrupt(e.what, None, off + e.offset)) from None
                pos += unpacked
        finally:
            sview.release()
            view.release()
        return out

    # -- building (checkpoint.build_files) -------------------------------------------------------
    def parts(self) -> set:
        return {p for p, d in self.chunks if d < 3}

    def elocs(self) -> set:
        return {q for q, d in self.chunks if d == 3}

    def part_runs(self, p: int):
        """None, or the reader of partition ``p``'s records: ``runs(d)`` reads direction d's
        (0 out, 1 in, 2 nodes; Store.build_part asks for each when it needs it: one is in
        memory at a time)."""
        if not any((p, d) in self.chunks for d in (0, 1, 2)):
            return None
        core.release_memory()      # what the previous partition's build freed goes back first
        return lambda d: self._read((p, d))

    def eloc_run(self, q: int):
        """(first edge id, records) of edge-id range ``q``, or None."""
        if (q, 3) not in self.chunks:
            return None
        return max(self.x_first, q << core.ELOC_SHIFT), self._read((q, 3))

    def key_run(self):
        """The spilled key entries of every index (the key builder takes its own), or None."""
        return self._read((0, 4)) if (0, 4) in self.chunks else None

    def type_count(self, t: int) -> int:
        return self.tcounts.get(t, 0)

    def label_count(self, lid: int) -> int:
        return self.lcounts.get(lid, 0)

    def corruption(self, e: core.Corrupt) -> CorruptionError:
        return CorruptionError(f"{e.what}: a bulk load's spill file holds a malformed record; the load "
                               f"was not committed: run it again", path=self.path, offset=e.offset)

    # -- the end ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the spill file and free the buffers (after the commit or the abort).  A spill
        file that cannot be removed is removed at the next writer open (tmp/ is emptied)."""
        self.open = False
        self.spill.close()
        fd, self.fd = self.fd, None
        if fd is not None:
            for step in (lambda: io.close(fd), lambda: io.unlink(self.path, missing_ok=True)):
                try:
                    step()
                except Exception:      # noqa: BLE001 - tmp/ is emptied at the next writer open
                    pass


def _row_counts(idx, n: int, kinds: int) -> list:
    """How many of the ``n`` rows name each of ``kinds`` entries (``idx``: each row's entry).
    O(n * kinds); one kind needs no pass."""
    if kinds == 1:
        return [n]
    rows = array("I", idx)
    return [rows.count(k) for k in range(kinds)]
