/*
 * store.h -- internal: the lpg_store structure shared by store.c (reads, writes) and build.c
 * (checkpoint merges).  See store.c for the layout and the invariants.
 */
#ifndef LPGDB_STORE_H
#define LPGDB_STORE_H

#include <pthread.h>
#include "lpgdb.h"
#include "vec.h"
#include "part.h"

#define NV_DELETED UINT32_MAX
#define NT_SHIFT 40
#define NT_MASK ((1ULL << NT_SHIFT) - 1)
#define MAX_RUNS 48

/* a node version (overlay); lset NV_DELETED marks a deletion */
typedef struct nver {
    struct nver *prev;       /* older version, or NULL */
    uint64_t begin;          /* commit LSN */
    uint32_t lset;           /* label set id, or NV_DELETED */
    uint32_t len;            /* property bytes (msgpack map; 0 = no properties) */
    uint32_t arena;          /* 1: lives in a bulk arena (freed with the store, never alone) */
    uint8_t props[];         /* at offsetof(nver, props) == 28: versions are allocated from there */
} nver;

/* an edge-property version (overlay) */
typedef struct ever {
    struct ever *prev;
    uint64_t begin;
    uint32_t len;
    uint32_t arena;          /* 1: lives in a bulk arena (freed with the store, never alone) */
    uint8_t props[];
} ever;

/* u64 -> u64 open-addressing map without deletion (load <= 1/2) */
typedef struct {
    uint64_t *k;             /* keys; EMPTY_KEY = free */
    uint64_t *v;
    size_t cap, n;
} u64map;
#define EMPTY_KEY UINT64_MAX

/* a base node changed in the overlay */
typedef struct {
    nver *chain;             /* newest first; its oldest version's begin is when it was touched */
    uint32_t base_lset;      /* the node's label set in the base, NV_DELETED if not live there */
} trec;

/* a base edge deleted or re-propertied in the overlay */
typedef struct {
    uint64_t end;            /* deletion LSN, or LPG_LSN_INF */
    uint64_t src, dst;
    uint32_t type;
    ever *props;             /* property versions since the base, NULL if unchanged */
} berec;

/* overlay adjacency entry: neighbour | type << 40, and the edge id */
typedef struct {
    uint64_t nt;
    uint64_t eid;
} oent;

/* an immutable sorted run of overlay entries of one direction */
typedef struct {
    uint64_t *node;          /* distinct nodes, ascending */
    uint64_t *off;           /* nnodes + 1 */
    size_t nnodes;
    oent *ent;               /* entries of node[k]: ent[off[k] .. off[k+1]), eid ascending */
    size_t nent;
} orun;

/* A base file slot.  `lazy` != 0: the file (handle lazy - 1) is opened at first use through
 * lpg_open_file_cb, under the store's init mutex, once; f stays NULL until then. */
typedef struct {
    lpg_file *f;
    part pt;
    int state;               /* 0 unparsed, 1 ok, < 0 the parse error */
    uint64_t lazy;
} pslot;

typedef struct {
    lpg_file *f;
    eloc e;
    int state;
    uint64_t lazy;
} eslot;

typedef struct {
    lpg_file *f;
    ksub k;
    int state;
    uint64_t lazy;
} kslot;

typedef struct {
    uint32_t nsub_log;       /* number of sub-indexes = 2^nsub_log */
    kslot *subs;             /* 2^nsub_log slots (f NULL = empty sub-index) */
    int present;             /* index known to the base */
} kindex;

typedef struct {
    uint64_t src, dst, eid;
    uint32_t type;
} pend;

struct lpg_store {
    pthread_rwlock_t lock;       /* readers shared, the writer exclusive */
    pthread_mutex_t init;        /* lazy parsing of base files */
    uint64_t node_base, edge_base;   /* ids below: held by base files; above: created since */
    /* base */
    pslot *parts;
    uint32_t nparts;
    eslot *elocs;
    uint32_t nelocs;
    kindex *kidx;
    uint32_t nkidx;
    uint64_t *base_lcount;       /* per label id (0 = every node): live nodes in the base */
    uint32_t nbase_lcount;
    uint64_t *base_tcount;       /* per edge type: live edges in the base */
    uint32_t nbase_tcount;
    /* dictionaries */
    uint32_t **ls_labels;        /* label set id -> label ids */
    uint32_t *ls_n;
    uint32_t nls;
    keynames kn;                 /* property key id -> name */
    uint32_t kncap;
    u64map kn_by_hash;           /* key_hash(name) -> id + 1 chain head (collisions checked) */
    /* overlay: nodes */
    nver **nnew;                 /* chains of nodes >= node_base, index nid - node_base */
    size_t nnew_cap;
    uint64_t node_hi;            /* 1 + largest node id with an overlay version */
    u64map tmap;                 /* base node id -> index into trecs */
    trec *trecs;
    size_t ntrec, trcap;
    uint64_t *tbits;             /* bitmap over base node ids: touched */
    /* overlay: edges */
    uint64_t *esrc, *edst, *ebegin, *eend;   /* edges >= edge_base, index eid - edge_base */
    uint32_t *etype;
    ever **eprops;
    size_t ecap;
    uint64_t edge_hi;            /* 1 + largest edge id created in the overlay */
    uint64_t *eended;            /* bitmap over overlay edges: end != INF */
    uint64_t max_begin;          /* >= begin of every overlay edge */
    u64map bmap;                 /* base edge id -> index into berecs */
    berec *berecs;
    size_t nberec, bercap;
    uint64_t *bbits;             /* bitmap over base edge ids: has a berec */
    uint64_t nbase_dead;         /* berecs with end != INF */
    orun runs[2][MAX_RUNS];      /* per direction, oldest (largest) first */
    int nruns[2];
    void **arenas;               /* property blocks of bulk-created edges (freed with the store) */
    size_t narenas, arenacap;
    uint8_t *bulk_next;          /* during edges_bulk: where the next version goes */
    pend *pending;               /* new edges of the commit being applied */
    size_t npend, pendcap;
    /* overlay: label membership and keys */
    lpg_labels *labels;
    lpg_keyidx *keys;
    /* checkpoint bookkeeping */
    uint64_t *dirty_parts;       /* bitmap over partition numbers */
    size_t dirty_parts_words;
    uint64_t *dirty_elocs;
    size_t dirty_elocs_words;
    u64map dead_keys;            /* (index << 32 | top 32 hash bits) of base key entries made stale */
    uint64_t mem;                /* overlay bytes (approximate) */
};

typedef struct {
    int where;               /* 0 absent, 1 overlay version v, 2 base slot */
    const nver *v;
    part *pt;
    uint64_t slot;
    uint32_t lset;
} nloc;

typedef struct {
    int where;               /* 0 absent, 1 overlay edge, 2 base edge */
    uint32_t type;
    uint64_t src, dst;
    const ever *pv;          /* overlay property version (either kind), NULL = see base / none */
    const pcsr *c;           /* base: CSR(type, out) of src's partition */
    uint64_t entry;          /* base: entry index in c */
} eloc_t;

/* store.c helpers used by build.c (caller holds the lock) */
/* Opens a lazily attached base file (handle = the tag given to lpg_store_attach_lazy): defined
 * by the Python side (cffi extern "Python+C", native/build_ffi.py).  LPG_OK and *out, or an
 * error (the Python side keeps the exception).  Called with the store's init mutex held. */
int lpg_open_file_cb(uint64_t handle, lpg_file **out);
/* The spill records of direction d for lpg_store_build_part_x's source `handle` (defined by the
 * Python side too): valid until the next call for that handle.  LPG_OK, or an error (the Python
 * side keeps the exception).  Called with the store's lock held shared. */
int lpg_spill_cb(uint64_t handle, uint32_t d, const uint8_t **data, size_t *len);
int st_part(lpg_store *s, uint32_t p, part **out);          /* NULL *out when no file */
int st_eloc(lpg_store *s, uint32_t q, eloc **out);
int st_ksub(lpg_store *s, uint32_t index, uint32_t sub_at_nsub_log, uint32_t nsub_log, ksub **out);
const nver *st_node_chain(const lpg_store *s, uint64_t nid, int *touched);
static inline const nver *nver_at(const nver *v, uint64_t snap)
{
    while (v && v->begin > snap)
        v = v->prev;
    return v;
}

static inline const ever *ever_at(const ever *v, uint64_t snap)
{
    while (v && v->begin > snap)
        v = v->prev;
    return v;
}
int st_overlay_visible(const lpg_store *s, uint64_t eid, uint64_t snap);
const berec *st_berec(const lpg_store *s, uint64_t eid);
int map_get(const u64map *m, uint64_t key, uint64_t *val);
int st_locate_node(lpg_store *s, uint64_t nid, uint64_t snap, nloc *L);
int st_touched_at(const lpg_store *s, uint64_t nid, uint64_t snap);
int st_locate_base_edge(lpg_store *s, uint64_t eid, eloc_t *E);
int store_propkey_id(lpg_store *s, const uint8_t *name, size_t len, int add, uint32_t *id);
int keyidx_each(lpg_keyidx *k, uint32_t index, uint64_t snap,
                int (*cb)(void *ctx, const uint8_t *key, size_t klen, uint64_t node), void *ctx);

#endif /* LPGDB_STORE_H */
