/*
 * part.h -- internal: decoded views of the three file kinds (part.c), used by store.c/build.c.
 *
 * A view is parsed lazily, once, on the first access to its file (part_get & co. in store.c):
 * parsing verifies only the blocks holding the section headers, so opening a database touches no
 * file at all.  Every accessor bounds-checks indexes against the decoded counts, and every
 * decoded value that is used as an index elsewhere (an entry offset, a heap offset, a label set
 * id) is checked before use: file bytes are untrusted (LPG_ECORRUPT).
 */
#ifndef LPGDB_PART_H
#define LPGDB_PART_H

#include "fmt.h"
#include "mpack.h"

typedef struct {
    uint32_t vkind;            /* V_* */
    pcol present;              /* width-1 column over the rows */
    pcol vals;                 /* V_INT, V_BOOL: the values; STR/BYTES/MSGPACK: offsets[rows+1] */
    uint64_t f64_off;          /* V_FLOAT: file offset of f64[rows] */
    uint64_t heap_off, heap_len;   /* heap kinds */
    uint64_t rows;
} pprop;

typedef struct {
    uint32_t type, dir;
    pcol eoff;                 /* n + 1 entry offsets, non-decreasing (checked per read) */
    pcol eid, nbr;             /* nent each */
    uint64_t nent;
    pprop *props;              /* dir 0 only: EPROP columns of this type */
    uint32_t *prop_keys;
    uint32_t nprops;
} pcsr;

typedef struct {
    lpg_file *f;
    uint64_t n;                /* node slots */
    pcol labelset, flags;
    pcsr *csr;
    uint32_t ncsr;
    pprop *nprops;
    uint32_t *nprop_keys;
    uint32_t nnprops;
    pcol *lbits;               /* label bitmaps */
    uint32_t *lbl;             /* their label ids */
    uint32_t nlbl;
} part;

typedef struct {
    lpg_file *f;
    pcol src, type;            /* ELOC_SLOTS or fewer rows */
} eloc;

typedef struct {
    lpg_file *f;
    uint64_t count;
    uint64_t hash_off;         /* u64 hash[count] */
    pcol node, koff;
    uint64_t heap_off, heap_len;
    uint32_t dbits;
    uint64_t dir_off;          /* u32 dir[2^dbits + 1] */
    uint32_t nsub_log, sub;
} ksub;

int part_parse(lpg_file *f, part *pt);
void part_release(part *pt);
int eloc_parse(lpg_file *f, eloc *e);
int ksub_parse(lpg_file *f, ksub *k);

/* The CSR of (type, dir), or NULL. */
const pcsr *part_csr(const part *pt, uint32_t type, uint32_t dir);
/* Entries [*lo, *hi) of slot i (i < pt->n) in c; checks lo <= hi <= nent. */
int csr_range(const pcsr *c, uint64_t i, uint64_t *lo, uint64_t *hi);
/* Position of eid among entries [lo, hi) (ascending), or -1. */
int csr_find(const pcsr *c, uint64_t lo, uint64_t hi, uint64_t eid, int64_t *pos);

/* Row `row` of a property column: *present, and the value as an mval (payload pointers into the
 * mapping). */
int prop_get(const pprop *pp, uint64_t row, int *present, mval *v);

/* Node slot i: *exists (flags bit 0) and *lset. */
int part_node(const part *pt, uint64_t i, int *exists, uint32_t *lset);
/* Append the msgpack map of the node at slot i (keys named through `names`). */
typedef struct {
    const uint8_t **name;      /* property key id -> UTF-8 name */
    uint32_t *len;
    uint32_t n;
} keynames;
int part_emit_node_props(const part *pt, uint64_t i, const keynames *kn, buf *out);
int csr_emit_edge_props(const pcsr *c, uint64_t entry, const keynames *kn, buf *out);

/* Probe a key sub-index: call back for each entry with this hash and key bytes (node ids). */
int ksub_lookup(const ksub *k, uint64_t h, const uint8_t *key, size_t klen,
                int (*cb)(void *ctx, uint64_t node), void *ctx);

#endif /* LPGDB_PART_H */
