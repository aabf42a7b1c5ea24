/*
 * adj.c -- lpg_adj: the edge table and the adjacency lists of the live graph, multi-versioned.
 *
 * Data layout
 *
 *   edge table   e[eid], eid < ecap           {src, dst, begin, end, type}; a free slot has
 *                                             begin == end == FREE (UINT64_MAX)
 *   ended        bitmap over eid              bit set iff the slot is held and end != INF
 *   recent       bitmap over eid              bit set iff the slot is held and begin > wmark
 *   per direction d (0 = out, 1 = in), adj_dir:
 *     CSR base   off[0..nbase], ent[off[v]..off[v+1])   entries of node v < nbase
 *     delta      delta[v].v[0..n), v < ndelta           entries appended since the last rebuild
 *   an entry     {nbr, eid, type}             for out: node = src, nbr = dst; for in: the reverse
 *
 * Invariants (checked by lpg_adj_check):
 *   (1) off[0] == 0, off is non-decreasing, off[nbase] == nent;
 *   (2) every held edge appears exactly once in the out lists (at node src, nbr dst) and exactly
 *       once in the in lists (at node dst, nbr src), base or delta, with its type; no entry
 *       refers to a free slot;
 *   (3) begin <= end for a held edge; the ended bit is set iff end != INF; the recent bit is
 *       set iff begin > wmark (wmark <= max_begin unless nothing is held);
 *   (4) max_begin >= begin of every held edge; src, dst < nnodes; nbase, ndelta <= nnodes;
 *   (5) nheld == number of held slots; ndelta_ent == sum of delta lengths.
 *
 * Visibility of an entry at snap: begin <= snap < end of its edge.  The edge table (a cache
 * miss per entry) is read only when the bitmaps cannot decide:
 *   snap >= max_begin          every begin is visible: table only for ended edges;
 *   wmark <= snap < max_begin  table only for ended or recent edges (recent = begin > wmark);
 *   snap < wmark               (readers older than the last gc horizon: not expected) table.
 * wmark only advances in gc(min_snap), to min_snap, since no reader is older than that.
 * remove() stamps end only; gc() drops the entries.
 * Locking: the rwlock `lock`; see lpgdb.h for which functions are read or write.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"
#include "vec.h"

#define FREE UINT64_MAX

typedef struct {
    uint64_t src, dst;      /* endpoints, immutable */
    uint64_t begin, end;    /* visibility interval; FREE/FREE when the slot is free */
    uint32_t type;          /* edge labelset id */
} edge;

typedef struct {
    uint64_t nbr;           /* the other endpoint */
    uint64_t eid;           /* index into the edge table */
    uint32_t type;          /* copy of the edge's type, for filtering without a table lookup */
} ent;

typedef struct {
    ent *v;                 /* entries appended since the last rebuild, in insertion order */
    uint32_t n, cap;        /* length and allocated length of v */
} dvec;

typedef struct {
    uint64_t nbase;         /* nodes covered by the CSR base; off has nbase + 1 slots */
    uint64_t *off;          /* CSR offsets (NULL while nbase == 0 and nothing was built) */
    ent *ent;               /* CSR entries, off[nbase] of them */
    size_t ndelta;          /* allocated length of delta[] (nodes) */
    dvec *delta;            /* per-node delta lists */
    uint64_t ndelta_ent;    /* total entries across delta lists */
} adj_dir;

struct lpg_adj {
    pthread_rwlock_t lock;  /* readers shared, the writer exclusive */
    edge *e;                /* edge table, ecap slots */
    size_t ecap;            /* allocated slots (multiple of 64) */
    uint64_t *ended;        /* bitmap: ecap / 64 words */
    uint64_t *recent;       /* bitmap: ecap / 64 words */
    uint64_t wmark;         /* begin <= wmark for every held edge whose recent bit is clear */
    uint64_t nheld;         /* held (non-free) slots */
    uint64_t max_begin;     /* upper bound on begin of every held edge */
    uint64_t nnodes;        /* 1 + largest node id referenced by a held or past edge */
    adj_dir d[2];           /* 0 = out, 1 = in */
};

/* ---- helpers -------------------------------------------------------------------------------- */

static inline int ended_bit(const lpg_adj *a, uint64_t eid)
{
    return (int)((a->ended[eid >> 6] >> (eid & 63)) & 1);
}

/* Visibility modes of a read, fixed per call under the read lock. */
enum { VIS_TABLE = 0, VIS_WMARK = 1, VIS_ALL_BEGUN = 2 };

static inline int vis_mode(const lpg_adj *a, uint64_t snap)
{
    return snap >= a->max_begin ? VIS_ALL_BEGUN : snap >= a->wmark ? VIS_WMARK : VIS_TABLE;
}

static inline int edge_visible(const lpg_adj *a, uint64_t eid, uint64_t snap, int mode)
{
    uint64_t bit = 1ULL << (eid & 63);
    if (mode == VIS_ALL_BEGUN && !(a->ended[eid >> 6] & bit))
        return 1;
    if (mode == VIS_WMARK && !((a->ended[eid >> 6] | a->recent[eid >> 6]) & bit))
        return 1;
    const edge *x = &a->e[eid];
    return x->begin != FREE && x->begin <= snap && snap < x->end;
}

static int ensure_edges(lpg_adj *a, uint64_t eid)
{
    if (eid < a->ecap)
        return LPG_OK;
    size_t ncap = a->ecap ? a->ecap : 1024;
    while (ncap <= eid)
        ncap *= 2;
    edge *e = realloc(a->e, ncap * sizeof(edge));
    if (!e)
        return LPG_ENOMEM;
    a->e = e;
    for (size_t i = a->ecap; i < ncap; i++) {
        e[i].begin = e[i].end = FREE;
        e[i].src = e[i].dst = 0;
        e[i].type = 0;
    }
    /* e grew but ecap does not on failure below: harmless, retried next time */
    uint64_t *b = realloc(a->ended, ncap / 64 * sizeof(uint64_t));
    if (!b)
        return LPG_ENOMEM;
    memset(b + a->ecap / 64, 0, (ncap - a->ecap) / 64 * sizeof(uint64_t));
    a->ended = b;
    b = realloc(a->recent, ncap / 64 * sizeof(uint64_t));
    if (!b)
        return LPG_ENOMEM;
    memset(b + a->ecap / 64, 0, (ncap - a->ecap) / 64 * sizeof(uint64_t));
    a->recent = b;
    a->ecap = ncap;
    return LPG_OK;
}

static int dvec_push(adj_dir *d, uint64_t node, ent x)
{
    if (node >= d->ndelta) {
        size_t cap = d->ndelta;
        if (grow((void **)&d->delta, &cap, (size_t)node + 1, sizeof(dvec)))
            return LPG_ENOMEM;
        d->ndelta = cap;
    }
    dvec *v = &d->delta[node];
    if (v->n == v->cap) {
        if (v->cap >= UINT32_MAX / 2)
            return LPG_ENOMEM;
        uint32_t ncap = v->cap ? v->cap * 2 : 4;
        ent *p = realloc(v->v, (size_t)ncap * sizeof(ent));
        if (!p)
            return LPG_ENOMEM;
        v->v = p;
        v->cap = ncap;
    }
    v->v[v->n++] = x;
    d->ndelta_ent++;
    return LPG_OK;
}

static void dir_free(adj_dir *d)
{
    free(d->off);
    free(d->ent);
    for (size_t v = 0; v < d->ndelta; v++)
        free(d->delta[v].v);
    free(d->delta);
    memset(d, 0, sizeof(*d));
}

static inline uint64_t base_len(const adj_dir *d)
{
    return d->off ? d->off[d->nbase] : 0;
}

/* Build, into *nb, direction `di` as one CSR over nn nodes: base, then delta, then the n extra
 * edges (dir 0 keyed by src, dir 1 by dst).  The direction itself is not modified; install()
 * swaps the result in.  O(E + N + n).  LPG_ENOMEM leaves *nb empty. */
static int rebuild_dir(const lpg_adj *a, int di, uint64_t nn, const uint64_t *eids,
                       const uint32_t *types, const uint64_t *srcs, const uint64_t *dsts, size_t n,
                       adj_dir *nb)
{
    const adj_dir *d = &a->d[di];
    memset(nb, 0, sizeof(*nb));
    uint64_t total = base_len(d) + d->ndelta_ent + n;
    uint64_t *off = calloc((size_t)nn + 1, sizeof(uint64_t));
    ent *en = malloc((total ? total : 1) * sizeof(ent));
    if (!off || !en) {
        free(off);
        free(en);
        return LPG_ENOMEM;
    }
    const uint64_t *key = di == 0 ? srcs : dsts;
    const uint64_t *oth = di == 0 ? dsts : srcs;
    /* off[v + 1] = count of node v, then prefix sums */
    for (uint64_t v = 0; v < nn; v++) {
        uint64_t c = 0;
        if (v < d->nbase)
            c += d->off[v + 1] - d->off[v];
        if (v < d->ndelta)
            c += d->delta[v].n;
        off[v + 1] = c;
    }
    for (size_t i = 0; i < n; i++)
        off[key[i] + 1]++;
    for (uint64_t v = 0; v < nn; v++)
        off[v + 1] += off[v];
    /* copy old entries; off[v] then serves as the write cursor of v's new entries, and is
     * restored afterwards by shifting (off[v] ends at the old off[v + 1]) */
    for (uint64_t v = 0; v < nn; v++) {
        uint64_t w = off[v];
        if (v < d->nbase) {
            uint64_t k = d->off[v + 1] - d->off[v];
            memcpy(en + w, d->ent + d->off[v], k * sizeof(ent));
            w += k;
        }
        if (v < d->ndelta && d->delta[v].n) {
            memcpy(en + w, d->delta[v].v, d->delta[v].n * sizeof(ent));
            w += d->delta[v].n;
        }
        off[v] = w;
    }
    for (size_t i = 0; i < n; i++) {
        ent x = {oth[i], eids[i], types[i]};
        en[off[key[i]]++] = x;
    }
    for (uint64_t v = nn; v > 0; v--)
        off[v] = off[v - 1];
    off[0] = 0;
    nb->nbase = nn;
    nb->off = off;
    nb->ent = en;
    return LPG_OK;
}

/* Replace direction d by the rebuilt nb (which owns no delta). */
static void install(adj_dir *d, adj_dir *nb)
{
    dir_free(d);
    *d = *nb;
}

static int check_dir_arg(int dir)
{
    return dir >= 0 && dir <= 2;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int lpg_adj_new(lpg_adj **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    lpg_adj *a = calloc(1, sizeof(*a));
    if (!a)
        return LPG_ENOMEM;
    if (rwlock_init(&a->lock)) {
        free(a);
        return LPG_ENOMEM;
    }
    *out = a;
    return LPG_OK;
}

void lpg_adj_free(lpg_adj *a)
{
    if (!a)
        return;
    dir_free(&a->d[0]);
    dir_free(&a->d[1]);
    free(a->e);
    free(a->ended);
    free(a->recent);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

/* ---- writes --------------------------------------------------------------------------------- */

static void note_nodes(lpg_adj *a, uint64_t src, uint64_t dst)
{
    uint64_t m = src > dst ? src : dst;
    if (m + 1 > a->nnodes)
        a->nnodes = m + 1;
}

int lpg_adj_add(lpg_adj *a, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst, uint64_t lsn)
{
    if (!a)
        return LPG_EINVAL;
    if (eid >= LPG_ID_CAP || src >= LPG_ID_CAP || dst >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&a->lock);
    int rc = ensure_edges(a, eid);
    if (rc == LPG_OK && a->e[eid].begin != FREE)
        rc = LPG_EEXIST;
    if (rc == LPG_OK) {
        /* reserve both delta slots before touching anything, so a failure leaves no trace */
        ent xo = {dst, eid, type}, xi = {src, eid, type};
        rc = dvec_push(&a->d[0], src, xo);
        if (rc == LPG_OK) {
            rc = dvec_push(&a->d[1], dst, xi);
            if (rc != LPG_OK) {
                a->d[0].delta[src].n--;
                a->d[0].ndelta_ent--;
            }
        }
    }
    if (rc == LPG_OK) {
        edge *x = &a->e[eid];
        x->src = src;
        x->dst = dst;
        x->type = type;
        x->begin = lsn;
        x->end = LPG_LSN_INF;
        a->nheld++;
        if (lsn > a->max_begin)
            a->max_begin = lsn;
        if (lsn > a->wmark)
            a->recent[eid >> 6] |= 1ULL << (eid & 63);
        note_nodes(a, src, dst);
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int lpg_adj_add_many(lpg_adj *a, const uint64_t *eids, const uint32_t *types, const uint64_t *srcs,
                     const uint64_t *dsts, size_t n, uint64_t lsn)
{
    if (!a || (n && (!eids || !types || !srcs || !dsts)))
        return LPG_EINVAL;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    if (n == 0)
        return LPG_OK;
    uint64_t maxe = 0, maxn = 0;
    for (size_t i = 0; i < n; i++) {
        if (eids[i] >= LPG_ID_CAP || srcs[i] >= LPG_ID_CAP || dsts[i] >= LPG_ID_CAP)
            return LPG_EBOUNDS;
        if (eids[i] > maxe)
            maxe = eids[i];
        if (srcs[i] > maxn)
            maxn = srcs[i];
        if (dsts[i] > maxn)
            maxn = dsts[i];
    }
    pthread_rwlock_wrlock(&a->lock);
    int rc = ensure_edges(a, maxe);
    size_t claimed = 0;
    /* claim the slots (begin = lsn); a held slot or a duplicate in the batch undoes the claims */
    for (; rc == LPG_OK && claimed < n; claimed++) {
        edge *x = &a->e[eids[claimed]];
        if (x->begin != FREE)
            rc = LPG_EEXIST;
        else
            x->begin = lsn;
    }
    if (rc != LPG_OK) {
        if (claimed)
            claimed--;  /* the failing one was not claimed */
        for (size_t i = 0; i < claimed; i++)
            a->e[eids[i]].begin = FREE;
        pthread_rwlock_unlock(&a->lock);
        return rc;
    }
    uint64_t nn = maxn + 1 > a->nnodes ? maxn + 1 : a->nnodes;
    uint64_t held_entries = base_len(&a->d[0]) + a->d[0].ndelta_ent;
    if (n >= 256 && n >= held_entries / 4) {
        /* bulk path: rebuild both CSR bases with the batch folded in */
        adj_dir nb[2];
        rc = rebuild_dir(a, 0, nn, eids, types, srcs, dsts, n, &nb[0]);
        if (rc == LPG_OK) {
            rc = rebuild_dir(a, 1, nn, eids, types, srcs, dsts, n, &nb[1]);
            if (rc != LPG_OK)
                dir_free(&nb[0]);
        }
        if (rc == LPG_OK) {
            install(&a->d[0], &nb[0]);
            install(&a->d[1], &nb[1]);
        }
    } else {
        size_t i = 0;
        for (; i < n && rc == LPG_OK; i++) {
            ent xo = {dsts[i], eids[i], types[i]}, xi = {srcs[i], eids[i], types[i]};
            rc = dvec_push(&a->d[0], srcs[i], xo);
            if (rc == LPG_OK) {
                rc = dvec_push(&a->d[1], dsts[i], xi);
                if (rc != LPG_OK) {
                    a->d[0].delta[srcs[i]].n--;
                    a->d[0].ndelta_ent--;
                }
            }
        }
        if (rc != LPG_OK) {
            /* undo the edges pushed before the failing one: they are the last entries of their
             * lists, so pop in reverse order */
            for (size_t j = i - 1; j-- > 0;) {
                a->d[0].delta[srcs[j]].n--;
                a->d[0].ndelta_ent--;
                a->d[1].delta[dsts[j]].n--;
                a->d[1].ndelta_ent--;
            }
        }
    }
    if (rc != LPG_OK) {
        for (size_t j = 0; j < n; j++)
            a->e[eids[j]].begin = FREE;
        pthread_rwlock_unlock(&a->lock);
        return rc;
    }
    a->nnodes = nn;
    for (size_t i = 0; i < n; i++) {
        edge *x = &a->e[eids[i]];
        x->src = srcs[i];
        x->dst = dsts[i];
        x->type = types[i];
        x->end = LPG_LSN_INF;
    }
    a->nheld += n;
    if (lsn > a->max_begin)
        a->max_begin = lsn;
    if (lsn > a->wmark)
        for (size_t i = 0; i < n; i++)
            a->recent[eids[i] >> 6] |= 1ULL << (eids[i] & 63);
    pthread_rwlock_unlock(&a->lock);
    return LPG_OK;
}

int lpg_adj_remove(lpg_adj *a, uint64_t eid, uint64_t lsn)
{
    if (!a)
        return LPG_EINVAL;
    if (eid >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&a->lock);
    if (eid >= a->ecap || a->e[eid].begin == FREE || a->e[eid].end != LPG_LSN_INF)
        rc = LPG_ENOTFOUND;
    else if (lsn < a->e[eid].begin)
        rc = LPG_EINVAL;
    else {
        a->e[eid].end = lsn;
        a->ended[eid >> 6] |= 1ULL << (eid & 63);
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

/* ---- reads ---------------------------------------------------------------------------------- */

int lpg_adj_get(lpg_adj *a, uint64_t eid, uint64_t snap, uint32_t *type, uint64_t *src, uint64_t *dst)
{
    if (!a || !type || !src || !dst)
        return LPG_EINVAL;
    if (eid >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    int rc = LPG_ENOTFOUND;
    pthread_rwlock_rdlock(&a->lock);
    if (eid < a->ecap) {
        const edge *x = &a->e[eid];
        if (x->begin != FREE && x->begin <= snap && snap < x->end) {
            *type = x->type;
            *src = x->src;
            *dst = x->dst;
            rc = LPG_OK;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int lpg_adj_get_many(lpg_adj *a, const uint64_t *eids, size_t n, uint64_t snap, int64_t *out_type,
                     uint64_t *out_src, uint64_t *out_dst)
{
    if (!a || (n && (!eids || !out_type || !out_src || !out_dst)))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (eids[i] >= LPG_ID_CAP)
            return LPG_EBOUNDS;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < n; i++) {
        uint64_t eid = eids[i];
        const edge *x = eid < a->ecap ? &a->e[eid] : NULL;
        if (x && x->begin != FREE && x->begin <= snap && snap < x->end) {
            out_type[i] = x->type;
            out_src[i] = x->src;
            out_dst[i] = x->dst;
        } else {
            out_type[i] = -1;
            out_src[i] = out_dst[i] = 0;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return LPG_OK;
}

/* Runs BODY, with `const ent *x` bound, for every entry of node v in direction dir whose type is
 * in ts and whose edge is visible at snap (mode from vis_mode).  For dir 2, in-entries of
 * self-loops (nbr == v) are skipped: the out-entry reports them.  BODY may `break` only out of
 * the current list. */
#define FOR_EACH_VISIBLE(a, v, dir, ts, snap, fast, BODY)                                       \
    do {                                                                                        \
        for (int di_ = 0; di_ < 2; di_++) {                                                     \
            if ((dir) != 2 && (dir) != di_)                                                     \
                continue;                                                                       \
            const adj_dir *d_ = &(a)->d[di_];                                                   \
            const ent *p_ = NULL, *q_ = NULL;                                                   \
            for (int part_ = 0; part_ < 2; part_++) {                                           \
                if (part_ == 0) {                                                               \
                    if ((v) >= d_->nbase)                                                       \
                        continue;                                                               \
                    p_ = d_->ent + d_->off[(v)];                                                \
                    q_ = d_->ent + d_->off[(v) + 1];                                            \
                } else {                                                                        \
                    if ((v) >= d_->ndelta)                                                      \
                        continue;                                                               \
                    p_ = d_->delta[(v)].v;                                                      \
                    q_ = p_ + d_->delta[(v)].n;                                                 \
                }                                                                               \
                for (; p_ < q_; p_++) {                                                         \
                    if ((dir) == 2 && di_ == 1 && p_->nbr == (v))                               \
                        continue;                                                               \
                    if (!typeset_has((ts), p_->type))                                           \
                        continue;                                                               \
                    if (!edge_visible((a), p_->eid, (snap), (fast)))                            \
                        continue;                                                               \
                    const ent *x = p_;                                                          \
                    BODY                                                                        \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    } while (0)

/* Common argument checks of the read functions taking a type filter. */
static int read_args(const lpg_adj *a, int dir, const uint32_t *types, size_t ntypes, typeset *ts)
{
    if (!a || !check_dir_arg(dir))
        return LPG_EINVAL;
    return typeset_init(ts, types, ntypes);
}

int lpg_adj_expand(lpg_adj *a, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                   size_t ntypes, uint64_t snap, uint64_t *out_nbr, uint64_t *out_eid,
                   uint32_t *out_from, size_t cap, size_t *count)
{
    if (!count || (n && !nodes) || (cap && (!out_nbr || !out_eid || !out_from)))
        return LPG_EINVAL;
    *count = 0;
    if (n > UINT32_MAX)
        return LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++)
        if (nodes[i] >= LPG_ID_CAP)
            return LPG_EBOUNDS;
    typeset ts;
    int rc = read_args(a, dir, types, ntypes, &ts);
    if (rc != LPG_OK)
        return rc;
    size_t k = 0;
    pthread_rwlock_rdlock(&a->lock);
    int fast = vis_mode(a, snap);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = nodes[i];
        FOR_EACH_VISIBLE(a, v, dir, &ts, snap, fast, {
            if (k < cap) {
                out_nbr[k] = x->nbr;
                out_eid[k] = x->eid;
                out_from[k] = (uint32_t)i;
            }
            k++;
        });
    }
    pthread_rwlock_unlock(&a->lock);
    typeset_free(&ts);
    *count = k;
    return k > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_adj_degree_many(lpg_adj *a, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                        size_t ntypes, uint64_t snap, uint64_t *out)
{
    if (n && (!nodes || !out))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (nodes[i] >= LPG_ID_CAP)
            return LPG_EBOUNDS;
    typeset ts;
    int rc = read_args(a, dir, types, ntypes, &ts);
    if (rc != LPG_OK)
        return rc;
    pthread_rwlock_rdlock(&a->lock);
    int fast = vis_mode(a, snap);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = nodes[i], c = 0;
        FOR_EACH_VISIBLE(a, v, dir, &ts, snap, fast, { (void)x; c++; });
        out[i] = c;
    }
    pthread_rwlock_unlock(&a->lock);
    typeset_free(&ts);
    return LPG_OK;
}

/* Per-thread scratch of count_reach: visited stamps over node ids plus two frontier vectors.
 * Freed by the pthread key destructor when the thread exits. */
typedef struct {
    uint32_t *mark;         /* mark[v] == epoch iff v is already in the level being built */
    size_t nmark;           /* allocated length of mark */
    uint32_t epoch;         /* current stamp; 0 is never used */
    uint64_t *f[2];         /* frontier vectors */
    size_t fcap[2];         /* their allocated lengths */
} reach_scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_free(void *p)
{
    reach_scratch *s = p;
    if (!s)
        return;
    free(s->mark);
    free(s->f[0]);
    free(s->f[1]);
    free(s);
}

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

static reach_scratch *get_scratch(uint64_t nnodes)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_key_ok)
        return NULL;
    reach_scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || pthread_setspecific(scratch_key, s)) {
            free(s);
            return NULL;
        }
    }
    if (grow((void **)&s->mark, &s->nmark, (size_t)nnodes, sizeof(uint32_t)))
        return NULL;
    return s;
}

static uint32_t next_epoch(reach_scratch *s)
{
    if (s->epoch == UINT32_MAX) {
        memset(s->mark, 0, s->nmark * sizeof(uint32_t));
        s->epoch = 0;
    }
    return ++s->epoch;
}

int lpg_adj_count_reach(lpg_adj *a, uint64_t seed, uint32_t hops, int dir, const uint32_t *types,
                        size_t ntypes, uint64_t snap, int exclude_seed, uint64_t *count)
{
    if (!count)
        return LPG_EINVAL;
    *count = 0;
    if (seed >= LPG_ID_CAP || hops > (1u << 20))
        return LPG_EBOUNDS;
    typeset ts;
    int rc = read_args(a, dir, types, ntypes, &ts);
    if (rc != LPG_OK)
        return rc;
    if (hops == 0) {
        *count = exclude_seed ? 0 : 1;
        typeset_free(&ts);
        return LPG_OK;
    }
    pthread_rwlock_rdlock(&a->lock);
    int fast = vis_mode(a, snap);
    reach_scratch *s = get_scratch(a->nnodes);
    if (!s) {
        rc = LPG_ENOMEM;
        goto out;
    }
    size_t nf = 0;
    if (grow((void **)&s->f[0], &s->fcap[0], 1, sizeof(uint64_t))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    s->f[0][nf++] = seed;
    int cur = 0;
    for (uint32_t h = 0; h < hops && nf; h++) {
        uint32_t ep = next_epoch(s);
        uint64_t *f = s->f[cur];
        size_t nn = 0;
        for (size_t i = 0; i < nf && rc == LPG_OK; i++) {
            uint64_t v = f[i];
            FOR_EACH_VISIBLE(a, v, dir, &ts, snap, fast, {
                uint64_t w = x->nbr;
                if (s->mark[w] != ep) {
                    s->mark[w] = ep;
                    if (grow((void **)&s->f[1 - cur], &s->fcap[1 - cur], nn + 1, sizeof(uint64_t))) {
                        rc = LPG_ENOMEM;
                        break;
                    }
                    s->f[1 - cur][nn++] = w;
                }
            });
        }
        if (rc != LPG_OK)
            goto out;
        cur = 1 - cur;
        nf = nn;
    }
    uint64_t c = nf;
    if (exclude_seed && c && seed < a->nnodes && s->mark[seed] == s->epoch)
        c--;
    *count = c;
out:
    pthread_rwlock_unlock(&a->lock);
    typeset_free(&ts);
    return rc;
}

int lpg_adj_scan(lpg_adj *a, const uint32_t *types, size_t ntypes, uint64_t snap,
                 uint64_t *out_eid, size_t cap, size_t *count)
{
    if (!count || (cap && !out_eid))
        return LPG_EINVAL;
    *count = 0;
    typeset ts;
    int rc = read_args(a, 0, types, ntypes, &ts);
    if (rc != LPG_OK)
        return rc;
    size_t k = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->ecap; i++) {
        const edge *x = &a->e[i];
        if (x->begin != FREE && x->begin <= snap && snap < x->end && typeset_has(&ts, x->type)) {
            if (k < cap)
                out_eid[k] = i;
            k++;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    typeset_free(&ts);
    *count = k;
    return k > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_adj_count(lpg_adj *a, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *n)
{
    if (!n)
        return LPG_EINVAL;
    *n = 0;
    typeset ts;
    int rc = read_args(a, 0, types, ntypes, &ts);
    if (rc != LPG_OK)
        return rc;
    uint64_t k = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->ecap; i++) {
        const edge *x = &a->e[i];
        k += x->begin != FREE && x->begin <= snap && snap < x->end && typeset_has(&ts, x->type);
    }
    pthread_rwlock_unlock(&a->lock);
    typeset_free(&ts);
    *n = k;
    return LPG_OK;
}

/* ---- maintenance ---------------------------------------------------------------------------- */

int lpg_adj_gc(lpg_adj *a, uint64_t min_snap)
{
    if (!a)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&a->lock);
    uint64_t dropped = 0;
    for (size_t w = 0; w < a->ecap / 64; w++) {
        uint64_t bits = a->ended[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            edge *x = &a->e[i];
            if (x->end <= min_snap) {
                x->begin = x->end = FREE;
                a->ended[w] &= ~(1ULL << (i & 63));
                dropped++;
            }
        }
    }
    /* no reader is older than min_snap: advance the watermark and clear the recent bits of
     * edges begun at or before it (and of the dropped slots) */
    if (min_snap > a->wmark)
        a->wmark = min_snap;
    for (size_t w = 0; w < a->ecap / 64; w++) {
        uint64_t bits = a->recent[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (a->e[i].begin == FREE || a->e[i].begin <= a->wmark)
                a->recent[w] &= ~(1ULL << (i & 63));
        }
    }
    if (dropped) {
        for (int di = 0; di < 2; di++) {
            adj_dir *d = &a->d[di];
            uint64_t w = 0;
            for (uint64_t v = 0; v < d->nbase; v++) {
                uint64_t s = d->off[v], t = d->off[v + 1];
                d->off[v] = w;
                for (uint64_t k = s; k < t; k++)
                    if (a->e[d->ent[k].eid].begin != FREE)
                        d->ent[w++] = d->ent[k];
            }
            if (d->off)
                d->off[d->nbase] = w;
            for (size_t v = 0; v < d->ndelta; v++) {
                dvec *dv = &d->delta[v];
                uint32_t m = 0;
                for (uint32_t k = 0; k < dv->n; k++)
                    if (a->e[dv->v[k].eid].begin != FREE)
                        dv->v[m++] = dv->v[k];
                d->ndelta_ent -= dv->n - m;
                dv->n = m;
            }
        }
        a->nheld -= dropped;
    }
    pthread_rwlock_unlock(&a->lock);
    return LPG_OK;
}

int lpg_adj_compact(lpg_adj *a)
{
    if (!a)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&a->lock);
    int rc = LPG_OK;
    if (a->d[0].ndelta_ent || a->d[1].ndelta_ent || a->d[0].nbase != a->nnodes) {
        adj_dir nb[2];
        rc = rebuild_dir(a, 0, a->nnodes, NULL, NULL, NULL, NULL, 0, &nb[0]);
        if (rc == LPG_OK) {
            rc = rebuild_dir(a, 1, a->nnodes, NULL, NULL, NULL, NULL, 0, &nb[1]);
            if (rc != LPG_OK)
                dir_free(&nb[0]);
        }
        if (rc == LPG_OK) {
            install(&a->d[0], &nb[0]);
            install(&a->d[1], &nb[1]);
        }
    }
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int lpg_adj_stats(lpg_adj *a, uint64_t *held, uint64_t *delta, uint64_t *nodes, uint64_t *bytes)
{
    if (!a)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&a->lock);
    uint64_t b = sizeof(*a) + a->ecap * sizeof(edge) + a->ecap / 64 * 2 * sizeof(uint64_t);
    for (int di = 0; di < 2; di++) {
        const adj_dir *d = &a->d[di];
        if (d->off)
            b += (d->nbase + 1) * sizeof(uint64_t) + base_len(d) * sizeof(ent);
        b += d->ndelta * sizeof(dvec);
        for (size_t v = 0; v < d->ndelta; v++)
            b += (uint64_t)d->delta[v].cap * sizeof(ent);
    }
    if (held)
        *held = a->nheld;
    if (delta)
        *delta = a->d[0].ndelta_ent + a->d[1].ndelta_ent;
    if (nodes)
        *nodes = a->nnodes;
    if (bytes)
        *bytes = b;
    pthread_rwlock_unlock(&a->lock);
    return LPG_OK;
}

/* Checks the entries [p, q) listed at node v of direction di against the edge table (2) and
 * counts them in seen[eid]: out entries in the low nibble, in entries in the high one. */
static int check_entries(const lpg_adj *a, int di, uint64_t v, const ent *p, const ent *q,
                         uint8_t *seen)
{
    for (; p < q; p++) {
        if (p->eid >= a->ecap)
            return LPG_ECORRUPT;
        const edge *x = &a->e[p->eid];
        uint64_t node = di == 0 ? x->src : x->dst, nbr = di == 0 ? x->dst : x->src;
        if (x->begin == FREE || node != v || nbr != p->nbr || x->type != p->type)
            return LPG_ECORRUPT;
        uint8_t c = di == 0 ? (seen[p->eid] & 15) : (seen[p->eid] >> 4);
        if (c < 15)
            seen[p->eid] += di == 0 ? 1 : 16;
    }
    return LPG_OK;
}

/* Invariants (1), (2) and the delta half of (5) for direction di. */
static int check_dir(const lpg_adj *a, int di, uint8_t *seen)
{
    const adj_dir *d = &a->d[di];
    if (d->nbase > a->nnodes || (d->nbase && !d->off))
        return LPG_ECORRUPT;
    if (d->off) {
        if (d->off[0] != 0)
            return LPG_ECORRUPT;
        for (uint64_t v = 0; v < d->nbase; v++)
            if (d->off[v + 1] < d->off[v])
                return LPG_ECORRUPT;
    }
    for (uint64_t v = 0; v < d->nbase; v++)
        if (check_entries(a, di, v, d->ent + d->off[v], d->ent + d->off[v + 1], seen))
            return LPG_ECORRUPT;
    uint64_t ndelta = 0;
    for (uint64_t v = 0; v < d->ndelta; v++) {
        const dvec *dv = &d->delta[v];
        if (dv->n > dv->cap || (dv->n && v >= a->nnodes))
            return LPG_ECORRUPT;
        if (check_entries(a, di, v, dv->v, dv->v + dv->n, seen))
            return LPG_ECORRUPT;
        ndelta += dv->n;
    }
    return ndelta == d->ndelta_ent ? LPG_OK : LPG_ECORRUPT;
}

int lpg_adj_check(lpg_adj *a)
{
    if (!a)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&a->lock);
    int rc = LPG_OK;
    uint8_t *seen = calloc(a->ecap ? a->ecap : 1, 1);
    if (!seen) {
        rc = LPG_ENOMEM;
        goto out;
    }
    if ((rc = check_dir(a, 0, seen)) != LPG_OK || (rc = check_dir(a, 1, seen)) != LPG_OK)
        goto out;
    uint64_t held = 0;
    for (size_t i = 0; i < a->ecap; i++) {
        const edge *x = &a->e[i];
        int is_held = x->begin != FREE;
        if (!is_held) {
            if (seen[i] || ended_bit(a, i) || ((a->recent[i >> 6] >> (i & 63)) & 1)
                || x->end != FREE) {
                rc = LPG_ECORRUPT;
                goto out;
            }
            continue;
        }
        held++;
        int recent = (int)((a->recent[i >> 6] >> (i & 63)) & 1);
        if (seen[i] != 0x11 || x->begin > x->end || x->begin > a->max_begin
            || ended_bit(a, i) != (x->end != LPG_LSN_INF) || recent != (x->begin > a->wmark)
            || x->src >= a->nnodes
            || x->dst >= a->nnodes) {
            rc = LPG_ECORRUPT;
            goto out;
        }
    }
    if (held != a->nheld)
        rc = LPG_ECORRUPT;
out:
    pthread_rwlock_unlock(&a->lock);
    free(seen);
    return rc;
}
