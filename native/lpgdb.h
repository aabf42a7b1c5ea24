/*
 * lpgdb.h -- the C API of lpgdb's native core.
 *
 * The block between the cffi:begin and cffi:end markers is, verbatim, the cdef handed to cffi by
 * native/build_ffi.py: it is the single source of truth for the binding.  Keep it to plain
 * declarations and integer #defines that both a C compiler and cffi's parser accept.
 *
 * Conventions (STYLE.md §D):
 *   - every function that can fail returns an int status: LPG_OK (0) or a negative LPG_E* code;
 *     results go through out-parameters; lpg_strerror(code) gives the text;
 *   - every pointer/length pair and every id handed in is checked; nothing here aborts or prints;
 *   - long-lived structures come from lpg_<area>_new() and are released by lpg_<area>_free();
 *   - the GIL is released around these calls, so each structure does its own locking.
 */
#ifndef LPGDB_H
#define LPGDB_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */
#define LPG_OK 0
#define LPG_EINVAL -1
#define LPG_EBOUNDS -2
#define LPG_ENOMEM -3
#define LPG_ECORRUPT -4
#define LPG_ETOOSMALL -5
#define LPG_ENOTFOUND -6
#define LPG_EEXIST -7

/* Text of a status code; never NULL, static storage. */
const char *lpg_strerror(int code);

/* CRC32C (Castagnoli), as in iSCSI/ext4/LevelDB.  crc32c("123456789") == 0xE3069283.
 * [in] crc: running value (0 to start); [in] buf/len: bytes (buf may be NULL iff len == 0).
 * Uses SSE4.2 when the CPU has it, else a slicing-by-8 table.  O(len).  Thread-safe. */
uint32_t lpg_crc32c(uint32_t crc, const uint8_t *buf, size_t len);
/* ---------------------------------------------------------------------------------------------
 * Multi-version indexes (adj.c, keyidx.c, labelidx.c).
 *
 * Every entry carries LSNs `begin` and `end`; it is visible to a reader at snapshot `snap` iff
 * begin <= snap < end.  A live entry has end == UINT64_MAX.  `lsn` arguments of writes must be
 * < UINT64_MAX (else LPG_EINVAL).  Node and edge ids must be < 2^40 (else LPG_EBOUNDS); memory
 * is O(largest id), as ids are dense.
 * Thread safety: each structure holds a writer-preferring pthread rwlock.  Functions marked
 * "read" take it shared and may run concurrently from any number of threads; "write" functions
 * take it exclusively.  new/free are not synchronised: free only when no call is in flight.
 * Output buffers: (out, cap, *count); when cap is too small the call returns LPG_ETOOSMALL and
 * sets *count to the size needed (nothing else is guaranteed about the buffer's content).
 * ------------------------------------------------------------------------------------------- */

/* lpg_adj: edges (immutable type/src/dst + begin/end) and adjacency per direction, each a CSR
 * base plus a per-node delta.  dir: 0 = out, 1 = in, 2 = both (a self-loop is reported once).
 * types/ntypes: edge type filter, ntypes == 0 means any type (types may then be NULL);
 * ntypes <= 2^20.  E = edges held (live or not yet collected), N = largest node id + 1. */
typedef struct lpg_adj lpg_adj;

/* [out] *out: a new empty structure, owned by the caller until lpg_adj_free.  LPG_ENOMEM. */
int lpg_adj_new(lpg_adj **out);
/* Frees a (NULL is fine).  No call may be in flight on it. */
void lpg_adj_free(lpg_adj *a);
/* Write.  Adds edge eid (type, src -> dst) visible from lsn.  LPG_EEXIST if eid is held (live
 * or not yet collected), LPG_EBOUNDS for ids >= 2^40, LPG_EINVAL for lsn == UINT64_MAX,
 * LPG_ENOMEM.  Amortised O(1) (appends to the delta). */
int lpg_adj_add(lpg_adj *a, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst, uint64_t lsn);
/* Write.  Adds n edges at once, all or nothing (same errors as lpg_adj_add, also for a
 * duplicate eid inside the batch).  When n is large against the edges held, the CSR base is
 * rebuilt directly with the new edges folded in (counting sort, O(E + N + n)); otherwise the
 * edges go to the delta, O(n). */
int lpg_adj_add_many(lpg_adj *a, const uint64_t *eids, const uint32_t *types, const uint64_t *srcs,
                     const uint64_t *dsts, size_t n, uint64_t lsn);
/* Write.  Ends the live edge eid at lsn (stamps `end`; entries stay until lpg_adj_gc).
 * LPG_ENOTFOUND if eid is not live, LPG_EINVAL if lsn < its begin.  O(1). */
int lpg_adj_remove(lpg_adj *a, uint64_t eid, uint64_t lsn);
/* Read.  [out] type/src/dst of eid if visible at snap, else LPG_ENOTFOUND.  O(1). */
int lpg_adj_get(lpg_adj *a, uint64_t eid, uint64_t snap, uint32_t *type, uint64_t *src, uint64_t *dst);
/* Read.  Batched lpg_adj_get: for each eids[i] visible at snap, out_type[i] = its type and
 * out_src/out_dst[i] its endpoints; else out_type[i] = -1 (and src/dst 0).  Any id >= 2^40 gives
 * LPG_EBOUNDS before anything is written.  O(n). */
int lpg_adj_get_many(lpg_adj *a, const uint64_t *eids, size_t n, uint64_t snap, int64_t *out_type,
                     uint64_t *out_src, uint64_t *out_dst);
/* Read.  1-hop expansion of the frontier nodes[0..n): for every visible edge of a wanted type
 * incident to nodes[i] in direction dir, writes the neighbour, the edge id and i (n < 2^32).
 * Per node: CSR base entries, then delta entries (for dir 2: out then in).  Unknown node ids
 * (< 2^40) have no edges.  [out] *count: entries written, or needed on LPG_ETOOSMALL.
 * O(sum of degrees of the frontier). */
int lpg_adj_expand(lpg_adj *a, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                   size_t ntypes, uint64_t snap, uint64_t *out_nbr, uint64_t *out_eid,
                   uint32_t *out_from, size_t cap, size_t *count);
/* Read.  out[i] = number of visible edges of nodes[i] (as lpg_adj_expand would list them).
 * O(sum of degrees). */
int lpg_adj_degree_many(lpg_adj *a, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                        size_t ntypes, uint64_t snap, uint64_t *out);
/* Read.  [out] *count = number of distinct nodes at the end of walks of exactly `hops` edges
 * from seed (hops <= 2^20; hops == 0 gives {seed}), without the seed if exclude_seed.
 * Walks may reuse an edge, but for hops == 2 a reused edge can only lead back to the seed, so
 * with exclude_seed this is the number of distinct endpoints, other than the seed, of
 * edge-distinct (Cypher) 2-edge paths.  Uses a per-thread visited array of N stamps.
 * O(sum of degrees of the nodes visited). */
int lpg_adj_count_reach(lpg_adj *a, uint64_t seed, uint32_t hops, int dir, const uint32_t *types,
                        size_t ntypes, uint64_t snap, int exclude_seed, uint64_t *count);
/* Read.  Ids of all visible edges of the wanted types, ascending.  O(E). */
int lpg_adj_scan(lpg_adj *a, const uint32_t *types, size_t ntypes, uint64_t snap,
                 uint64_t *out_eid, size_t cap, size_t *count);
/* Read.  [out] *n = number of visible edges of the wanted types.  O(E). */
int lpg_adj_count(lpg_adj *a, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *n);
/* Write.  Physically drops every edge with end <= min_snap (its id may then be added again),
 * and advances the visibility watermark to min_snap, so later reads at snap >= min_snap decide
 * visibility of edges begun by then from bitmaps alone.  Call only when no reader uses a
 * snapshot older than min_snap.  O(E + N) when something is dropped, O(E / 64 + recent edges)
 * otherwise. */
int lpg_adj_gc(lpg_adj *a, uint64_t min_snap);
/* Write.  Folds every delta into the CSR bases.  Readers wait on the lock.  O(E + N). */
int lpg_adj_compact(lpg_adj *a);
/* Read.  [out] held: edges held (live or awaiting gc); delta: entries in the per-node deltas
 * of both directions (what lpg_adj_compact would fold); nodes: N; bytes: heap bytes owned
 * (approximate: excludes allocator overhead).  Any out pointer may be NULL.  O(N). */
int lpg_adj_stats(lpg_adj *a, uint64_t *held, uint64_t *delta, uint64_t *nodes, uint64_t *bytes);
/* Read.  Verifies every invariant (see adj.c); LPG_OK or LPG_ECORRUPT.  O(E + N). */
int lpg_adj_check(lpg_adj *a);

/* lpg_keyidx: hash index (index id u32, key bytes) -> node ids, versioned.  Keys are opaque byte
 * strings (Python's canonical msgpack) of at most LPG_KEY_MAX bytes (else LPG_EBOUNDS); key may
 * be NULL iff klen == 0.  Several nodes may share a key; per (key, node) at most one live
 * version.  Open addressing with linear probing, load factor <= 1/2, so a probe costs O(1 + klen)
 * expected.  K = distinct (index, key) pairs held, S = table slots (<= 4K after growth). */
#define LPG_KEY_MAX 65536
typedef struct lpg_keyidx lpg_keyidx;

/* [out] *out: a new empty index, owned by the caller until lpg_keyidx_free.  LPG_ENOMEM. */
int lpg_keyidx_new(lpg_keyidx **out);
/* Frees k (NULL is fine).  No call may be in flight on it. */
void lpg_keyidx_free(lpg_keyidx *k);
/* Write.  Adds node under (index, key) visible from lsn.  LPG_EEXIST if that node already has a
 * live version under the key; LPG_EINVAL if lsn == UINT64_MAX or lsn is before the end of the
 * node's previous version; LPG_EBOUNDS for node >= 2^40 or klen > LPG_KEY_MAX.  O(1 + klen +
 * log(versions of the key)) expected, amortised, plus a memmove of the versions of larger
 * node ids when node is not the largest under the key. */
int lpg_keyidx_put(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                   uint64_t lsn);
/* Write.  Ends the live version of node under (index, key) at lsn.  LPG_ENOTFOUND if none;
 * LPG_EINVAL if lsn is before its begin.  O(1 + klen + log(versions)) expected. */
int lpg_keyidx_del(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                   uint64_t lsn);
/* Read.  Nodes visible at snap under (index, key), ascending.  [out] *count (needed
 * size on LPG_ETOOSMALL); 0 when the key is absent.  O(1 + klen + versions) expected. */
int lpg_keyidx_get(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                   uint64_t *out, size_t cap, size_t *count);
/* Read.  Batched probe: key i is keys[offsets[i] .. offsets[i+1]) (offsets non-decreasing,
 * offsets[n] <= keys_len, else LPG_EBOUNDS and out is unspecified); out[i] = the smallest node
 * visible at snap under (index, key i), or -1.  O(n + total key bytes) expected. */
int lpg_keyidx_get_first_many(lpg_keyidx *k, uint32_t index, const uint8_t *keys, size_t keys_len,
                              const uint64_t *offsets, size_t n, uint64_t snap, int64_t *out);
/* Write.  Physically removes every key of `index` (all versions).  O(S). */
int lpg_keyidx_drop(lpg_keyidx *k, uint32_t index);
/* Write.  Physically drops versions with end <= min_snap, and keys left without versions.
 * O(S + versions). */
int lpg_keyidx_gc(lpg_keyidx *k, uint64_t min_snap);
/* Read.  [out] *n = number of (index, key) pairs held (with any version).  O(1). */
int lpg_keyidx_size(lpg_keyidx *k, uint64_t *n);
/* Read.  Verifies every invariant (see keyidx.c); LPG_OK or LPG_ECORRUPT.  O(S + versions). */
int lpg_keyidx_check(lpg_keyidx *k);

/* lpg_labels: label id -> set of node ids, versioned.  Label ids must be < LPG_LABEL_CAP and
 * node ids < 2^40 (else LPG_EBOUNDS).  Per label, nodes live in pages of 1024 consecutive ids;
 * each page is an array of versions sorted by (node, begin).  A node has at most one live
 * version per label.  M = versions held for the label, P = 1024 (page span). */
#define LPG_LABEL_CAP 16777216
typedef struct lpg_labels lpg_labels;

/* [out] *out: a new empty label index, owned by the caller until lpg_labels_free.  LPG_ENOMEM. */
int lpg_labels_new(lpg_labels **out);
/* Frees l (NULL is fine).  No call may be in flight on it. */
void lpg_labels_free(lpg_labels *l);
/* Write.  Puts node in label from lsn.  LPG_EEXIST if it has a live version; LPG_EINVAL if
 * lsn == UINT64_MAX or lsn is before the end of the node's previous version.  O(log P + page
 * size) (one memmove inside a page). */
int lpg_labels_add(lpg_labels *l, uint32_t label, uint64_t node, uint64_t lsn);
/* Write.  lpg_labels_add for nodes[0..n), all or nothing: LPG_EEXIST (or LPG_EINVAL) if any
 * node could not be added alone, or appears twice in the batch; space is reserved before the
 * first insert, so LPG_ENOMEM changes nothing either.  O(n log n + pages touched * page size);
 * ascending fresh nodes append at page ends. */
int lpg_labels_add_many(lpg_labels *l, uint32_t label, const uint64_t *nodes, size_t n, uint64_t lsn);
/* Write.  Ends the live version of node in label at lsn.  LPG_ENOTFOUND if none; LPG_EINVAL if
 * lsn is before its begin.  O(log P). */
int lpg_labels_remove(lpg_labels *l, uint32_t label, uint64_t node, uint64_t lsn);
/* Read.  Nodes of label visible at snap, ascending.  [out] *count (needed size on
 * LPG_ETOOSMALL).  An unknown label is empty.  O(M + pages). */
int lpg_labels_scan(lpg_labels *l, uint32_t label, uint64_t snap, uint64_t *out, size_t cap,
                    size_t *count);
/* Read.  [out] *n = number of nodes of label visible at snap.  O(1) when snap is at or after
 * every change of the label and nothing was removed since the last gc, else O(M + pages). */
int lpg_labels_count(lpg_labels *l, uint32_t label, uint64_t snap, uint64_t *n);
/* Read.  [out] *out = 1 if node is in label at snap, else 0.  O(log P). */
int lpg_labels_has(lpg_labels *l, uint32_t label, uint64_t node, uint64_t snap, int *out);
/* Write.  Physically drops versions with end <= min_snap.  O(all versions + pages). */
int lpg_labels_gc(lpg_labels *l, uint64_t min_snap);
/* Read.  Verifies every invariant (see labelidx.c); LPG_OK or LPG_ECORRUPT. */
int lpg_labels_check(lpg_labels *l);
/* cffi:end */

#endif /* LPGDB_H */
