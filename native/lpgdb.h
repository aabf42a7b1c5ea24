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
/* Return freed heap memory to the operating system (malloc_trim on glibc; else nothing). */
void lpg_release_memory(void);

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
/* Write.  lpg_keyidx_put of the keys keys[koffs[i] .. koffs[i+1]) of the rows i with flags[i] == 1
 * (lpg_rows_key's output) for node first + i, under one lock, the table grown once; *done = the
 * keys put (all of them unless an error stops it).  O(n + key bytes) expected. */
int lpg_keyidx_put_many(lpg_keyidx *k, uint32_t index, const uint8_t *keys, size_t klen, const uint64_t *koffs,
                        const uint8_t *flags, size_t n, uint64_t first, uint64_t lsn, size_t *done);
/* Room for `extra` more keys without a rehash (one rebuild now instead of several during a batch
 * of puts).  LPG_ENOMEM leaves the index unchanged.  O(keys) when it rebuilds. */
int lpg_keyidx_reserve(lpg_keyidx *k, size_t extra);
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
/* ---------------------------------------------------------------------------------------------
 * Files (file.c): immutable, self-checking, memory-mapped.  Format: docs/storage.md, "On-disk
 * format 2".  The caller maps the file (Python, through storage/io.py) and keeps the mapping
 * alive as long as the handle.  Every function below treats the bytes as untrusted: anything
 * out of bounds, inconsistent or failing its CRC is LPG_ECORRUPT, and the thread's last
 * corruption (file tag, byte offset) can be read with lpg_last_corrupt.
 * Thread safety: reads of one file may run concurrently (block verification uses atomics).
 * ------------------------------------------------------------------------------------------- */
typedef struct lpg_file lpg_file;

/* [in] data/size: the whole mapped file (size from fstat, taken before mapping, so a truncated
 * file is refused here instead of faulting later); [in] tag: the caller's id for the file,
 * reported with corruption.  Checks magic, version, sizes, the header+table CRC, the CRC-table
 * CRC and every section's bounds; block CRCs are checked lazily.  [out] *out: owned by the
 * caller until lpg_file_free.  LPG_ECORRUPT, LPG_ENOMEM.  O(sections). */
int lpg_file_open(const uint8_t *data, uint64_t size, uint64_t tag, lpg_file **out);
void lpg_file_free(lpg_file *f);
/* [out] kind (1 partition, 2 key sub-index, 3 edge locator), keys, LSN, section count. */
int lpg_file_info(lpg_file *f, uint32_t *kind, uint64_t *key1, uint64_t *key2, uint64_t *lsn,
                  uint32_t *nsec);
/* Section i's (kind, a, b, offset, length).  LPG_EBOUNDS if i >= nsec. */
int lpg_file_section(lpg_file *f, uint32_t i, uint32_t *kind, uint32_t *a, uint32_t *b,
                     uint64_t *off, uint64_t *len);
/* Copy bytes [off, off+len) of the CRC-covered region after verifying their blocks. */
int lpg_file_read(lpg_file *f, uint64_t off, uint64_t len, uint8_t *out);
/* Verify every block's CRC (lpgdb verify).  O(file). */
int lpg_file_verify(lpg_file *f);
/* The calling thread's last LPG_ECORRUPT from a file: its tag (UINT64_MAX if none) and offset. */
int lpg_last_corrupt(uint64_t *tag, uint64_t *offset);
/* The canonical key bytes of a one-property index (records.key_bytes((value,))) read straight
 * from a stored msgpack property map: LPG_OK with *outlen bytes in out when the property is an
 * int or a str (stored in the canonical form already); LPG_ENOTFOUND when the map lacks it;
 * LPG_EINVAL when it holds another kind (the caller decodes and normalizes); LPG_ECORRUPT for a
 * malformed map; LPG_ETOOSMALL with *outlen.  O(len). */
int lpg_mp_key1(const uint8_t *props, size_t len, const uint8_t *name, size_t nlen, uint8_t *out,
                size_t cap, size_t *outlen);
/* The 64-bit hash of key bytes used by key sub-indexes (stable: it is on disk). */
uint64_t lpg_key_hash(const uint8_t *key, size_t len);

/* lpg_fb: a file builder.  Sections are appended, then lpg_fb_finish lays out the header,
 * section table and block CRCs and returns the image (valid until lpg_fb_free).  Checkpoints use
 * it through the lpg_store_build_* functions; a bulk loader may write partition files directly
 * with it (issue 11).  Not thread-safe (one builder, one thread). */
typedef struct lpg_fb lpg_fb;
int lpg_fb_new(uint32_t kind, uint64_t key1, uint64_t key2, uint64_t lsn, lpg_fb **out);
int lpg_fb_section(lpg_fb *fb, uint32_t kind, uint32_t a, uint32_t b, const uint8_t *data, size_t len);
int lpg_fb_finish(lpg_fb *fb, const uint8_t **data, size_t *len);
void lpg_fb_free(lpg_fb *fb);

/* ---------------------------------------------------------------------------------------------
 * lpg_store (store.c, build.c): one generation of the graph = base files + an LSN-stamped overlay
 * of the commits applied since they were written.  Node ids < node_base and edge ids < edge_base
 * are held by the base; newer ones only by the overlay.  Reads take a snapshot LSN `snap` and
 * merge both; writes (one writer) are stamped with the commit's LSN and take `floor`, the oldest
 * snapshot any reader may still use (versions older than needed there are freed).
 * Thread safety: a writer-preferring rwlock; reads shared, writes exclusive.  The files attached
 * must outlive the store.  dir: 0 out, 1 in, 2 both (a self-loop once); types/ntypes as for
 * lpg_adj (0 = any).  Output buffers: (out, cap, *count), LPG_ETOOSMALL with the size needed.
 * Node and edge reads return properties as one msgpack map (the bytes Python stored, or, for
 * base rows, assembled from the property columns); *len = its size (LPG_ETOOSMALL if > cap).
 * ------------------------------------------------------------------------------------------- */
typedef struct lpg_store lpg_store;
typedef struct lpg_kb lpg_kb;

int lpg_store_new(uint64_t node_base, uint64_t edge_base, lpg_store **out);
void lpg_store_free(lpg_store *s);
/* Attach a base file (by its kind and keys).  O(1): files are parsed on first use. */
int lpg_store_attach(lpg_store *s, lpg_file *f);
/* Attach a base file not opened yet, by the kind and keys its name gives: it is opened at its
 * first use through the Python callback lpg_open_file_cb(handle), which maps it and checks its
 * size and header (lpg_file_open); the opened file's kind and keys must match.  O(1). */
int lpg_store_attach_lazy(lpg_store *s, uint32_t kind, uint64_t key1, uint64_t key2, uint64_t handle);
/* Declare base hash index `index` split into 2^nsub_log sub-indexes (files attached or not). */
int lpg_store_key_index(lpg_store *s, uint32_t index, uint32_t nsub_log);
/* Base totals: live nodes per label id (index 0 = all nodes), live edges per type. */
int lpg_store_set_base_counts(lpg_store *s, const uint64_t *labels, size_t nlabels,
                              const uint64_t *types, size_t ntypes);
/* Dictionaries: label set id -> label ids (> 0); property key id (dense, in order) -> name. */
int lpg_store_set_labelset(lpg_store *s, uint32_t id, const uint32_t *labels, size_t n);
int lpg_store_set_propkey(lpg_store *s, uint32_t id, const uint8_t *name, size_t len);
int lpg_store_propkeys(lpg_store *s, uint32_t *n);
int lpg_store_propkey(lpg_store *s, uint32_t id, uint8_t *out, size_t cap, size_t *len);

/* Reads.  lpg_store_node/_node_lset/_edge: LPG_ENOTFOUND when not visible at snap.  O(1)
 * (plus O(log deg) for a base edge, O(property columns) for a base node). */
int lpg_store_node(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset, uint8_t *out, size_t cap,
                   size_t *len);
int lpg_store_node_lset(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset);
int lpg_store_edge(lpg_store *s, uint64_t snap, uint64_t eid, uint32_t *type, uint64_t *src, uint64_t *dst,
                   uint8_t *out, size_t cap, size_t *len);
/* Batched 1-hop (as lpg_adj_expand).  O(sum of degrees + overlay runs * log). */
int lpg_store_expand(lpg_store *s, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                     size_t ntypes, uint64_t snap, uint64_t *out_nbr, uint64_t *out_eid, uint32_t *out_from,
                     size_t cap, size_t *count);
int lpg_store_degree_many(lpg_store *s, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                          size_t ntypes, uint64_t snap, uint64_t *out);
/* Distinct nodes at the end of walks of exactly `hops` edges (as lpg_adj_count_reach). */
/* The degree of one node; LPG_ENOTFOUND if the node is not visible at snap (one call where
 * "is it there?" + "how many edges?" would take two).  O(deg). */
int lpg_store_degree1(lpg_store *s, uint64_t nid, int dir, const uint32_t *types, size_t ntypes,
                      uint64_t snap, uint64_t *out);
/* lpg_store_degree1 with the degree as the result (>= 0; degrees are < 2^40), or a negative
 * status (LPG_ENOTFOUND: nid is not a node at snap): the point path's one call, no out buffer. */
int64_t lpg_store_degree_of(lpg_store *s, uint64_t nid, int dir, const uint32_t *types, size_t ntypes,
                            uint64_t snap);
int lpg_store_count_reach(lpg_store *s, uint64_t seed, uint32_t hops, int dir, const uint32_t *types,
                          size_t ntypes, uint64_t snap, int exclude_seed, uint64_t *count);
/* Property `name` of each node nids[i] at snap, as one msgpack array (nil where the node or the
 * property is absent): the columnar read of a scan (W7's "age of every Person").  [out] *len
 * (LPG_ETOOSMALL with the size needed).  O(n) column reads; one lock. */
int lpg_store_prop_many(lpg_store *s, uint64_t snap, const uint64_t *nids, size_t n, const uint8_t *name,
                        size_t nlen, uint8_t *out, size_t cap, size_t *len);
/* Nodes of label (0 = all), ascending; O(base nodes of the label + overlay). */
int lpg_store_label_scan(lpg_store *s, uint32_t label, uint64_t snap, uint64_t *out, size_t cap,
                         size_t *count);
/* O(changed base nodes + overlay label versions). */
int lpg_store_label_count(lpg_store *s, uint32_t label, uint64_t snap, uint64_t *n);
int lpg_store_edge_scan(lpg_store *s, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *out,
                        size_t cap, size_t *count);
int lpg_store_edge_count(lpg_store *s, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *n);
/* Nodes under (index, key) at snap, ascending (base sub-index + overlay). */
int lpg_store_key_get(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                      uint64_t *out, size_t cap, size_t *count);
/* Which version of node nid a reader at snap sees: [out] *lset, and *ver = 0 for the base row
 * or the LSN of the overlay version (a version's content never changes, so (nid, ver) can key a
 * cache of decoded rows).  LPG_ENOTFOUND if not visible.  O(1), reads no property. */
int lpg_store_node_ver(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset, uint64_t *ver);
/* lpg_store_key_get, plus lpg_store_node_ver of the first node found (*ver = UINT64_MAX when
 * none): one call for the common "find by key, then read it". */
int lpg_store_key_node(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                       uint64_t *ids, size_t cap, size_t *count, uint32_t *lset, uint64_t *ver);
/* The point lookup: nodes under (index, [v]) at snap, v an int64 (kind 1, ival) or a UTF-8 string
 * (kind 2, str[0..slen)), the canonical key bytes built here as storage/records.key_bytes((v,))
 * builds them.  Returns the number of nodes n (>= 0; when n <= cap, out[0..n) ascending, else ask
 * again with cap >= n) or a negative status; info[0] = label set id and info[1] = version (as
 * lpg_store_node_ver; UINT64_MAX when none) of out[0].  One lock; O(1 + key size + n) expected. */
int64_t lpg_store_key1(lpg_store *s, uint32_t index, int kind, int64_t ival, const uint8_t *str, size_t slen,
                       uint64_t snap, uint64_t *out, size_t cap, uint64_t *info);
/* lpg_store_key1 of an int64 key value (kind 1): the hot point lookup with fewer arguments. */
int64_t lpg_store_key1i(lpg_store *s, uint32_t index, int64_t ival, uint64_t snap, uint64_t *out, size_t cap,
                        uint64_t *info);
/* A point read's projection (storage/view.py PointRead): the key index and the properties the
 * query returns, names[0..names_len) holding nnames names, each a uint32 length (native byte order)
 * and its UTF-8 bytes.  Built once per prepared point read; read-only afterwards. */
#define LPG_POINT_NAMES 13
typedef struct {
    uint32_t index;
    uint32_t nnames;               /* <= LPG_POINT_NAMES (an answer is one msgpack fixarray) */
    size_t names_len;
    const uint8_t *names;
} lpg_pointq;
/* What lpg_store_point1 answered, in a buffer of the calling thread (valid until its next call):
 * rc > 0: out[0..rc) is a msgpack array [node id, version, value of each name...] (nil for a
 * name the node does not hold), the one node holding the key and visible at snap; rc == 0: no
 * node holds it; LPG_ETOOSMALL: the caller takes its general path (several nodes hold it, the
 * reader does not see the one that does, or a named value is not an int, float, bool or str:
 * the caller decodes and checks those); else a negative status. */
typedef struct {
    int64_t rc;
    const uint8_t *out;
} lpg_point_res;
/* lpg_store_key1 and, when one node holds the key, its row projected in C onto q's names, under
 * one lock: the miss of a point read written as a query, with no property map handed to Python.
 * The key is [v] (kind 1: ival; kind 2: the UTF-8 string str[0..slen)).
 * O(1 + key size + row size + row properties x names) expected. */
const lpg_point_res *lpg_store_point1(lpg_store *s, const lpg_pointq *q, int kind, int64_t ival,
                                      const uint8_t *str, size_t slen, uint64_t snap);
/* lpg_store_point1 of an int64 key value (kind 1): the hot miss with fewer arguments. */
const lpg_point_res *lpg_store_point1i(lpg_store *s, const lpg_pointq *q, int64_t ival, uint64_t snap);
/* The point lookup of lpg_store_key1 answered in its return value, with no out buffer: when
 * exactly one node holds key [v] (v = ival, or the UTF-8 string str[0..slen)), its id if the
 * version a reader at snap sees is its base row (lpg_store_node_ver's ver 0), or its id +
 * LPG_KEY_ID_OVERLAY if that is an overlay version (ask lpg_store_node_ver for it);
 * LPG_ENOTFOUND when no node holds it; LPG_ETOOSMALL when several do (ask lpg_store_key1);
 * else a negative status.  O(1 + key size) expected: the hot path of a snapshot's key_lookup
 * (storage/view.py, PinnedReads). */
#define LPG_KEY_ID_OVERLAY 1099511627776
int64_t lpg_store_key_id_int(lpg_store *s, uint32_t index, int64_t ival, uint64_t snap);
int64_t lpg_store_key_id_str(lpg_store *s, uint32_t index, const uint8_t *str, size_t slen, uint64_t snap);
/* Whether lpg_store_key1 of [v] at snap would find exactly the one node nid at version ver (nid ==
 * UINT64_MAX: no node): 1 yes, 0 no, or a negative status.  The check behind an answer kept for a
 * key (storage/view.py PointRead): no output buffer. v an int64 (key1i_is) or UTF-8 (key1s_is). */
int64_t lpg_store_key1i_is(lpg_store *s, uint32_t index, uint64_t snap, int64_t ival, uint64_t nid, uint64_t ver);
int64_t lpg_store_key1s_is(lpg_store *s, uint32_t index, uint64_t snap, const uint8_t *str, size_t slen,
                           uint64_t nid, uint64_t ver);
int lpg_store_key_first_many(lpg_store *s, uint32_t index, const uint8_t *keys, size_t keys_len,
                             const uint64_t *offsets, size_t n, uint64_t snap, int64_t *out);
/* The schema fast path's key check of a commit's new rows (schema/fastpath.py), in one call:
 * the canonical key of property `name` of each row r whose tag[r] has mask[tag[r]] set (as
 * lpg_rows_key makes it; n rows blob[offs[r] .. offs[r+1]), offs with n + 1 entries) must be
 * unique among the rows and held by no node visible at snap under `index` (base files and
 * overlay, as lpg_store_key_first_many).  *verdict: LPG_KEYS_FRESH (0) all unique and unheld;
 * LPG_KEYS_TWICE two rows share a key; LPG_KEYS_HELD a key is held at snap (perhaps by a node
 * the caller rewrites: it decides); LPG_KEYS_PYTHON a value C does not canonicalise, or NaN.
 * LPG_EINVAL for a malformed blob or offsets (lpg_rows_check), LPG_ECORRUPT from a damaged file.
 * O(bytes + keys) expected. */
#define LPG_KEYS_FRESH 0
#define LPG_KEYS_TWICE 1
#define LPG_KEYS_HELD 2
#define LPG_KEYS_PYTHON 3
int lpg_store_keys_fresh(lpg_store *s, uint32_t index, uint64_t snap, const uint8_t *blob, size_t blen,
                         const uint64_t *offs, size_t n, const uint32_t *tag, const uint8_t *mask, size_t nmask,
                         const uint8_t *name, size_t nlen, int *verdict);

/* Writes (the single writer).  lset UINT32_MAX deletes the node.  New edges become readable at
 * lpg_store_commit_end (once per commit).  LPG_EINVAL for an unknown label set, a stale lsn, or
 * an edge update that does not match the edge; LPG_ENOTFOUND deleting a missing edge. */
int lpg_store_node_put(lpg_store *s, uint64_t nid, uint32_t lset, const uint8_t *props, size_t len,
                       uint64_t lsn, uint64_t floor);
/* node_put for n nodes (property maps blob[offs[i]..offs[i+1])) under one lock: a commit's
 * node writes in one call.  Stops at the first error (the caller poisons: apply failed). */
int lpg_store_node_put_many(lpg_store *s, size_t n, const uint64_t *nids, const uint32_t *lsets,
                            const uint8_t *blob, size_t blob_len, const uint64_t *offs, uint64_t lsn,
                            uint64_t floor);
/* key_put of n (key, node) pairs of one index under one lock. */
int lpg_store_key_put_list(lpg_store *s, uint32_t index, size_t n, const uint8_t *keys, size_t keys_len,
                           const uint64_t *offs, const uint64_t *nodes, uint64_t lsn);
int lpg_store_nodes_bulk(lpg_store *s, uint64_t first, size_t n, const uint32_t *lsets, const uint8_t *blob,
                         size_t blob_len, const uint64_t *offs, uint64_t lsn);
int lpg_store_edge_put(lpg_store *s, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst,
                       const uint8_t *props, size_t len, uint64_t lsn, uint64_t floor);
/* edge_put for n edges (property maps blob[offs[i]..offs[i+1])) under one lock: a commit's run of
 * edge writes in one call.  Stops at the first error (the caller poisons: apply failed). */
int lpg_store_edge_put_many(lpg_store *s, size_t n, const uint64_t *eids, const uint32_t *types,
                            const uint64_t *srcs, const uint64_t *dsts, const uint8_t *blob, size_t blob_len,
                            const uint64_t *offs, uint64_t lsn, uint64_t floor);
int lpg_store_edges_bulk(lpg_store *s, uint64_t first, size_t n, const uint32_t *types, const uint64_t *srcs,
                         const uint64_t *dsts, const uint8_t *blob, size_t blob_len, const uint64_t *offs,
                         uint64_t lsn);
int lpg_store_edge_del(lpg_store *s, uint64_t eid, uint64_t lsn);
int lpg_store_commit_end(lpg_store *s, uint64_t lsn, uint64_t floor);
int lpg_store_key_put(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                      uint64_t lsn);
int lpg_store_key_del(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                      uint64_t lsn);
/* A base entry of (index, key) went stale (its node changed): its sub-index is rewritten at the
 * next checkpoint. */
int lpg_store_key_base_dead(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen);
int lpg_store_key_drop(lpg_store *s, uint32_t index);
/* [out] *out = 1 if base node nid (< node_base) was changed in the overlay. */
int lpg_store_touched(lpg_store *s, uint64_t nid, int *out);

/* Checkpoint support.  kind 1: dirty partitions, 3: dirty edge-id ranges. */
int lpg_store_dirty(lpg_store *s, int kind, uint32_t *out, size_t cap, size_t *count);
int lpg_store_mem(lpg_store *s, uint64_t *bytes);
int lpg_store_check(lpg_store *s);
/* Add every property key name the overlay uses to the dictionary (before building). */
int lpg_store_register_keys(lpg_store *s);
/* The merged image of partition p (nslots node slots) / edge-id range q at snap.  Memory:
 * O(that partition / range).  [out] *out: a finished-able builder, freed by the caller. */
int lpg_store_build_part(lpg_store *s, uint64_t snap, uint32_t p, uint64_t nslots, lpg_fb **out);
int lpg_store_build_eloc(lpg_store *s, uint64_t snap, uint32_t q, uint64_t nslots, lpg_fb **out);
/* The same with the entries of a streamed bulk load's spill (storage/stream.py) added after the
 * base's and the overlay's.  xhandle != 0: at the start of direction d (0 out, 1 in) the records
 * of partition p in that direction are asked for through lpg_spill_cb(xhandle, d, ...) (a
 * callback defined by the Python side, so that one direction's records are in memory at a
 * time), in edge-id order, each
 *     slot u32 | type u32 | neighbour u64 | edge id u64 | plen u32 | plen bytes (a msgpack map)
 * (little-endian, unaligned; plen is 0 in direction 1).  Every record is checked: slot < nslots,
 * neighbour < node_hi, edge_base <= edge id < 2^40, ids ascending per slot, the map well formed
 * (LPG_ECORRUPT, no file tag).  Memory: O(the partition + one direction's records). */
int lpg_store_build_part_x(lpg_store *s, uint64_t snap, uint32_t p, uint64_t nslots, uint64_t xhandle,
                           uint64_t node_hi, lpg_fb **out);
/* (Before the adjacency, lpg_store_build_part_x asks for direction 2: the partition's streamed
 * nodes, each slot u32 | label set u32 | plen u32 | plen bytes (a msgpack map), slots ascending;
 * a record's node takes its slot in place of the base's.) */
/* Edge ids x_first .. x_first + xlen / 12 - 1 taken from x: src u64 | type u32 per edge (src <
 * node_hi, else LPG_ECORRUPT), in place of the overlay's. */
int lpg_store_build_eloc_x(lpg_store *s, uint64_t snap, uint32_t q, uint64_t nslots, uint64_t x_first,
                           const uint8_t *x, size_t xlen, uint64_t node_hi, lpg_fb **out);
/* Add the property key names of n msgpack maps (blob[offs[i] .. offs[i+1])) to the dictionary. */
int lpg_store_register_rows(lpg_store *s, const uint8_t *blob, size_t blob_len, const uint64_t *offs, size_t n);
/* lpg_spill: a streamed bulk load's edges routed into per-partition buffers (records as for
 * lpg_store_build_part_x, packed (lpg_spill_unpack): by source partition in direction 0, with the
 * properties, by target partition in direction 1) and the edge-locator stream (direction 2: src u64 | type u32 per
 * edge), which the caller appends to its spill file and clears.  Not thread-safe. */
typedef struct lpg_spill lpg_spill;
int lpg_spill_new(lpg_spill **out);
void lpg_spill_free(lpg_spill *sp);
/* Route edges first .. first + n - 1 (types[i], src[i], dst[i] < 2^40; properties blob[offs[i] ..
 * offs[i+1]), offs checked against blob_len). */
int lpg_spill_edges(lpg_spill *sp, uint64_t first, size_t n, const uint32_t *types, const uint64_t *src,
                    const uint64_t *dst, const uint8_t *blob, size_t blob_len, const uint64_t *offs);
/* Nodes first .. first + n - 1 (label set ids lsets[i], properties blob[offs[i] .. offs[i+1])) into
 * their partitions' node buffers (direction 2). */
int lpg_spill_nodes(lpg_spill *sp, uint64_t first, size_t n, const uint32_t *lsets, const uint8_t *blob,
                    size_t blob_len, const uint64_t *offs);
/* Key entries of index `index` (node first + i has key keys[koffs[i] .. koffs[i+1]) where flags[i])
 * into the key stream (direction 4): index u32 | klen u32 | node u64 | key bytes. */
int lpg_spill_keys(lpg_spill *sp, uint32_t index, uint64_t first, size_t n, const uint8_t *keys, size_t keys_len,
                   const uint64_t *koffs, const uint8_t *flags);
/* [out] *bytes: bytes buffered; *nparts: 1 + the largest partition routed to. */
int lpg_spill_size(lpg_spill *sp, uint64_t *bytes, uint32_t *nparts);
/* The buffer of (partition p, direction d): d 0 out, 1 in, 2 nodes; d 3 the edge-locator stream
 * and d 4 the key stream (p ignored): valid until lpg_spill_clear or the next lpg_spill_*.
 * *unpacked: its size once unpacked (lpg_spill_unpack). */
int lpg_spill_buffer(lpg_spill *sp, uint32_t p, uint32_t d, const uint8_t **data, size_t *len, size_t *unpacked);
/* Empty every buffer (their memory is kept for the next records). */
int lpg_spill_clear(lpg_spill *sp);
/* The edge records of directions 0 and 1 are buffered packed (varints: slot | type | neighbour |
 * edge id minus the previous record's in the buffer | plen, then the properties).  Unpack n
 * bytes of one buffer's contents (d 0/1; d 2-4 are copied as they are) into exactly cap bytes of
 * records as lpg_store_build_part_x reads them.  LPG_ECORRUPT (no file tag, the offset in `in`)
 * for anything malformed or a size that is not cap. */
int lpg_spill_unpack(uint32_t d, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
/* Key builder: the overlay entries of one index at snap, collected once; then one image per
 * sub-index (2^nsub_log of them, nsub_log >= the base's), and the sub-indexes that changed. */
int lpg_kb_new(lpg_store *s, uint64_t snap, uint32_t index, uint32_t nsub_log, lpg_kb **out);
/* The same plus a streamed load's spilled key entries x (records as lpg_spill_keys writes them;
 * those of other indexes skipped; node < node_hi, else LPG_ECORRUPT): x must outlive the builder. */
int lpg_kb_new_x(lpg_store *s, uint64_t snap, uint32_t index, uint32_t nsub_log, const uint8_t *x, size_t xlen,
                 uint64_t node_hi, lpg_kb **out);
int lpg_kb_dirty(lpg_kb *kb, uint32_t *out, size_t cap, size_t *count);
int lpg_kb_sub(lpg_kb *kb, uint32_t sub, lpg_fb **out, uint64_t *entries);
void lpg_kb_free(lpg_kb *kb);
/* [out] *n = overlay entries collected; lpg_kb_resplit: build with 2^nsub_log sub-indexes
 * (never fewer than before).  For sizing the split before building. */
int lpg_kb_overlay(lpg_kb *kb, uint64_t *n);
int lpg_kb_resplit(lpg_kb *kb, uint32_t nsub_log);
/* ---------------------------------------------------------------------------------------------
 * Ingest (csv.c, ingest.c; issue 11): CSV to typed columns in Apache Arrow's layout, ID-space
 * maps, and typed columns to per-row property maps.  Not thread-safe per object (one loader).
 * ------------------------------------------------------------------------------------------- */
/* Column kinds of the CSV parser. */
#define LPG_COL_SKIP 0
#define LPG_COL_STR 1
#define LPG_COL_INT 2
#define LPG_COL_FLOAT 3
#define LPG_COL_BOOL 4
#define LPG_COL_CHAR 5
#define LPG_COL_DICT 6
#define LPG_COL_ID 7
#define LPG_COL_REF 8
/* What was wrong with the input (lpg_csv_error's `what`). */
#define LPG_CSVE_UNCLOSED 1
#define LPG_CSVE_AFTER_QUOTE 2
#define LPG_CSVE_WIDTH 3
#define LPG_CSVE_UTF8 4
#define LPG_CSVE_INT 5
#define LPG_CSVE_RANGE 6
#define LPG_CSVE_FLOAT 7
#define LPG_CSVE_BOOL 8
#define LPG_CSVE_CHAR 9
#define LPG_CSVE_EMPTY_ID 10
#define LPG_CSVE_DUP_ID 11
#define LPG_CSVE_NO_ID 12
#define LPG_CSVE_INT_ID 13

/* lpg_idmap: an ID space, key -> u64 (the loader's row number).  integer: keys are int64 (text
 * is parsed as an integer), else UTF-8 text.  O(1) expected per put/get. */
typedef struct lpg_idmap lpg_idmap;
int lpg_idmap_new(int integer, lpg_idmap **out);
void lpg_idmap_free(lpg_idmap *m);
int lpg_idmap_size(lpg_idmap *m, uint64_t *n);
int lpg_idmap_integer(lpg_idmap *m, int *integer);
/* Whole columns: kind LPG_COL_INT (int64 vals) or LPG_COL_STR (int64 offsets[n+1] + data).
 * put: cell i -> base + i; get: out[i] = value of cell i.  Bad input: LPG_EINVAL with the row
 * and an LPG_CSVE_* code (and, for a duplicate, *aux = the value already held). */
int lpg_idmap_put_column(lpg_idmap *m, int kind, const uint8_t *valid, const uint8_t *vals, size_t vals_len,
                         const uint8_t *data, size_t data_len, size_t n, uint64_t base, size_t *bad_row,
                         int *what, uint64_t *aux);
int lpg_idmap_get_column(lpg_idmap *m, int kind, const uint8_t *valid, const uint8_t *vals, size_t vals_len,
                         const uint8_t *data, size_t data_len, size_t n, uint64_t *out, size_t *bad_row,
                         int *what);

/* lpg_csv: records of buf -> one output column per header column (kinds[ncols], LPG_COL_*).
 * ID / REF columns need a map (lpg_csv_set_map).  Each lpg_csv_parse call parses from pos up
 * to max_rows records, replacing the outputs (valid until the next call); *next is where to go
 * on.  LPG_EINVAL with lpg_csv_error set for bad input.  O(bytes). */
typedef struct lpg_csv lpg_csv;
int lpg_csv_new(uint32_t ncols, const uint8_t *kinds, uint8_t delim, uint8_t quote, lpg_csv **out);
void lpg_csv_free(lpg_csv *c);
int lpg_csv_set_map(lpg_csv *c, uint32_t col, lpg_idmap *m);
/* The line number of buf[pos] at the next parse, and the ID value of its first row. */
int lpg_csv_set_position(lpg_csv *c, uint64_t line, uint64_t row_base);
int lpg_csv_parse(lpg_csv *c, const uint8_t *buf, size_t len, size_t pos, size_t max_rows, size_t *next,
                  size_t *rows);
int lpg_csv_error(lpg_csv *c, int *what, uint64_t *line, uint32_t *column, uint64_t *off, uint64_t *len,
                  uint64_t *aux);
int lpg_csv_line(lpg_csv *c, uint64_t *line);
/* Start line of each row of the last parse. */
int lpg_csv_lines(lpg_csv *c, const uint64_t **lines, size_t *n);
/* Output buffers of a column (Arrow layout; see csv.c). */
int lpg_csv_column(lpg_csv *c, uint32_t col, const uint8_t **valid, const uint8_t **vals, size_t *vals_len,
                   const uint8_t **data, size_t *data_len);
/* An INT column's rows of the last parse whose value is above INT64_MAX (their values hold the
 * uint64 bits), ascending. */
int lpg_csv_big(lpg_csv *c, uint32_t col, const uint64_t **rows, size_t *n);
/* A DICT column's distinct values so far: entry e is data[offs[e] .. offs[e+1]). */
int lpg_csv_dict(lpg_csv *c, uint32_t col, const int64_t **offs, size_t *n, const uint8_t **data,
                 size_t *data_len);

/* Column kinds of lpg_rows_pack. */
#define LPG_PK_INT 1
#define LPG_PK_UINT 2
#define LPG_PK_FLOAT 3
#define LPG_PK_BOOL 4
#define LPG_PK_STR 5
#define LPG_PK_BYTES 6
#define LPG_PK_MSGPACK 7
#define LPG_PK_DATE 8
/* n rows' property maps from ncols typed columns (names: UTF-8, name c at
 * names[name_offs[c] .. name_offs[c+1])); offsets[c]: the column's first element; valid[c]
 * may be NULL (all present).  Buffer lengths are checked before anything is read.  [out] an
 * lpg_rows: blob + offsets[n+1] (lpg_rows_get), freed by lpg_rows_free. */
typedef struct lpg_rows lpg_rows;
int lpg_rows_pack(size_t n, uint32_t ncols, const uint8_t *kinds, const uint8_t *names, size_t names_len,
                  const uint64_t *name_offs, const uint64_t *offsets, const uint8_t *const *valid,
                  const uint64_t *valid_lens, const uint8_t *const *vals, const uint64_t *vals_lens,
                  const uint8_t *const *data, const uint64_t *data_lens, lpg_rows **out);
int lpg_rows_get(lpg_rows *r, const uint8_t **blob, size_t *len, const uint64_t **offs, size_t *n);
void lpg_rows_free(lpg_rows *r);
/* Columnar bulk ops (records.NODES_COLS / EDGES_COLS): every row blob[offs[r] .. offs[r+1]) is
 * empty or exactly one msgpack map, inside the blob.  LPG_OK or LPG_ECORRUPT.  O(bytes). */
int lpg_rows_check(const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n);
/* The largest of n little-endian unsigned integers of `width` bytes (4 or 8) at a (0 for n = 0):
 * the range checks of a columnar op's arrays before it is logged.  O(n). */
uint64_t lpg_umax(const void *a, size_t n, int width);
/* The canonical key bytes (records.key_bytes) of property `name` of the rows whose label set
 * lset[r] has mask[lset[r]] set: flags[r] = 0 no key (not masked, or no value), 1 key in *out's
 * row r, 2 a value this does not canonicalise (Python does it), 3 NaN.  Every row is checked as
 * lpg_rows_check does, in the same pass (LPG_ECORRUPT).  O(bytes). */
int lpg_rows_key(const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n, const uint32_t *lset,
                 const uint8_t *mask, size_t nmask, const uint8_t *name, size_t nlen, uint8_t *flags,
                 lpg_rows **out);
/* lpg_store_key_put of key r (keys[koffs[r] .. koffs[r+1])) for node first + r, for each r
 * with flags[r] == 1. */
int lpg_store_key_put_many(lpg_store *s, uint32_t index, const uint8_t *keys, size_t klen, const uint64_t *koffs,
                           const uint8_t *flags, size_t n, uint64_t first, uint64_t lsn);
/* Whole-graph reads (scan.c): nodes ids[0..n) at snap in one call: lsets[i] (UINT32_MAX when
 * not visible) and the property maps in *out (an lpg_rows, row i empty when absent); edges
 * likewise with types[i] (UINT32_MAX when not visible), srcs[i], dsts[i].  LPG_ECORRUPT from a
 * damaged file.  O(n) store reads, one lock each. */
int lpg_store_nodes_read(lpg_store *s, uint64_t snap, const uint64_t *ids, size_t n, uint32_t *lsets,
                         lpg_rows **out);
int lpg_store_edges_read(lpg_store *s, uint64_t snap, const uint64_t *ids, size_t n, uint32_t *types,
                         uint64_t *srcs, uint64_t *dsts, lpg_rows **out);
/* Row grouping (scan.c): rows numbered by signature (tag, then each map entry's key and value
 * class; an int's class is the interval between the ascending cuts[0..ncuts) that holds it,
 * ncuts <= 250), groups numbered in order of first appearance across calls; *ngroups the count
 * so far.  lpg_groups_triples numbers (a[r], map[b[r]], map[c[r]]) (UINT32_MAX past map_len).
 * lpg_groups_rows checks the blob as lpg_rows_check (LPG_ECORRUPT).  O(bytes); memory
 * O(distinct signatures).  lpg_u32_scatter: map[ids[i]] = vals[i]; lpg_u32_gather: out[i] = map[idx[i]]
 * (both LPG_EBOUNDS past map_len). */
typedef struct lpg_groups lpg_groups;
int lpg_groups_new(const int64_t *cuts, size_t ncuts, lpg_groups **out);
void lpg_groups_free(lpg_groups *g);
int lpg_groups_rows(lpg_groups *g, const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n,
                    const uint32_t *tag, uint32_t *gid, uint32_t *ngroups);
int lpg_groups_triples(lpg_groups *g, size_t n, const uint32_t *a, const uint64_t *b, const uint64_t *c,
                       const uint32_t *map, size_t map_len, uint32_t *gid, uint32_t *ngroups);
/* Keys as groups: gid[r] numbers keys[koffs[r] .. koffs[r+1]) for the rows with flags[r] == 1
 * (UINT32_MAX for the others), as lpg_rows_key gives them; a key seen before (in any call) gets
 * its first number, so a key held twice is a group that does not grow the count. */
int lpg_groups_keys(lpg_groups *g, const uint8_t *keys, size_t klen, const uint64_t *koffs, const uint8_t *flags,
                    size_t n, uint32_t *gid, uint32_t *ngroups);
int lpg_u32_scatter(uint32_t *map, size_t map_len, const uint64_t *ids, const uint32_t *vals, size_t n);
int lpg_u32_gather(const uint32_t *map, size_t map_len, const uint32_t *idx, size_t n, uint32_t *out);
/* cffi:end */

#endif /* LPGDB_H */
