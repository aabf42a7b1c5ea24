/*
 * store.c -- lpg_store: one generation of the graph = immutable base files + an LSN-stamped
 * in-memory overlay of the commits applied since those files were written.  Reads merge both.
 *
 * Layout (store.h has the fields)
 *
 *   base        partition files by partition number (nodes p * 2^17 .. and their adjacency),
 *               edge-locator files by edge-id range, key sub-index files by (index, sub); each
 *               parsed lazily on first use.  Ids below node_base / edge_base belong to the base.
 *   overlay     nodes:  nnew[nid - node_base]   version chains of nodes created since the base
 *                       tmap: nid -> trec         version chains of base nodes changed since
 *               edges:  esrc/edst/etype/ebegin/eend[eid - edge_base]   edges created since
 *                       bmap: eid -> berec       base edges deleted or re-propertied since
 *                       runs[dir]                sorted immutable runs of overlay adjacency
 *                                                entries (Bentley-Saxe: O(log E) runs)
 *               labels: lpg_labels over overlay-visible nodes (new nodes, changed base nodes)
 *               keys:   lpg_keyidx over the same nodes
 *
 * Visibility at snapshot `snap`
 *   (1) a version with begin <= snap is visible when no newer one also is; a base node changed
 *       in the overlay (trec.first = the LSN of its first change) is read from the overlay at
 *       snap >= first and from the base before: "touched at snap";
 *   (2) an overlay edge is visible iff begin <= snap < end; a base edge iff no berec says it
 *       ended at or before snap;
 *   (3) label scans, key lookups and counts take base answers for nodes not touched at snap and
 *       overlay answers for the others, so each node is counted once.
 * Invariants (lpg_store_check): runs sorted by node with ascending offsets, entries within a node
 * in ascending edge id, every run entry names a held overlay edge of the run's direction; trecs
 * and berecs are reachable through their maps and marked in their bitmaps; every overlay
 * version's label set is known.
 * Locking: `lock` (writer-preferring rwlock): readers shared, the writer (apply) exclusive;
 * `init` serialises lazy parsing of base files, which readers may trigger concurrently.
 * Node ids < 2^40 (LPG_EBOUNDS otherwise).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"
#include "store.h"
#include "mpack.h"
#include "rows.h"

#define FREE_LSN LPG_LSN_INF

/* ---- u64 maps ----------------------------------------------------------------------------------- */
static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int map_grow(u64map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *k = malloc(ncap * 8), *v = malloc(ncap * 8);
    if (!k || !v) {
        free(k);
        free(v);
        return LPG_ENOMEM;
    }
    memset(k, 0xff, ncap * 8);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->k[i] == EMPTY_KEY)
            continue;
        size_t j = mix(m->k[i]) & (ncap - 1);
        while (k[j] != EMPTY_KEY)
            j = (j + 1) & (ncap - 1);
        k[j] = m->k[i];
        v[j] = m->v[i];
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = ncap;
    return LPG_OK;
}

int map_get(const u64map *m, uint64_t key, uint64_t *val)
{
    if (!m->n)
        return 0;
    size_t j = mix(key) & (m->cap - 1);
    while (m->k[j] != EMPTY_KEY) {
        if (m->k[j] == key) {
            *val = m->v[j];
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

static int map_put(u64map *m, uint64_t key, uint64_t val)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m))
        return LPG_ENOMEM;
    size_t j = mix(key) & (m->cap - 1);
    while (m->k[j] != EMPTY_KEY) {
        if (m->k[j] == key) {
            m->v[j] = val;
            return LPG_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->k[j] = key;
    m->v[j] = val;
    m->n++;
    return LPG_OK;
}

static void map_free(u64map *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static inline int bit_get(const uint64_t *b, uint64_t i) { return (int)((b[i >> 6] >> (i & 63)) & 1); }
static inline void bit_set(uint64_t *b, uint64_t i) { b[i >> 6] |= 1ULL << (i & 63); }

static int bits_mark(uint64_t **b, size_t *words, uint64_t i)
{
    size_t need = (size_t)(i >> 6) + 1;
    if (need > *words) {
        size_t nw = *words ? *words : 4;
        while (nw < need)
            nw *= 2;
        uint64_t *q = realloc(*b, nw * 8);
        if (!q)
            return LPG_ENOMEM;
        memset(q + *words, 0, (nw - *words) * 8);
        *b = q;
        *words = nw;
    }
    bit_set(*b, i);
    return LPG_OK;
}

/* ---- life cycle ------------------------------------------------------------------------------- */
int lpg_store_new(uint64_t node_base, uint64_t edge_base, lpg_store **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    if (node_base > LPG_ID_CAP || edge_base > LPG_ID_CAP)
        return LPG_EBOUNDS;
    lpg_store *s = calloc(1, sizeof(*s));
    if (!s)
        return LPG_ENOMEM;
    s->node_base = node_base;
    s->edge_base = edge_base;
    s->node_hi = node_base;
    s->edge_hi = edge_base;
    if (rwlock_init(&s->lock)) {
        free(s);
        return LPG_ENOMEM;
    }
    pthread_mutex_init(&s->init, NULL);
    /* bitmaps over base ids: calloc'd, so untouched pages cost no memory */
    s->tbits = calloc(node_base / 64 + 1, 8);
    s->bbits = calloc(edge_base / 64 + 1, 8);
    int rc = LPG_ENOMEM;
    if (!s->tbits || !s->bbits || lpg_labels_new(&s->labels) || lpg_keyidx_new(&s->keys)) {
        lpg_store_free(s);
        return rc;
    }
    *out = s;
    return LPG_OK;
}

static void run_free(orun *r)
{
    free(r->node);
    free(r->off);
    free(r->ent);
    memset(r, 0, sizeof(*r));
}

static void chain_free(nver *v)
{
    while (v) {
        nver *p = v->prev;
        if (!v->arena)
            free(v);
        v = p;
    }
}

static void echain_free(ever *v)
{
    while (v) {
        ever *p = v->prev;
        if (!v->arena)
            free(v);
        v = p;
    }
}

void lpg_store_free(lpg_store *s)
{
    if (!s)
        return;
    for (uint32_t p = 0; p < s->nparts; p++)
        if (s->parts[p].state == 1)
            part_release(&s->parts[p].pt);
    free(s->parts);
    free(s->elocs);
    for (uint32_t i = 0; i < s->nkidx; i++)
        free(s->kidx[i].subs);
    free(s->kidx);
    free(s->base_lcount);
    free(s->base_tcount);
    for (uint32_t i = 0; i < s->nls; i++)
        free(s->ls_labels[i]);
    free(s->ls_labels);
    free(s->ls_n);
    for (uint32_t i = 0; i < s->kn.n; i++)
        free((void *)s->kn.name[i]);
    free(s->kn.name);
    free(s->kn.len);
    map_free(&s->kn_by_hash);
    if (s->nnew)
        for (size_t i = 0; i < s->nnew_cap; i++)
            chain_free(s->nnew[i]);
    free(s->nnew);
    for (size_t i = 0; i < s->ntrec; i++)
        chain_free(s->trecs[i].chain);
    free(s->trecs);
    map_free(&s->tmap);
    free(s->tbits);
    if (s->eprops)
        for (size_t i = 0; i < s->ecap; i++)
            echain_free(s->eprops[i]);
    free(s->esrc);
    free(s->edst);
    free(s->ebegin);
    free(s->eend);
    free(s->etype);
    free(s->eprops);
    free(s->eended);
    for (size_t i = 0; i < s->nberec; i++)
        echain_free(s->berecs[i].props);
    free(s->berecs);
    map_free(&s->bmap);
    free(s->bbits);
    for (int d = 0; d < 2; d++)
        for (int r = 0; r < s->nruns[d]; r++)
            run_free(&s->runs[d][r]);
    free(s->pending);
    for (size_t i = 0; i < s->narenas; i++)
        free(s->arenas[i]);
    free(s->arenas);
    lpg_labels_free(s->labels);
    lpg_keyidx_free(s->keys);
    free(s->dirty_parts);
    free(s->dirty_elocs);
    map_free(&s->dead_keys);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->init);
    free(s);
}

/* ---- base attachment -------------------------------------------------------------------------- */
static int grow_slots(void **arr, uint32_t *n, uint32_t need, size_t elem)
{
    if (need <= *n)
        return LPG_OK;
    void *q = realloc(*arr, (size_t)need * elem);
    if (!q)
        return LPG_ENOMEM;
    memset((char *)q + (size_t)*n * elem, 0, (size_t)(need - *n) * elem);
    *arr = q;
    *n = need;
    return LPG_OK;
}

/* Put file f (or, f NULL, the lazily opened file `lazy` - 1) into the slot its kind and keys name.
 * `id` stands for the file in corruption reports.  Caller holds the write lock. */
static int attach_slot(lpg_store *s, uint32_t kind, uint64_t key1, uint64_t key2, lpg_file *f,
                       uint64_t lazy, const lpg_file *id)
{
    int rc = LPG_OK;
    if (kind == KIND_PART) {
        if (key1 >= (LPG_ID_CAP >> PART_SHIFT) || (key1 << PART_SHIFT) >= s->node_base + PART_SLOTS) {
            rc = file_corrupt(id, 32);
            goto out;
        }
        uint32_t p = (uint32_t)key1;
        if ((rc = grow_slots((void **)&s->parts, &s->nparts, p + 1, sizeof(pslot))))
            goto out;
        if (s->parts[p].state == 1)
            part_release(&s->parts[p].pt);
        memset(&s->parts[p], 0, sizeof(pslot));
        s->parts[p].f = f;
        s->parts[p].lazy = lazy;
    } else if (kind == KIND_ELOC) {
        if (key1 >= (LPG_ID_CAP >> ELOC_SHIFT)) {
            rc = file_corrupt(id, 32);
            goto out;
        }
        uint32_t q = (uint32_t)key1;
        if ((rc = grow_slots((void **)&s->elocs, &s->nelocs, q + 1, sizeof(eslot))))
            goto out;
        memset(&s->elocs[q], 0, sizeof(eslot));
        s->elocs[q].f = f;
        s->elocs[q].lazy = lazy;
    } else {
        uint64_t index = key1;
        uint32_t nsub_log = (uint32_t)(key2 >> 32), sub = (uint32_t)key2;
        if (index >= (1u << 20) || nsub_log > 16 || sub >= (1u << nsub_log)) {
            rc = file_corrupt(id, 32);
            goto out;
        }
        if ((rc = grow_slots((void **)&s->kidx, &s->nkidx, (uint32_t)index + 1, sizeof(kindex))))
            goto out;
        kindex *ki = &s->kidx[index];
        if (!ki->present || ki->nsub_log != nsub_log) {
            if (ki->present) {   /* mixing split levels in one generation is a manifest error */
                rc = file_corrupt(id, 40);
                goto out;
            }
            ki->subs = calloc((size_t)1 << nsub_log, sizeof(kslot));
            if (!ki->subs) {
                rc = LPG_ENOMEM;
                goto out;
            }
            ki->nsub_log = nsub_log;
            ki->present = 1;
        }
        memset(&ki->subs[sub], 0, sizeof(kslot));
        ki->subs[sub].f = f;
        ki->subs[sub].lazy = lazy;
    }
out:
    return rc;
}

int lpg_store_attach(lpg_store *s, lpg_file *f)
{
    if (!s || !f)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = attach_slot(s, f->kind, f->key1, f->key2, f, 0, f);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_attach_lazy(lpg_store *s, uint32_t kind, uint64_t key1, uint64_t key2, uint64_t handle)
{
    if (!s || kind < KIND_PART || kind > KIND_ELOC || handle == UINT64_MAX)
        return LPG_EINVAL;
    lpg_file id = {0};
    id.tag = handle;
    pthread_rwlock_wrlock(&s->lock);
    int rc = attach_slot(s, kind, key1, key2, NULL, handle + 1, &id);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Open the lazily attached file of a slot (init mutex held, *f NULL): through the Python side,
 * then check it is the file the slot was attached as. */
static int open_lazy(uint64_t lazy, uint32_t kind, uint64_t key1, uint64_t key2, lpg_file **f)
{
    lpg_file id = {0};
    id.tag = lazy - 1;
    lpg_file *g = NULL;
    int rc = lpg_open_file_cb(lazy - 1, &g);
    if (rc || !g)
        return file_corrupt(&id, 0);          /* the Python side holds the real error */
    if (g->kind != kind || g->key1 != key1 || g->key2 != key2)
        return file_corrupt(g, 12);
    __atomic_store_n(f, g, __ATOMIC_RELEASE);
    return LPG_OK;
}

int lpg_store_key_index(lpg_store *s, uint32_t index, uint32_t nsub_log)
{
    /* declare a base index with no files yet (all sub-indexes empty) */
    if (!s || nsub_log > 16 || index >= (1u << 20))
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    if ((rc = grow_slots((void **)&s->kidx, &s->nkidx, index + 1, sizeof(kindex))))
        goto out;
    kindex *ki = &s->kidx[index];
    if (!ki->present) {
        ki->subs = calloc((size_t)1 << nsub_log, sizeof(kslot));
        if (!ki->subs) {
            rc = LPG_ENOMEM;
            goto out;
        }
        ki->nsub_log = nsub_log;
        ki->present = 1;
    } else if (ki->nsub_log != nsub_log)
        rc = LPG_EINVAL;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_set_base_counts(lpg_store *s, const uint64_t *labels, size_t nlabels, const uint64_t *types,
                              size_t ntypes)
{
    if (!s || (nlabels && !labels) || (ntypes && !types) || nlabels > LPG_LABEL_CAP || ntypes > (1u << 24))
        return LPG_EINVAL;
    uint64_t *l = calloc(nlabels + 1, 8), *t = calloc(ntypes + 1, 8);
    if (!l || !t) {
        free(l);
        free(t);
        return LPG_ENOMEM;
    }
    if (nlabels)
        memcpy(l, labels, nlabels * 8);
    if (ntypes)
        memcpy(t, types, ntypes * 8);
    pthread_rwlock_wrlock(&s->lock);
    free(s->base_lcount);
    free(s->base_tcount);
    s->base_lcount = l;
    s->nbase_lcount = (uint32_t)nlabels;
    s->base_tcount = t;
    s->nbase_tcount = (uint32_t)ntypes;
    pthread_rwlock_unlock(&s->lock);
    return LPG_OK;
}

int lpg_store_set_labelset(lpg_store *s, uint32_t id, const uint32_t *labels, size_t n)
{
    if (!s || (n && !labels) || n > 4096 || id >= (1u << 24))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (labels[i] == 0 || labels[i] >= LPG_LABEL_CAP)
            return LPG_EBOUNDS;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    if (id < s->nls && s->ls_labels[id]) {
        rc = LPG_EEXIST;
        goto out;
    }
    if (id >= s->nls) {
        uint32_t **a = realloc(s->ls_labels, (id + 1) * sizeof(uint32_t *));
        if (!a) {
            rc = LPG_ENOMEM;
            goto out;
        }
        s->ls_labels = a;
        uint32_t *b = realloc(s->ls_n, (id + 1) * sizeof(uint32_t));
        if (!b) {
            rc = LPG_ENOMEM;
            goto out;
        }
        s->ls_n = b;
        for (uint32_t i = s->nls; i <= id; i++) {
            s->ls_labels[i] = NULL;
            s->ls_n[i] = 0;
        }
        s->nls = id + 1;
    }
    uint32_t *c = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!c) {
        rc = LPG_ENOMEM;
        goto out;
    }
    if (n)
        memcpy(c, labels, n * sizeof(uint32_t));
    s->ls_labels[id] = c;
    s->ls_n[id] = (uint32_t)n;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static inline int lset_known(const lpg_store *s, uint32_t id)
{
    return id < s->nls && s->ls_labels[id] != NULL;
}

/* Property keys: id -> name, and name -> id through a hash map (build.c adds keys). */
int store_propkey_id(lpg_store *s, const uint8_t *name, size_t len, int add, uint32_t *id)
{
    uint64_t h = key_hash(name, len), v;
    /* chain through the map: key h, then h+1, ... (linear: collisions are vanishingly rare) */
    for (uint64_t k = h;; k++) {
        if (k == EMPTY_KEY)
            k = 0;
        if (!map_get(&s->kn_by_hash, k, &v))
            break;
        if (s->kn.len[v] == len && memcmp(s->kn.name[v], name, len) == 0) {
            *id = (uint32_t)v;
            return LPG_OK;
        }
    }
    if (!add)
        return LPG_ENOTFOUND;
    if (s->kn.n >= (1u << 24) || len > UINT32_MAX)
        return LPG_EBOUNDS;
    if (s->kn.n == s->kncap) {
        uint32_t ncap = s->kncap ? s->kncap * 2 : 64;
        const uint8_t **a = realloc(s->kn.name, ncap * sizeof(*a));
        if (!a)
            return LPG_ENOMEM;
        s->kn.name = a;
        uint32_t *b = realloc(s->kn.len, ncap * sizeof(uint32_t));
        if (!b)
            return LPG_ENOMEM;
        s->kn.len = b;
        s->kncap = ncap;
    }
    uint8_t *c = malloc(len ? len : 1);
    if (!c)
        return LPG_ENOMEM;
    if (len)
        memcpy(c, name, len);
    uint64_t k = h;
    for (;; k++) {
        if (k == EMPTY_KEY)
            k = 0;
        if (!map_get(&s->kn_by_hash, k, &v))
            break;
    }
    if (map_put(&s->kn_by_hash, k, s->kn.n)) {
        free(c);
        return LPG_ENOMEM;
    }
    s->kn.name[s->kn.n] = c;
    s->kn.len[s->kn.n] = (uint32_t)len;
    *id = s->kn.n++;
    return LPG_OK;
}

int lpg_store_set_propkey(lpg_store *s, uint32_t id, const uint8_t *name, size_t len)
{
    if (!s || (len && !name) || len > UINT32_MAX)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = LPG_OK;
    if (id != s->kn.n)
        rc = LPG_EINVAL;            /* ids are dense, given in order */
    else {
        uint32_t got;
        if (store_propkey_id(s, name, len, 0, &got) == LPG_OK)
            rc = LPG_EEXIST;
        else
            rc = store_propkey_id(s, name, len, 1, &got);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_propkeys(lpg_store *s, uint32_t *n)
{
    if (!s || !n)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&s->lock);
    *n = s->kn.n;
    pthread_rwlock_unlock(&s->lock);
    return LPG_OK;
}

int lpg_store_propkey(lpg_store *s, uint32_t id, uint8_t *out, size_t cap, size_t *len)
{
    if (!s || !len || (cap && !out))
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&s->lock);
    if (id >= s->kn.n)
        rc = LPG_ENOTFOUND;
    else {
        *len = s->kn.len[id];
        if (cap < *len)
            rc = LPG_ETOOSMALL;
        else if (*len)
            memcpy(out, s->kn.name[id], *len);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- lazy base access (caller holds the lock, shared or exclusive) ----------------------------- */
int st_part(lpg_store *s, uint32_t p, part **out)
{
    *out = NULL;
    if (p >= s->nparts || (!s->parts[p].lazy && !s->parts[p].f))
        return LPG_OK;
    pslot *ps = &s->parts[p];
    int st = __atomic_load_n(&ps->state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        pthread_mutex_lock(&s->init);
        st = ps->state;
        if (st == 0 && !ps->f) {
            int rc = open_lazy(ps->lazy, KIND_PART, p, 0, &ps->f);
            if (rc) {
                pthread_mutex_unlock(&s->init);
                return rc;
            }
        }
        if (st == 0) {
            int rc = part_parse(ps->f, &ps->pt);
            __atomic_store_n(&ps->state, rc ? rc : 1, __ATOMIC_RELEASE);
            st = rc ? rc : 1;
        }
        pthread_mutex_unlock(&s->init);
    }
    if (st != 1)
        return file_corrupt(ps->f, FILE_HDR);
    *out = &ps->pt;
    return LPG_OK;
}

int st_eloc(lpg_store *s, uint32_t q, eloc **out)
{
    *out = NULL;
    if (q >= s->nelocs || (!s->elocs[q].lazy && !s->elocs[q].f))
        return LPG_OK;
    eslot *es = &s->elocs[q];
    int st = __atomic_load_n(&es->state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        pthread_mutex_lock(&s->init);
        st = es->state;
        if (st == 0 && !es->f) {
            int rc = open_lazy(es->lazy, KIND_ELOC, q, 0, &es->f);
            if (rc) {
                pthread_mutex_unlock(&s->init);
                return rc;
            }
        }
        if (st == 0) {
            int rc = eloc_parse(es->f, &es->e);
            __atomic_store_n(&es->state, rc ? rc : 1, __ATOMIC_RELEASE);
            st = rc ? rc : 1;
        }
        pthread_mutex_unlock(&s->init);
    }
    if (st != 1)
        return file_corrupt(es->f, FILE_HDR);
    *out = &es->e;
    return LPG_OK;
}

int st_ksub(lpg_store *s, uint32_t index, uint32_t sub, uint32_t nsub_log, ksub **out)
{
    *out = NULL;
    if (index >= s->nkidx || !s->kidx[index].present || s->kidx[index].nsub_log != nsub_log)
        return LPG_OK;
    kslot *ks = &s->kidx[index].subs[sub];
    if (!ks->lazy && !ks->f)
        return LPG_OK;
    int st = __atomic_load_n(&ks->state, __ATOMIC_ACQUIRE);
    if (st == 0) {
        pthread_mutex_lock(&s->init);
        st = ks->state;
        if (st == 0 && !ks->f) {
            int rc = open_lazy(ks->lazy, KIND_KEYS, index, ((uint64_t)nsub_log << 32) | sub, &ks->f);
            if (rc) {
                pthread_mutex_unlock(&s->init);
                return rc;
            }
        }
        if (st == 0) {
            int rc = ksub_parse(ks->f, &ks->k);
            if (!rc && (ks->k.nsub_log != nsub_log || ks->k.sub != sub))
                rc = file_corrupt(ks->f, 40);
            __atomic_store_n(&ks->state, rc ? rc : 1, __ATOMIC_RELEASE);
            st = rc ? rc : 1;
        }
        pthread_mutex_unlock(&s->init);
    }
    if (st != 1)
        return file_corrupt(ks->f, FILE_HDR);
    *out = &ks->k;
    return LPG_OK;
}

/* ---- versions ----------------------------------------------------------------------------------- */
static inline trec *trec_of(const lpg_store *s, uint64_t nid)
{
    if (nid >= s->node_base || !bit_get(s->tbits, nid))
        return NULL;
    uint64_t i;
    if (!map_get(&s->tmap, nid, &i))
        return NULL;
    return &s->trecs[i];
}

/* The overlay chain of nid (NULL if none); *touched = 1 for a changed base node. */
const nver *st_node_chain(const lpg_store *s, uint64_t nid, int *touched)
{
    *touched = 0;
    if (nid >= s->node_base) {
        uint64_t i = nid - s->node_base;
        return i < s->nnew_cap ? s->nnew[i] : NULL;
    }
    trec *t = trec_of(s, nid);
    if (!t)
        return NULL;
    *touched = 1;
    return t->chain;
}

/* The touch LSN of a base node: the oldest version in its chain has the smallest begin, and the
 * chain is trimmed only down to versions no reader can see, so any snap a reader uses compares
 * correctly against the oldest kept begin (see invariant (1)). */
int st_touched_at(const lpg_store *s, uint64_t nid, uint64_t snap)
{
    trec *t = trec_of(s, nid);
    if (!t)
        return 0;
    const nver *v = t->chain;
    while (v && v->prev)
        v = v->prev;
    return v && v->begin <= snap;
}

const berec *st_berec(const lpg_store *s, uint64_t eid)
{
    if (eid >= s->edge_base || !bit_get(s->bbits, eid))
        return NULL;
    uint64_t i;
    if (!map_get(&s->bmap, eid, &i))
        return NULL;
    return &s->berecs[i];
}

/* Visibility of a held overlay edge (every edge a run names is held: slots are never freed). */
int st_overlay_visible(const lpg_store *s, uint64_t eid, uint64_t snap)
{
    uint64_t i = eid - s->edge_base;
    if (snap >= s->max_begin && !bit_get(s->eended, i))
        return 1;
    return s->ebegin[i] <= snap && snap < s->eend[i];
}

/* ---- reading nodes ------------------------------------------------------------------------------ */
int st_locate_node(lpg_store *s, uint64_t nid, uint64_t snap, nloc *L)
{
    memset(L, 0, sizeof(*L));
    int touched;
    const nver *chain = st_node_chain(s, nid, &touched);
    if (nid >= s->node_base || touched) {
        const nver *v = nver_at(chain, snap);
        if (v) {
            if (v->lset != NV_DELETED) {
                L->where = 1;
                L->v = v;
                L->lset = v->lset;
            }
            return LPG_OK;
        }
        if (nid >= s->node_base)
            return LPG_OK;
    }
    part *pt;
    int rc = st_part(s, (uint32_t)(nid >> PART_SHIFT), &pt);
    if (rc || !pt)
        return rc;
    uint64_t i = nid & (PART_SLOTS - 1);
    if (i >= pt->n)
        return LPG_OK;
    int exists;
    uint32_t lset;
    if ((rc = part_node(pt, i, &exists, &lset)))
        return rc;
    if (!exists)
        return LPG_OK;
    if (!lset_known(s, lset))
        return file_corrupt(pt->f, pt->labelset.bits_off);
    L->where = 2;
    L->pt = pt;
    L->slot = i;
    L->lset = lset;
    return LPG_OK;
}

static __thread buf tl_props;

static int copy_out(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    *len = n;
    if (n > cap)
        return LPG_ETOOSMALL;
    if (n)
        memcpy(out, p, n);
    return LPG_OK;
}

/* The property bytes of the located (visible) node version L, copied to out (read lock held). */
static int node_props_out(lpg_store *s, const nloc *L, uint8_t *out, size_t cap, size_t *len)
{
    if (L->where == 1)
        return copy_out(L->v->props, L->v->len, out, cap, len);
    tl_props.n = 0;
    int rc = part_emit_node_props(L->pt, L->slot, &s->kn, &tl_props);
    return rc ? rc : copy_out(tl_props.p, tl_props.n, out, cap, len);
}

int lpg_store_node(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset, uint8_t *out, size_t cap,
                   size_t *len)
{
    if (!s || !lset || !len || (cap && !out))
        return LPG_EINVAL;
    if (nid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    nloc L;
    int rc = st_locate_node(s, nid, snap, &L);
    if (rc)
        goto out;
    if (!L.where) {
        rc = LPG_ENOTFOUND;
        goto out;
    }
    *lset = L.lset;
    rc = node_props_out(s, &L, out, cap, len);
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_node_lset(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset)
{
    if (!s || !lset)
        return LPG_EINVAL;
    if (nid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    nloc L;
    int rc = st_locate_node(s, nid, snap, &L);
    if (!rc) {
        if (L.where)
            *lset = L.lset;
        else
            rc = LPG_ENOTFOUND;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- reading edges ------------------------------------------------------------------------------ */
/* Locate base edge eid in the files (ignores the overlay). */
int st_locate_base_edge(lpg_store *s, uint64_t eid, eloc_t *E)
{
    eloc *el;
    int rc = st_eloc(s, (uint32_t)(eid >> ELOC_SHIFT), &el);
    if (rc || !el)
        return rc;
    uint64_t row = eid & (ELOC_SLOTS - 1), src1, type;
    if (row >= el->src.count)
        return LPG_OK;
    if ((rc = pcol_get(&el->src, row, &src1)) || (rc = pcol_get(&el->type, row, &type)))
        return rc;
    if (!src1)
        return LPG_OK;
    uint64_t src = src1 - 1;
    if (src >= s->node_base || type > UINT32_MAX)
        return file_corrupt(el->f, el->src.bits_off);
    part *pt;
    if ((rc = st_part(s, (uint32_t)(src >> PART_SHIFT), &pt)))
        return rc;
    const pcsr *c = pt ? part_csr(pt, (uint32_t)type, 0) : NULL;
    uint64_t i = src & (PART_SLOTS - 1);
    if (!c || i >= pt->n)
        return file_corrupt(el->f, el->src.bits_off);
    uint64_t lo, hi, dst;
    int64_t pos;
    if ((rc = csr_range(c, i, &lo, &hi)) || (rc = csr_find(c, lo, hi, eid, &pos)))
        return rc;
    if (pos < 0)
        return file_corrupt(el->f, el->src.bits_off);
    if ((rc = pcol_get(&c->nbr, (uint64_t)pos, &dst)))
        return rc;
    if (dst >= s->node_base)
        return file_corrupt(pt->f, c->nbr.bits_off);
    E->where = 2;
    E->type = (uint32_t)type;
    E->src = src;
    E->dst = dst;
    E->c = c;
    E->entry = (uint64_t)pos;
    return LPG_OK;
}

static int locate_edge(lpg_store *s, uint64_t eid, uint64_t snap, eloc_t *E)
{
    memset(E, 0, sizeof(*E));
    if (eid >= s->edge_base) {
        uint64_t i = eid - s->edge_base;
        if (i >= s->ecap || s->ebegin[i] == FREE_LSN || !st_overlay_visible(s, eid, snap))
            return LPG_OK;
        E->where = 1;
        E->type = s->etype[i];
        E->src = s->esrc[i];
        E->dst = s->edst[i];
        E->pv = ever_at(s->eprops[i], snap);
        return LPG_OK;
    }
    const berec *b = st_berec(s, eid);
    if (b && b->end <= snap)
        return LPG_OK;
    int rc = st_locate_base_edge(s, eid, E);
    if (!rc && E->where && b)
        E->pv = ever_at(b->props, snap);
    return rc;
}

int lpg_store_edge(lpg_store *s, uint64_t snap, uint64_t eid, uint32_t *type, uint64_t *src, uint64_t *dst,
                   uint8_t *out, size_t cap, size_t *len)
{
    if (!s || !type || !src || !dst || !len || (cap && !out))
        return LPG_EINVAL;
    if (eid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    eloc_t E;
    int rc = locate_edge(s, eid, snap, &E);
    if (rc)
        goto out;
    if (!E.where) {
        rc = LPG_ENOTFOUND;
        goto out;
    }
    *type = E.type;
    *src = E.src;
    *dst = E.dst;
    if (E.pv || E.where == 1)
        rc = copy_out(E.pv ? E.pv->props : NULL, E.pv ? E.pv->len : 0, out, cap, len);
    else {
        tl_props.n = 0;
        if ((rc = csr_emit_edge_props(E.c, E.entry, &s->kn, &tl_props)))
            goto out;
        rc = copy_out(tl_props.p, tl_props.n, out, cap, len);
    }
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- adjacency ---------------------------------------------------------------------------------- */
typedef int (*visit_fn)(void *ctx, uint64_t nbr, uint64_t eid);

static const orun *run_find(const orun *r, uint64_t node, size_t *k)
{
    size_t lo = 0, hi = r->nnodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->node[mid] < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->nnodes && r->node[lo] == node) {
        *k = lo;
        return r;
    }
    return NULL;
}

/* Visit the edges of v in direction d (0 out, 1 in) visible at snap with a wanted type; with
 * skip_loops, self-loops are left out (the in-pass of "both"). */
static int visit_dir(lpg_store *s, uint64_t v, int d, const typeset *ts, uint64_t snap, int skip_loops,
                     visit_fn fn, void *ctx)
{
    int rc;
    if (v < s->node_base) {
        part *pt;
        if ((rc = st_part(s, (uint32_t)(v >> PART_SHIFT), &pt)))
            return rc;
        uint64_t i = v & (PART_SLOTS - 1);
        if (pt && i < pt->n) {
            for (uint32_t c = 0; c < pt->ncsr; c++) {
                const pcsr *x = &pt->csr[c];
                if (x->dir != (uint32_t)d || !typeset_has(ts, x->type))
                    continue;
                uint64_t lo, hi;
                if ((rc = csr_range(x, i, &lo, &hi)))
                    return rc;
                if (lo == hi)
                    continue;
                if ((rc = pcol_touch(&x->eid, lo, hi)) || (rc = pcol_touch(&x->nbr, lo, hi)))
                    return rc;
                int dead = s->nbase_dead != 0;
                for (uint64_t j = lo; j < hi; j++) {
                    uint64_t eid = pcol_get_raw(&x->eid, j), nbr = pcol_get_raw(&x->nbr, j);
                    if (nbr >= s->node_base || eid >= s->edge_base)
                        return file_corrupt(pt->f, x->nbr.bits_off);
                    if (skip_loops && nbr == v)
                        continue;
                    if (dead && bit_get(s->bbits, eid)) {
                        const berec *b = st_berec(s, eid);
                        if (b && b->end <= snap)
                            continue;
                    }
                    if ((rc = fn(ctx, nbr, eid)))
                        return rc;
                }
            }
        }
    }
    for (int r = 0; r < s->nruns[d]; r++) {
        size_t k;
        const orun *run = run_find(&s->runs[d][r], v, &k);
        if (!run)
            continue;
        for (uint64_t j = run->off[k]; j < run->off[k + 1]; j++) {
            const oent *e = &run->ent[j];
            uint64_t nbr = e->nt & NT_MASK;
            if (!typeset_has(ts, (uint32_t)(e->nt >> NT_SHIFT)) || (skip_loops && nbr == v))
                continue;
            if (!st_overlay_visible(s, e->eid, snap))
                continue;
            if ((rc = fn(ctx, nbr, e->eid)))
                return rc;
        }
    }
    return LPG_OK;
}

static int c_count(void *c, uint64_t nbr, uint64_t eid);

/* Count the edges visit_dir would visit, without decoding base entries when no base edge was
 * deleted (the CSR range's length is the count) and without self-loop exclusion. */
static int count_dir(lpg_store *s, uint64_t v, int d, const typeset *ts, uint64_t snap, uint64_t *out)
{
    int rc;
    if (v < s->node_base) {
        part *pt;
        if ((rc = st_part(s, (uint32_t)(v >> PART_SHIFT), &pt)))
            return rc;
        uint64_t i = v & (PART_SLOTS - 1);
        if (pt && i < pt->n) {
            for (uint32_t c = 0; c < pt->ncsr; c++) {
                const pcsr *x = &pt->csr[c];
                if (x->dir != (uint32_t)d || !typeset_has(ts, x->type))
                    continue;
                uint64_t lo, hi;
                if ((rc = csr_range(x, i, &lo, &hi)))
                    return rc;
                *out += hi - lo;
            }
        }
    }
    for (int r = 0; r < s->nruns[d]; r++) {
        size_t k;
        const orun *run = run_find(&s->runs[d][r], v, &k);
        if (!run)
            continue;
        for (uint64_t j = run->off[k]; j < run->off[k + 1]; j++) {
            const oent *e = &run->ent[j];
            if (typeset_has(ts, (uint32_t)(e->nt >> NT_SHIFT)) && st_overlay_visible(s, e->eid, snap))
                (*out)++;
        }
    }
    return LPG_OK;
}

static int visit(lpg_store *s, uint64_t v, int dir, const typeset *ts, uint64_t snap, visit_fn fn, void *ctx)
{
    if (fn == c_count && s->nbase_dead == 0 && dir != 2)
        return count_dir(s, v, dir, ts, snap, (uint64_t *)ctx);
    if (dir == 2) {
        int rc = visit_dir(s, v, 0, ts, snap, 0, fn, ctx);
        return rc ? rc : visit_dir(s, v, 1, ts, snap, 1, fn, ctx);
    }
    return visit_dir(s, v, dir, ts, snap, 0, fn, ctx);
}

static int read_args(int dir, const uint32_t *types, size_t ntypes, typeset *ts)
{
    if (dir < 0 || dir > 2)
        return LPG_EINVAL;
    return typeset_init(ts, types, ntypes);
}

typedef struct {
    uint64_t *nbr, *eid;
    uint32_t *from;
    size_t cap, n;
    uint32_t cur;
} xctx;

static int x_emit(void *c, uint64_t nbr, uint64_t eid)
{
    xctx *x = c;
    if (x->n < x->cap) {
        x->nbr[x->n] = nbr;
        x->eid[x->n] = eid;
        x->from[x->n] = x->cur;
    }
    x->n++;
    return LPG_OK;
}

int lpg_store_expand(lpg_store *s, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                     size_t ntypes, uint64_t snap, uint64_t *out_nbr, uint64_t *out_eid, uint32_t *out_from,
                     size_t cap, size_t *count)
{
    if (!s || !count || (n && !nodes) || (cap && (!out_nbr || !out_eid || !out_from)))
        return LPG_EINVAL;
    *count = 0;
    if (n > UINT32_MAX)
        return LPG_EBOUNDS;
    typeset ts;
    int rc = read_args(dir, types, ntypes, &ts);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (nodes[i] >= LPG_ID_CAP) {
            typeset_free(&ts);
            return LPG_EBOUNDS;
        }
    xctx x = {out_nbr, out_eid, out_from, cap, 0, 0};
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        x.cur = (uint32_t)i;
        rc = visit(s, nodes[i], dir, &ts, snap, x_emit, &x);
    }
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    *count = x.n;
    if (!rc && x.n > cap)
        rc = LPG_ETOOSMALL;
    return rc;
}

static int c_count(void *c, uint64_t nbr, uint64_t eid)
{
    (void)nbr;
    (void)eid;
    (*(uint64_t *)c)++;
    return LPG_OK;
}

int lpg_store_degree_many(lpg_store *s, const uint64_t *nodes, size_t n, int dir, const uint32_t *types,
                          size_t ntypes, uint64_t snap, uint64_t *out)
{
    if (!s || (n && (!nodes || !out)))
        return LPG_EINVAL;
    typeset ts;
    int rc = read_args(dir, types, ntypes, &ts);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (nodes[i] >= LPG_ID_CAP) {
            typeset_free(&ts);
            return LPG_EBOUNDS;
        }
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        out[i] = 0;
        rc = visit(s, nodes[i], dir, &ts, snap, c_count, &out[i]);
    }
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    return rc;
}

/* count_reach: per-thread frontier lists and a bitmap over node ids, cleared through the lists */
typedef struct {
    uint64_t *mark;
    size_t words;
    uint64_t *f[2];
    size_t fcap[2], nf[2];
    int cur;
} reach;

static __thread reach tl_reach;

static int r_emit(void *c, uint64_t nbr, uint64_t eid)
{
    (void)eid;
    reach *r = c;
    if (nbr >= (uint64_t)r->words * 64)
        return LPG_EBOUNDS;
    if (bit_get(r->mark, nbr))
        return LPG_OK;
    bit_set(r->mark, nbr);
    int nx = 1 - r->cur;
    if (grow((void **)&r->f[nx], &r->fcap[nx], r->nf[nx] + 1, sizeof(uint64_t)))
        return LPG_ENOMEM;
    r->f[nx][r->nf[nx]++] = nbr;
    return LPG_OK;
}

int lpg_store_count_reach(lpg_store *s, uint64_t seed, uint32_t hops, int dir, const uint32_t *types,
                          size_t ntypes, uint64_t snap, int exclude_seed, uint64_t *count)
{
    if (!s || !count)
        return LPG_EINVAL;
    *count = 0;
    if (seed >= LPG_ID_CAP || hops > (1u << 20))
        return LPG_EBOUNDS;
    typeset ts;
    int rc = read_args(dir, types, ntypes, &ts);
    if (rc)
        return rc;
    if (hops == 0) {
        *count = exclude_seed ? 0 : 1;
        typeset_free(&ts);
        return LPG_OK;
    }
    reach *r = &tl_reach;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t limit = s->node_hi > s->node_base ? s->node_hi : s->node_base;
    if (seed >= limit)
        limit = seed + 1;
    size_t words = (size_t)(limit / 64) + 1;
    if (words > r->words) {
        uint64_t *m = realloc(r->mark, words * 8);
        if (!m) {
            rc = LPG_ENOMEM;
            goto out;
        }
        memset(m + r->words, 0, (words - r->words) * 8);
        r->mark = m;
        r->words = words;
    }
    r->cur = 0;
    r->nf[0] = r->nf[1] = 0;
    if (grow((void **)&r->f[0], &r->fcap[0], 1, sizeof(uint64_t))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    r->f[0][r->nf[0]++] = seed;
    for (uint32_t h = 0; h < hops && r->nf[r->cur] && !rc; h++) {
        int nx = 1 - r->cur;
        r->nf[nx] = 0;
        for (size_t i = 0; i < r->nf[r->cur] && !rc; i++)
            rc = visit(s, r->f[r->cur][i], dir, &ts, snap, r_emit, r);
        for (size_t i = 0; i < r->nf[nx]; i++)   /* marks are per level */
            r->mark[r->f[nx][i] >> 6] &= ~(1ULL << (r->f[nx][i] & 63));
        r->cur = nx;
    }
    if (!rc) {
        uint64_t c = r->nf[r->cur];
        if (exclude_seed)
            for (size_t i = 0; i < r->nf[r->cur]; i++)
                if (r->f[r->cur][i] == seed) {
                    c--;
                    break;
                }
        *count = c;
    }
out:
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    return rc;
}

/* ---- label scans and counts ------------------------------------------------------------------- */
static int lset_has(const lpg_store *s, uint32_t lset, uint32_t label)
{
    if (lset == NV_DELETED)
        return 0;
    if (label == 0)
        return 1;
    if (!lset_known(s, lset))
        return 0;
    for (uint32_t i = 0; i < s->ls_n[lset]; i++)
        if (s->ls_labels[lset][i] == label)
            return 1;
    return 0;
}

typedef struct {
    uint64_t *v;
    size_t n, cap;
} u64vec;

static int vec_push(u64vec *a, uint64_t x)
{
    if (a->n == a->cap && grow((void **)&a->v, &a->cap, a->n + 1, 8))
        return LPG_ENOMEM;
    a->v[a->n++] = x;
    return LPG_OK;
}

/* Base members of label (0 = every node) not touched at snap, ascending. */
static int base_label_members(lpg_store *s, uint32_t label, uint64_t snap, u64vec *out)
{
    for (uint32_t p = 0; p < s->nparts; p++) {
        part *pt;
        int rc = st_part(s, p, &pt);
        if (rc)
            return rc;
        if (!pt)
            continue;
        const pcol *bits = NULL;
        if (label == 0)
            bits = &pt->flags;
        else
            for (uint32_t j = 0; j < pt->nlbl; j++)
                if (pt->lbl[j] == label)
                    bits = &pt->lbits[j];
        if (!bits || !pt->n)
            continue;
        if ((rc = pcol_touch(bits, 0, pt->n)))
            return rc;
        uint64_t first = (uint64_t)p << PART_SHIFT;
        for (uint64_t i = 0; i < pt->n; i++) {
            if (!(pcol_get_raw(bits, i) & 1))
                continue;
            uint64_t nid = first + i;
            if (nid >= s->node_base)
                return file_corrupt(pt->f, bits->bits_off);
            if (st_touched_at(s, nid, snap))
                continue;
            if ((rc = vec_push(out, nid)))
                return rc;
        }
    }
    return LPG_OK;
}

static int overlay_label_members(lpg_store *s, uint32_t label, uint64_t snap, u64vec *out)
{
    size_t cnt = 0;
    int rc = lpg_labels_scan(s->labels, label, snap, out->v, out->cap, &cnt);
    if (rc == LPG_ETOOSMALL) {
        if (grow((void **)&out->v, &out->cap, cnt, 8))
            return LPG_ENOMEM;
        rc = lpg_labels_scan(s->labels, label, snap, out->v, out->cap, &cnt);
    }
    if (rc)
        return rc;
    out->n = cnt;
    return LPG_OK;
}

/* Merge two ascending lists into out (ETOOSMALL with the size when cap is short). */
static int merge_out(const u64vec *a, const u64vec *b, uint64_t *out, size_t cap, size_t *count)
{
    *count = a->n + b->n;
    if (*count > cap)
        return LPG_ETOOSMALL;
    size_t i = 0, j = 0, k = 0;
    while (i < a->n || j < b->n) {
        if (j >= b->n || (i < a->n && a->v[i] < b->v[j]))
            out[k++] = a->v[i++];
        else
            out[k++] = b->v[j++];
    }
    return LPG_OK;
}

int lpg_store_label_scan(lpg_store *s, uint32_t label, uint64_t snap, uint64_t *out, size_t cap,
                         size_t *count)
{
    if (!s || !count || (cap && !out))
        return LPG_EINVAL;
    *count = 0;
    if (label >= LPG_LABEL_CAP)
        return LPG_EBOUNDS;
    u64vec a = {0}, b = {0};
    pthread_rwlock_rdlock(&s->lock);
    int rc = base_label_members(s, label, snap, &a);
    if (!rc)
        rc = overlay_label_members(s, label, snap, &b);
    pthread_rwlock_unlock(&s->lock);
    if (!rc)
        rc = merge_out(&a, &b, out, cap, count);
    free(a.v);
    free(b.v);
    return rc;
}

int lpg_store_label_count(lpg_store *s, uint32_t label, uint64_t snap, uint64_t *n)
{
    if (!s || !n)
        return LPG_EINVAL;
    if (label >= LPG_LABEL_CAP)
        return LPG_EBOUNDS;
    pthread_rwlock_rdlock(&s->lock);
    uint64_t c = label < s->nbase_lcount ? s->base_lcount[label] : 0;
    for (size_t i = 0; i < s->ntrec; i++) {
        const trec *t = &s->trecs[i];
        const nver *v = t->chain;
        while (v && v->prev)
            v = v->prev;
        if (v && v->begin <= snap && lset_has(s, t->base_lset, label))
            c--;
    }
    uint64_t o = 0;
    int rc = lpg_labels_count(s->labels, label, snap, &o);
    pthread_rwlock_unlock(&s->lock);
    *n = c + o;
    return rc;
}

/* ---- edge scans and counts -------------------------------------------------------------------- */
int lpg_store_edge_scan(lpg_store *s, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *out,
                        size_t cap, size_t *count)
{
    if (!s || !count || (cap && !out))
        return LPG_EINVAL;
    *count = 0;
    typeset ts;
    int rc = typeset_init(&ts, types, ntypes);
    if (rc)
        return rc;
    size_t k = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (uint32_t q = 0; q < s->nelocs && !rc; q++) {
        eloc *el;
        if ((rc = st_eloc(s, q, &el)) || !el)
            continue;
        uint64_t rows = el->src.count;
        if ((rc = pcol_touch(&el->src, 0, rows)) || (rc = pcol_touch(&el->type, 0, rows)))
            break;
        for (uint64_t r = 0; r < rows; r++) {
            if (!pcol_get_raw(&el->src, r))
                continue;
            uint64_t t = pcol_get_raw(&el->type, r), eid = ((uint64_t)q << ELOC_SHIFT) | r;
            if (t > UINT32_MAX || eid >= s->edge_base) {
                rc = file_corrupt(el->f, el->type.bits_off);
                break;
            }
            if (!typeset_has(&ts, (uint32_t)t))
                continue;
            const berec *b = st_berec(s, eid);
            if (b && b->end <= snap)
                continue;
            if (k < cap)
                out[k] = eid;
            k++;
        }
    }
    for (uint64_t i = 0; !rc && s->edge_base + i < s->edge_hi; i++) {
        if (s->ebegin[i] == FREE_LSN || !typeset_has(&ts, s->etype[i]) || !st_overlay_visible(s, s->edge_base + i, snap))
            continue;
        if (k < cap)
            out[k] = s->edge_base + i;
        k++;
    }
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    *count = k;
    if (!rc && k > cap)
        rc = LPG_ETOOSMALL;
    return rc;
}

int lpg_store_edge_count(lpg_store *s, const uint32_t *types, size_t ntypes, uint64_t snap, uint64_t *n)
{
    if (!s || !n)
        return LPG_EINVAL;
    typeset ts;
    int rc = typeset_init(&ts, types, ntypes);
    if (rc)
        return rc;
    uint64_t c = 0;
    pthread_rwlock_rdlock(&s->lock);
    for (uint32_t t = 0; t < s->nbase_tcount; t++)
        if (typeset_has(&ts, t))
            c += s->base_tcount[t];
    for (size_t i = 0; i < s->nberec; i++) {
        const berec *b = &s->berecs[i];
        if (b->end <= snap && typeset_has(&ts, b->type))
            c--;
    }
    for (uint64_t i = 0; s->edge_base + i < s->edge_hi; i++)
        if (s->ebegin[i] != FREE_LSN && typeset_has(&ts, s->etype[i]) && st_overlay_visible(s, s->edge_base + i, snap))
            c++;
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    *n = c;
    return LPG_OK;
}

/* ---- keys ----------------------------------------------------------------------------------------- */
typedef struct {
    lpg_store *s;
    uint64_t snap;
    u64vec *out;
} kctx;

static int k_emit(void *c, uint64_t node)
{
    kctx *k = c;
    if (node >= k->s->node_base)
        return LPG_ECORRUPT;
    if (st_touched_at(k->s, node, k->snap))
        return LPG_OK;
    return vec_push(k->out, node);
}

static int base_key_nodes(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                          u64vec *out)
{
    if (index >= s->nkidx || !s->kidx[index].present)
        return LPG_OK;
    uint64_t h = key_hash(key, klen);
    uint32_t nl = s->kidx[index].nsub_log;
    uint32_t sub = nl ? (uint32_t)(h >> (64 - nl)) : 0;
    ksub *k;
    int rc = st_ksub(s, index, sub, nl, &k);
    if (rc || !k)
        return rc;
    kctx c = {s, snap, out};
    rc = ksub_lookup(k, h, key, klen, k_emit, &c);
    if (rc == LPG_ECORRUPT)
        return file_corrupt(k->f, k->hash_off);
    return rc;
}

static __thread u64vec tl_kb, tl_ko;

/* The nodes holding ``key`` under ``index`` at ``snap``: the base files' into tl_kb, the
 * overlay's into tl_ko (merge them with merge_out).  The caller holds s->lock (read). */
static int key_nodes_locked(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap)
{
    tl_kb.n = tl_ko.n = 0;
    int rc = base_key_nodes(s, index, key, klen, snap, &tl_kb);
    if (!rc) {
        size_t cnt = 0;
        rc = lpg_keyidx_get(s->keys, index, key, klen, snap, tl_ko.v, tl_ko.cap, &cnt);
        if (rc == LPG_ETOOSMALL) {
            if (grow((void **)&tl_ko.v, &tl_ko.cap, cnt, 8))
                rc = LPG_ENOMEM;
            else
                rc = lpg_keyidx_get(s->keys, index, key, klen, snap, tl_ko.v, tl_ko.cap, &cnt);
        }
        tl_ko.n = cnt;
    }
    return rc;
}

int lpg_store_key_get(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                      uint64_t *out, size_t cap, size_t *count)
{
    if (!s || !count || (cap && !out) || (klen && !key))
        return LPG_EINVAL;
    *count = 0;
    if (klen > LPG_KEY_MAX)
        return LPG_EBOUNDS;
    pthread_rwlock_rdlock(&s->lock);
    int rc = key_nodes_locked(s, index, key, klen, snap);
    pthread_rwlock_unlock(&s->lock);
    if (!rc)
        rc = merge_out(&tl_kb, &tl_ko, out, cap, count);
    return rc;
}

/* The smallest node holding `key` under `index` at `snap` (base files and overlay), or -1.  The
 * caller holds s->lock (read). */
static int key_first_locked(lpg_store *s, uint32_t index, const uint8_t *k, size_t kl, uint64_t snap, int64_t *best)
{
    tl_kb.n = 0;
    int rc = base_key_nodes(s, index, k, kl, snap, &tl_kb);
    if (rc)
        return rc;
    int64_t b = tl_kb.n ? (int64_t)tl_kb.v[0] : -1;
    int64_t o = -1;
    rc = lpg_keyidx_get_first_many(s->keys, index, k, kl, (const uint64_t[]){0, kl}, 1, snap, &o);
    if (o >= 0 && (b < 0 || o < b))
        b = o;
    *best = b;
    return rc;
}

int lpg_store_key_first_many(lpg_store *s, uint32_t index, const uint8_t *keys, size_t keys_len,
                             const uint64_t *offsets, size_t n, uint64_t snap, int64_t *out)
{
    if (!s || (n && (!offsets || !out)) || (keys_len && !keys))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (offsets[i] > offsets[i + 1] || offsets[i + 1] > keys_len || offsets[i + 1] - offsets[i] > LPG_KEY_MAX)
            return LPG_EBOUNDS;
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++)
        rc = key_first_locked(s, index, keys + offsets[i], (size_t)(offsets[i + 1] - offsets[i]), snap, &out[i]);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_keys_fresh(lpg_store *s, uint32_t index, uint64_t snap, const uint8_t *blob, size_t blen,
                         const uint64_t *offs, size_t n, const uint32_t *tag, const uint8_t *mask, size_t nmask,
                         const uint8_t *name, size_t nlen, int *verdict)
{
    if (!s || !verdict || !offs || (n && !tag))
        return LPG_EINVAL;
    if (n >= UINT32_MAX)
        return LPG_EBOUNDS;
    *verdict = LPG_KEYS_FRESH;
    uint8_t *flags = malloc(n ? n : 1);
    if (!flags)
        return LPG_ENOMEM;
    lpg_rows *r = NULL;
    uint32_t *slot = NULL;
    /* each key read within its row's bounds: the rest of a map is the caller's to check */
    int rc = (blen && !blob) ? LPG_EINVAL : !offsets_ok(offs, n, blen) ? LPG_EBOUNDS
             : rows_key(blob, offs, n, tag, mask, nmask, name, nlen, 0, flags, &r);
    if (rc == LPG_ECORRUPT)
        rc = LPG_EINVAL;                        /* the caller's rows, not a file: not damage */
    if (rc)
        goto out;
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (flags[i] > 1) {                      /* a value C does not canonicalise, or NaN */
            *verdict = LPG_KEYS_PYTHON;
            goto out;
        }
        nk += flags[i];
    }
    if (!nk)
        goto out;
    /* uniqueness among the rows: open addressing over row numbers + 1, at most half full */
    size_t cap = 16;
    while (cap < 2 * nk)
        cap <<= 1;
    if (!(slot = calloc(cap, sizeof *slot))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    const uint8_t *kb = r->blob.p;
    const uint64_t *ko = r->offs;
    for (size_t i = 0; i < n; i++) {
        if (flags[i] != 1)
            continue;
        size_t kl = (size_t)(ko[i + 1] - ko[i]);
        size_t h = (size_t)key_hash(kb + ko[i], kl) & (cap - 1);
        for (; slot[h]; h = (h + 1) & (cap - 1)) {
            size_t j = slot[h] - 1;
            if ((size_t)(ko[j + 1] - ko[j]) == kl && memcmp(kb + ko[j], kb + ko[i], kl) == 0) {
                *verdict = LPG_KEYS_TWICE;
                goto out;
            }
        }
        slot[h] = (uint32_t)(i + 1);
    }
    /* held by a node visible at snap (a key over LPG_KEY_MAX is in no index) */
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < n && !rc && *verdict == LPG_KEYS_FRESH; i++) {
        size_t kl = (size_t)(ko[i + 1] - ko[i]);
        if (flags[i] != 1 || kl > LPG_KEY_MAX)
            continue;
        int64_t first = -1;
        rc = key_first_locked(s, index, kb + ko[i], kl, snap, &first);
        if (!rc && first >= 0)
            *verdict = LPG_KEYS_HELD;
    }
    pthread_rwlock_unlock(&s->lock);
out:
    free(slot);
    lpg_rows_free(r);
    free(flags);
    return rc;
}

/* ---- writes --------------------------------------------------------------------------------------- */
static int mark_part(lpg_store *s, uint64_t nid)
{
    return bits_mark(&s->dirty_parts, &s->dirty_parts_words, nid >> PART_SHIFT);
}

static int mark_eloc(lpg_store *s, uint64_t eid)
{
    return bits_mark(&s->dirty_elocs, &s->dirty_elocs_words, eid >> ELOC_SHIFT);
}

/* Drop the versions of a chain that no reader at or after floor can see. */
static void trim_chain(nver *head, uint64_t floor)
{
    nver *v = head;
    while (v && v->begin > floor)
        v = v->prev;
    if (v && v->prev) {
        chain_free(v->prev);
        v->prev = NULL;
    }
}

static void trim_echain(ever *head, uint64_t floor)
{
    ever *v = head;
    while (v && v->begin > floor)
        v = v->prev;
    if (v && v->prev) {
        echain_free(v->prev);
        v->prev = NULL;
    }
}

static int label_diff(lpg_store *s, uint64_t nid, uint32_t old, uint32_t new_, uint64_t lsn)
{
    int rc;
    int was = old != NV_DELETED, is = new_ != NV_DELETED;
    if (!was && is) {
        if ((rc = lpg_labels_add(s->labels, 0, nid, lsn)))
            return rc;
    } else if (was && !is) {
        if ((rc = lpg_labels_remove(s->labels, 0, nid, lsn)))
            return rc;
    }
    if (was)
        for (uint32_t i = 0; i < s->ls_n[old]; i++) {
            uint32_t l = s->ls_labels[old][i];
            if (!lset_has(s, new_, l) && (rc = lpg_labels_remove(s->labels, l, nid, lsn)))
                return rc;
        }
    if (is)
        for (uint32_t i = 0; i < s->ls_n[new_]; i++) {
            uint32_t l = s->ls_labels[new_][i];
            if (!lset_has(s, old, l) && (rc = lpg_labels_add(s->labels, l, nid, lsn)))
                return rc;
        }
    return LPG_OK;
}

static int ensure_nnew(lpg_store *s, uint64_t idx)
{
    if (idx < s->nnew_cap)
        return LPG_OK;
    size_t ncap = s->nnew_cap ? s->nnew_cap : 1024;
    while (ncap <= idx)
        ncap *= 2;
    nver **q = realloc(s->nnew, ncap * sizeof(nver *));
    if (!q)
        return LPG_ENOMEM;
    memset(q + s->nnew_cap, 0, (ncap - s->nnew_cap) * sizeof(nver *));
    s->mem += (ncap - s->nnew_cap) * sizeof(nver *);
    s->nnew = q;
    s->nnew_cap = ncap;
    return LPG_OK;
}

/* The chain slot of nid, creating the trec of a base node on its first change. */
static int chain_slot(lpg_store *s, uint64_t nid, nver ***slot)
{
    int rc;
    if (nid >= s->node_base) {
        if ((rc = ensure_nnew(s, nid - s->node_base)))
            return rc;
        *slot = &s->nnew[nid - s->node_base];
        return LPG_OK;
    }
    trec *t = trec_of(s, nid);
    if (!t) {   /* remember the base state, to keep counts right */
        uint32_t base = NV_DELETED;
        part *pt;
        if ((rc = st_part(s, (uint32_t)(nid >> PART_SHIFT), &pt)))
            return rc;
        uint64_t i = nid & (PART_SLOTS - 1);
        if (pt && i < pt->n) {
            int exists;
            uint32_t ls;
            if ((rc = part_node(pt, i, &exists, &ls)))
                return rc;
            if (exists)
                base = ls;
        }
        if (s->ntrec == s->trcap && grow((void **)&s->trecs, &s->trcap, s->ntrec + 1, sizeof(trec)))
            return LPG_ENOMEM;
        if ((rc = map_put(&s->tmap, nid, s->ntrec)))
            return rc;
        t = &s->trecs[s->ntrec++];
        t->chain = NULL;
        t->base_lset = base;
        bit_set(s->tbits, nid);
        s->mem += sizeof(trec) + 32;
    }
    *slot = &t->chain;
    return LPG_OK;
}

static int node_put_locked(lpg_store *s, uint64_t nid, uint32_t lset, const uint8_t *props, size_t len,
                           uint64_t lsn, uint64_t floor)
{
    if (nid >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF || len > UINT32_MAX || (len && !props))
        return LPG_EINVAL;
    if (lset != NV_DELETED && !lset_known(s, lset))
        return LPG_EINVAL;
    nver **slot;
    int rc = chain_slot(s, nid, &slot);
    if (rc)
        return rc;
    nver *head = *slot;
    if (head && head->begin > lsn)
        return LPG_EINVAL;
    uint32_t old = head ? head->lset : NV_DELETED;
    nver *v = malloc(offsetof(nver, props) + len);
    if (!v)
        return LPG_ENOMEM;
    v->prev = head;
    v->begin = lsn;
    v->lset = lset;
    v->len = (uint32_t)len;
    v->arena = 0;
    if (len)
        memcpy(v->props, props, len);
    if ((rc = label_diff(s, nid, old, lset, lsn))) {
        free(v);
        return rc;
    }
    *slot = v;
    s->mem += sizeof(nver) + len + 16;
    trim_chain(v, floor);
    if (nid >= s->node_base && nid + 1 > s->node_hi)
        s->node_hi = nid + 1;
    return mark_part(s, nid);
}

int lpg_store_node_put(lpg_store *s, uint64_t nid, uint32_t lset, const uint8_t *props, size_t len,
                       uint64_t lsn, uint64_t floor)
{
    if (!s)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = node_put_locked(s, nid, lset, props, len, lsn, floor);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_nodes_bulk(lpg_store *s, uint64_t first, size_t n, const uint32_t *lsets, const uint8_t *blob,
                         size_t blob_len, const uint64_t *offs, uint64_t lsn)
{
    if (!s || (n && (!lsets || !offs)) || (blob_len && !blob))
        return LPG_EINVAL;
    if (first >= LPG_ID_CAP || n > LPG_ID_CAP - first)
        return LPG_EBOUNDS;
    if (!offsets_ok(offs, n, blob_len))
        return LPG_EBOUNDS;
    size_t bytes = 0;                   /* of the versions' arena */
    for (size_t i = 0; i < n; i++) {
        if (offs[i + 1] - offs[i] > UINT32_MAX)
            return LPG_EBOUNDS;
        bytes += (offsetof(nver, props) + (size_t)(offs[i + 1] - offs[i]) + 7) & ~(size_t)7;
    }
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        if (!lset_known(s, lsets[i])) {
            rc = LPG_EINVAL;
            goto out;
        }
    if (first < s->node_base || (first + n > s->node_base && ensure_nnew(s, first + n - 1 - s->node_base))) {
        rc = first < s->node_base ? LPG_EINVAL : LPG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (s->nnew[first + i - s->node_base]) {
            rc = LPG_EEXIST;
            goto out;
        }
    /* the versions in one arena instead of a malloc each (as edges_bulk), held by the store */
    uint8_t *arena = n ? malloc(bytes) : NULL;
    if (n && (!arena || grow((void **)&s->arenas, &s->arenacap, s->narenas + 1, sizeof(void *)))) {
        free(arena);
        rc = LPG_ENOMEM;
        goto out;
    }
    if (n)
        s->arenas[s->narenas++] = arena;
    /* label membership, grouped by label set (ascending ids append at page ends) */
    {
        uint64_t *ids = malloc((n ? n : 1) * sizeof(uint64_t));
        if (!ids) {
            rc = LPG_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            ids[i] = first + i;
        if (n && (rc = lpg_labels_add_many(s->labels, 0, ids, n, lsn))) {
            free(ids);
            goto out;
        }
        uint32_t maxls = 0;
        for (size_t i = 0; i < n; i++)
            if (lsets[i] > maxls)
                maxls = lsets[i];
        for (uint32_t ls = 0; ls <= maxls && n && !rc; ls++) {
            if (!lset_known(s, ls) || !s->ls_n[ls])
                continue;
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (lsets[i] == ls)
                    ids[m++] = first + i;
            for (uint32_t j = 0; j < s->ls_n[ls] && m && !rc; j++)
                rc = lpg_labels_add_many(s->labels, s->ls_labels[ls][j], ids, m, lsn);
        }
        free(ids);
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)(offs[i + 1] - offs[i]);
        nver *v = (nver *)(void *)arena;
        arena += (offsetof(nver, props) + len + 7) & ~(size_t)7;
        v->prev = NULL;
        v->begin = lsn;
        v->lset = lsets[i];
        v->len = (uint32_t)len;
        v->arena = 1;
        if (len)
            memcpy(v->props, blob + offs[i], len);
        s->nnew[first + i - s->node_base] = v;
    }
    s->mem += bytes + 8 * n;
    if (n && first + n > s->node_hi)
        s->node_hi = first + n;
    for (uint64_t p = first >> PART_SHIFT; n && p <= (first + n - 1) >> PART_SHIFT && !rc; p++)
        rc = bits_mark(&s->dirty_parts, &s->dirty_parts_words, p);
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static int ensure_edges(lpg_store *s, uint64_t idx)
{
    if (idx < s->ecap)
        return LPG_OK;
    size_t ncap = s->ecap ? s->ecap : 1024;
    while (ncap <= idx)
        ncap *= 2;
    uint64_t *a = realloc(s->esrc, ncap * 8);
    if (!a)
        return LPG_ENOMEM;
    s->esrc = a;
    if (!(a = realloc(s->edst, ncap * 8)))
        return LPG_ENOMEM;
    s->edst = a;
    if (!(a = realloc(s->ebegin, ncap * 8)))
        return LPG_ENOMEM;
    s->ebegin = a;
    if (!(a = realloc(s->eend, ncap * 8)))
        return LPG_ENOMEM;
    s->eend = a;
    uint32_t *t = realloc(s->etype, ncap * 4);
    if (!t)
        return LPG_ENOMEM;
    s->etype = t;
    ever **p = realloc(s->eprops, ncap * sizeof(ever *));
    if (!p)
        return LPG_ENOMEM;
    s->eprops = p;
    uint64_t *b = realloc(s->eended, (ncap / 64 + 1) * 8);
    if (!b)
        return LPG_ENOMEM;
    memset(b + (s->ecap ? s->ecap / 64 + 1 : 0), 0, ((ncap / 64 + 1) - (s->ecap ? s->ecap / 64 + 1 : 0)) * 8);
    s->eended = b;
    for (size_t i = s->ecap; i < ncap; i++) {
        s->ebegin[i] = s->eend[i] = FREE_LSN;
        s->esrc[i] = s->edst[i] = 0;
        s->etype[i] = 0;
        s->eprops[i] = NULL;
    }
    s->mem += (ncap - s->ecap) * 44;
    s->ecap = ncap;
    return LPG_OK;
}

static ever *ever_new(const uint8_t *props, size_t len, uint64_t lsn, ever *prev)
{
    ever *v = malloc(sizeof(ever) + len);
    if (!v)
        return NULL;
    v->prev = prev;
    v->begin = lsn;
    v->len = (uint32_t)len;
    v->arena = 0;
    if (len)
        memcpy(v->props, props, len);
    return v;
}

/* The berec of base edge eid, created from the files on first use.  ENOTFOUND if the base holds
 * no such edge. */
static int berec_get(lpg_store *s, uint64_t eid, berec **out)
{
    uint64_t i;
    if (bit_get(s->bbits, eid) && map_get(&s->bmap, eid, &i)) {
        *out = &s->berecs[i];
        return LPG_OK;
    }
    eloc_t E;
    memset(&E, 0, sizeof(E));
    int rc = st_locate_base_edge(s, eid, &E);
    if (rc)
        return rc;
    if (!E.where)
        return LPG_ENOTFOUND;
    if (s->nberec == s->bercap && grow((void **)&s->berecs, &s->bercap, s->nberec + 1, sizeof(berec)))
        return LPG_ENOMEM;
    if ((rc = map_put(&s->bmap, eid, s->nberec)))
        return rc;
    berec *b = &s->berecs[s->nberec++];
    b->end = LPG_LSN_INF;
    b->src = E.src;
    b->dst = E.dst;
    b->type = E.type;
    b->props = NULL;
    bit_set(s->bbits, eid);
    s->mem += sizeof(berec) + 32;
    *out = b;
    return LPG_OK;
}

static int pend_push(lpg_store *s, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst)
{
    if (s->npend == s->pendcap && grow((void **)&s->pending, &s->pendcap, s->npend + 1, sizeof(pend)))
        return LPG_ENOMEM;
    pend *p = &s->pending[s->npend++];
    p->eid = eid;
    p->type = type;
    p->src = src;
    p->dst = dst;
    return LPG_OK;
}

static int edge_put_locked(lpg_store *s, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst,
                           const uint8_t *props, size_t len, uint64_t lsn, uint64_t floor)
{
    if (eid >= LPG_ID_CAP || src >= LPG_ID_CAP || dst >= LPG_ID_CAP || type >= (1u << 24))
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF || len > UINT32_MAX || (len && !props))
        return LPG_EINVAL;
    int rc;
    if (eid >= s->edge_base) {
        uint64_t i = eid - s->edge_base;
        if (i < s->ecap && s->ebegin[i] != FREE_LSN) {   /* a property update */
            if (s->eend[i] != LPG_LSN_INF || s->etype[i] != type || s->esrc[i] != src || s->edst[i] != dst)
                return LPG_EINVAL;
            ever *v = ever_new(props, len, lsn, s->eprops[i]);
            if (!v)
                return LPG_ENOMEM;
            s->eprops[i] = v;
            s->mem += sizeof(ever) + len + 16;
            trim_echain(v, floor);
            return mark_part(s, src);
        }
        if ((rc = ensure_edges(s, i)))
            return rc;
        ever *v = NULL;
        if (s->bulk_next) {                  /* edges_bulk: the version is in its arena */
            if (len) {
                v = (ever *)(void *)s->bulk_next;
                v->prev = NULL;
                v->begin = lsn;
                v->len = (uint32_t)len;
                v->arena = 1;
                memcpy(v->props, props, len);
                s->bulk_next += (sizeof(ever) + len + 7) & ~(size_t)7;
            }
        } else if (len && !(v = ever_new(props, len, lsn, NULL)))
            return LPG_ENOMEM;
        if ((rc = pend_push(s, eid, type, src, dst))) {
            if (v && !v->arena)
                free(v);
            return rc;
        }
        s->esrc[i] = src;
        s->edst[i] = dst;
        s->etype[i] = type;
        s->ebegin[i] = lsn;
        s->eend[i] = LPG_LSN_INF;
        s->eprops[i] = v;
        if (v && !v->arena)
            s->mem += sizeof(ever) + len + 16;
        if (lsn > s->max_begin)
            s->max_begin = lsn;
        if (eid + 1 > s->edge_hi)
            s->edge_hi = eid + 1;
        if ((rc = mark_part(s, src)) || (rc = mark_part(s, dst)))
            return rc;
        return mark_eloc(s, eid);
    }
    berec *b;   /* a property update of a base edge */
    if ((rc = berec_get(s, eid, &b)))
        return rc == LPG_ENOTFOUND ? LPG_EINVAL : rc;
    if (b->end != LPG_LSN_INF || b->type != type || b->src != src || b->dst != dst)
        return LPG_EINVAL;
    ever *v = ever_new(props, len, lsn, b->props);
    if (!v)
        return LPG_ENOMEM;
    b->props = v;
    s->mem += sizeof(ever) + len + 16;
    trim_echain(v, floor);
    return mark_part(s, src);
}

int lpg_store_edge_put(lpg_store *s, uint64_t eid, uint32_t type, uint64_t src, uint64_t dst,
                       const uint8_t *props, size_t len, uint64_t lsn, uint64_t floor)
{
    if (!s)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = edge_put_locked(s, eid, type, src, dst, props, len, lsn, floor);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_edge_put_many(lpg_store *s, size_t n, const uint64_t *eids, const uint32_t *types,
                            const uint64_t *srcs, const uint64_t *dsts, const uint8_t *blob, size_t blob_len,
                            const uint64_t *offs, uint64_t lsn, uint64_t floor)
{
    if (!s || (n && (!eids || !types || !srcs || !dsts || !offs)) || (blob_len && !blob))
        return LPG_EINVAL;
    if (!offsets_ok(offs, n, blob_len))
        return LPG_EBOUNDS;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++)
        rc = edge_put_locked(s, eids[i], types[i], srcs[i], dsts[i], blob + offs[i],
                             (size_t)(offs[i + 1] - offs[i]), lsn, floor);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_edges_bulk(lpg_store *s, uint64_t first, size_t n, const uint32_t *types, const uint64_t *srcs,
                         const uint64_t *dsts, const uint8_t *blob, size_t blob_len, const uint64_t *offs,
                         uint64_t lsn)
{
    if (!s || (n && (!types || !srcs || !dsts || !offs)) || (blob_len && !blob))
        return LPG_EINVAL;
    if (first >= LPG_ID_CAP || n > LPG_ID_CAP - first || first < s->edge_base)
        return first < s->edge_base ? LPG_EINVAL : LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++)
        if (offs[i] > offs[i + 1] || offs[i + 1] > blob_len || srcs[i] >= LPG_ID_CAP || dsts[i] >= LPG_ID_CAP
            || types[i] >= (1u << 24))
            return LPG_EBOUNDS;
    pthread_rwlock_wrlock(&s->lock);
    int rc = n ? ensure_edges(s, first + n - 1 - s->edge_base) : LPG_OK;
    for (size_t i = 0; i < n && !rc; i++)
        if (s->ebegin[first + i - s->edge_base] != FREE_LSN)
            rc = LPG_EEXIST;
    /* one arena for the batch's property versions instead of a malloc each */
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (offs[i + 1] > offs[i])
            bytes += (sizeof(ever) + (size_t)(offs[i + 1] - offs[i]) + 7) & ~(size_t)7;
    if (!rc && bytes) {
        uint8_t *arena = malloc(bytes);
        if (!arena || grow((void **)&s->arenas, &s->arenacap, s->narenas + 1, sizeof(void *))) {
            free(arena);
            rc = LPG_ENOMEM;
        } else {
            s->arenas[s->narenas++] = arena;
            s->bulk_next = arena;
            s->mem += bytes;
        }
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = edge_put_locked(s, first + i, types[i], srcs[i], dsts[i], blob + offs[i],
                             (size_t)(offs[i + 1] - offs[i]), lsn, lsn);
    s->bulk_next = NULL;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_edge_del(lpg_store *s, uint64_t eid, uint64_t lsn)
{
    if (!s || lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    if (eid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    if (eid >= s->edge_base) {
        uint64_t i = eid - s->edge_base;
        if (i >= s->ecap || s->ebegin[i] == FREE_LSN || s->eend[i] != LPG_LSN_INF)
            rc = LPG_ENOTFOUND;
        else if (lsn < s->ebegin[i])
            rc = LPG_EINVAL;
        else {
            s->eend[i] = lsn;
            bit_set(s->eended, i);
            if (!(rc = mark_part(s, s->esrc[i])) && !(rc = mark_part(s, s->edst[i])))
                rc = mark_eloc(s, eid);
        }
    } else {
        berec *b;
        rc = berec_get(s, eid, &b);
        if (!rc && b->end != LPG_LSN_INF)
            rc = LPG_ENOTFOUND;
        if (!rc) {
            b->end = lsn;
            s->nbase_dead++;
            if (!(rc = mark_part(s, b->src)) && !(rc = mark_part(s, b->dst)))
                rc = mark_eloc(s, eid);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- runs: pending new edges -> sorted runs, merged Bentley-Saxe style ------------------------- */
typedef struct {
    uint64_t node, nt, eid;
} rent;

static int cmp_rent(const void *a, const void *b)
{
    const rent *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->eid < y->eid ? -1 : x->eid > y->eid;
}

/* Stable LSD radix sort by node (11-bit digits) of entries already in eid order. */
static int sort_by_node(rent *a, size_t n)
{
    rent *tmp = malloc((n ? n : 1) * sizeof(rent));
    if (!tmp)
        return LPG_ENOMEM;
    uint64_t maxn = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].node > maxn)
            maxn = a[i].node;
    rent *src = a, *dst = tmp;
    for (int shift = 0; shift < 64 && (maxn >> shift); shift += 11) {
        size_t cnt[2049] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[((src[i].node >> shift) & 2047) + 1]++;
        for (int d = 0; d < 2048; d++)
            cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i].node >> shift) & 2047]++] = src[i];
        rent *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(rent));
    free(tmp);
    return LPG_OK;
}

static int run_from(rent *e, size_t n, orun *r)
{
    memset(r, 0, sizeof(*r));
    size_t nn = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || e[i].node != e[i - 1].node)
            nn++;
    r->node = malloc((nn ? nn : 1) * 8);
    r->off = malloc((nn + 1) * 8);
    r->ent = malloc((n ? n : 1) * sizeof(oent));
    if (!r->node || !r->off || !r->ent) {
        run_free(r);
        return LPG_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || e[i].node != e[i - 1].node) {
            r->node[k] = e[i].node;
            r->off[k++] = i;
        }
        r->ent[i].nt = e[i].nt;
        r->ent[i].eid = e[i].eid;
    }
    r->off[k] = n;
    r->nnodes = nn;
    r->nent = n;
    return LPG_OK;
}

static inline int entry_dead(const lpg_store *s, uint64_t eid, uint64_t floor)
{
    uint64_t i = eid - s->edge_base;
    return bit_get(s->eended, i) && s->eend[i] <= floor;
}

/* c = a (older) merged with b (newer); entries dead for every reader (end <= floor) dropped. */
static int run_merge(const lpg_store *s, const orun *a, const orun *b, uint64_t floor, orun *c)
{
    memset(c, 0, sizeof(*c));
    size_t nn = a->nnodes + b->nnodes, ne = a->nent + b->nent;
    c->node = malloc((nn ? nn : 1) * 8);
    c->off = malloc((nn + 1) * 8);
    c->ent = malloc((ne ? ne : 1) * sizeof(oent));
    if (!c->node || !c->off || !c->ent) {
        run_free(c);
        return LPG_ENOMEM;
    }
    size_t i = 0, j = 0, k = 0, e = 0;
    while (i < a->nnodes || j < b->nnodes) {
        uint64_t node;
        int ta = 0, tb = 0;
        if (j >= b->nnodes || (i < a->nnodes && a->node[i] < b->node[j])) {
            node = a->node[i];
            ta = 1;
        } else if (i >= a->nnodes || b->node[j] < a->node[i]) {
            node = b->node[j];
            tb = 1;
        } else {
            node = a->node[i];
            ta = tb = 1;
        }
        size_t start = e;
        if (ta) {
            for (uint64_t x = a->off[i]; x < a->off[i + 1]; x++)
                if (!entry_dead(s, a->ent[x].eid, floor))
                    c->ent[e++] = a->ent[x];
            i++;
        }
        if (tb) {
            for (uint64_t x = b->off[j]; x < b->off[j + 1]; x++)
                if (!entry_dead(s, b->ent[x].eid, floor))
                    c->ent[e++] = b->ent[x];
            j++;
        }
        if (e > start) {
            c->node[k] = node;
            c->off[k++] = start;
        }
    }
    c->off[k] = e;
    c->nnodes = k;
    c->nent = e;
    return LPG_OK;
}

static int add_run(lpg_store *s, int d, orun *r, uint64_t floor)
{
    if (s->nruns[d] == MAX_RUNS)
        return LPG_ENOMEM;   /* cannot happen: sizes at least double towards the front */
    s->runs[d][s->nruns[d]++] = *r;
    while (s->nruns[d] >= 2) {
        orun *x = &s->runs[d][s->nruns[d] - 2], *y = &s->runs[d][s->nruns[d] - 1];
        if (x->nent > 2 * y->nent && s->nruns[d] < MAX_RUNS - 1)
            break;
        orun m;
        int rc = run_merge(s, x, y, floor, &m);
        if (rc)
            return rc;
        run_free(x);
        run_free(y);
        s->nruns[d]--;
        s->runs[d][s->nruns[d] - 1] = m;
    }
    return LPG_OK;
}

int lpg_store_commit_end(lpg_store *s, uint64_t lsn, uint64_t floor)
{
    if (!s)
        return LPG_EINVAL;
    (void)lsn;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    if (s->npend) {
        size_t n = s->npend;
        rent *e = malloc(n * sizeof(rent));
        if (!e) {
            rc = LPG_ENOMEM;
            goto out;
        }
        int asc = 1;
        for (size_t i = 1; i < n; i++)
            if (s->pending[i].eid <= s->pending[i - 1].eid)
                asc = 0;
        for (int d = 0; d < 2 && !rc; d++) {
            for (size_t i = 0; i < n; i++) {
                const pend *p = &s->pending[i];
                e[i].node = d ? p->dst : p->src;
                e[i].nt = (d ? p->src : p->dst) | ((uint64_t)p->type << NT_SHIFT);
                e[i].eid = p->eid;
            }
            if (asc)
                rc = sort_by_node(e, n);
            else
                qsort(e, n, sizeof(rent), cmp_rent);
            orun r;
            if (!rc && !(rc = run_from(e, n, &r))) {
                s->mem += n * sizeof(oent) + r.nnodes * 16;
                if ((rc = add_run(s, d, &r, floor)))
                    run_free(&r);
            }
        }
        free(e);
        s->npend = 0;
    }
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- keys (overlay) ----------------------------------------------------------------------------- */
int lpg_store_key_put(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t node, uint64_t lsn)
{
    if (!s)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = lpg_keyidx_put(s->keys, index, key, klen, node, lsn);
    if (!rc)
        s->mem += klen + 64;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_key_del(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t node, uint64_t lsn)
{
    if (!s)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = lpg_keyidx_del(s->keys, index, key, klen, node, lsn);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_key_base_dead(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen)
{
    if (!s || (klen && !key) || index >= (1u << 20))
        return LPG_EINVAL;
    if (klen > LPG_KEY_MAX)
        return LPG_EBOUNDS;
    uint64_t h = key_hash(key, klen);
    pthread_rwlock_wrlock(&s->lock);
    int rc = map_put(&s->dead_keys, ((uint64_t)index << 32) | (h >> 32), 1);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_key_drop(lpg_store *s, uint32_t index)
{
    if (!s)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&s->lock);
    int rc = lpg_keyidx_drop(s->keys, index);
    if (!rc && index < s->nkidx && s->kidx[index].present) {
        free(s->kidx[index].subs);
        memset(&s->kidx[index], 0, sizeof(kindex));
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- bookkeeping ---------------------------------------------------------------------------------- */
static int list_bits(const uint64_t *b, size_t words, uint32_t *out, size_t cap, size_t *count)
{
    size_t k = 0;
    for (size_t w = 0; w < words; w++)
        for (int i = 0; i < 64; i++)
            if ((b[w] >> i) & 1) {
                if (k < cap)
                    out[k] = (uint32_t)(w * 64 + i);
                k++;
            }
    *count = k;
    return k > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_store_dirty(lpg_store *s, int kind, uint32_t *out, size_t cap, size_t *count)
{
    if (!s || !count || (cap && !out) || (kind != KIND_PART && kind != KIND_ELOC))
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&s->lock);
    int rc = kind == KIND_PART ? list_bits(s->dirty_parts, s->dirty_parts_words, out, cap, count)
                               : list_bits(s->dirty_elocs, s->dirty_elocs_words, out, cap, count);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_mem(lpg_store *s, uint64_t *bytes)
{
    if (!s || !bytes)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&s->lock);
    *bytes = s->mem;
    pthread_rwlock_unlock(&s->lock);
    return LPG_OK;
}

int lpg_store_check(lpg_store *s)
{
    if (!s)
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&s->lock);
    for (int d = 0; d < 2 && !rc; d++)
        for (int r = 0; r < s->nruns[d] && !rc; r++) {
            const orun *x = &s->runs[d][r];
            if (x->off[0] != 0 || x->off[x->nnodes] != x->nent)
                rc = LPG_ECORRUPT;
            for (size_t k = 0; k < x->nnodes && !rc; k++) {
                if ((k && x->node[k] <= x->node[k - 1]) || x->off[k] >= x->off[k + 1])
                    rc = LPG_ECORRUPT;
                for (uint64_t j = x->off[k]; j < x->off[k + 1] && !rc; j++) {
                    const oent *e = &x->ent[j];
                    uint64_t i = e->eid - s->edge_base;
                    if (e->eid < s->edge_base || i >= s->ecap || s->ebegin[i] == FREE_LSN
                        || (j > x->off[k] && e->eid <= x->ent[j - 1].eid)
                        || (d == 0 ? s->esrc[i] != x->node[k] || s->edst[i] != (e->nt & NT_MASK)
                                   : s->edst[i] != x->node[k] || s->esrc[i] != (e->nt & NT_MASK))
                        || s->etype[i] != (uint32_t)(e->nt >> NT_SHIFT))
                        rc = LPG_ECORRUPT;
                }
            }
        }
    for (size_t i = 0; i < s->ntrec && !rc; i++)
        for (const nver *v = s->trecs[i].chain; v && !rc; v = v->prev)
            if (v->lset != NV_DELETED && !lset_known(s, v->lset))
                rc = LPG_ECORRUPT;
    for (size_t i = 0; i < s->nberec && !rc; i++) {
        const berec *b = &s->berecs[i];
        (void)b;
    }
    if (!rc)
        rc = lpg_labels_check(s->labels);
    if (!rc)
        rc = lpg_keyidx_check(s->keys);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_touched(lpg_store *s, uint64_t nid, int *out)
{
    if (!s || !out)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&s->lock);
    *out = nid < s->node_base && trec_of(s, nid) != NULL;
    pthread_rwlock_unlock(&s->lock);
    return LPG_OK;
}

int lpg_store_degree1(lpg_store *s, uint64_t nid, int dir, const uint32_t *types, size_t ntypes,
                      uint64_t snap, uint64_t *out)
{
    if (!s || !out)
        return LPG_EINVAL;
    *out = 0;
    if (nid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    typeset ts;
    int rc = read_args(dir, types, ntypes, &ts);
    if (rc)
        return rc;
    pthread_rwlock_rdlock(&s->lock);
    nloc L;
    rc = st_locate_node(s, nid, snap, &L);
    if (!rc && !L.where)
        rc = LPG_ENOTFOUND;
    if (!rc)
        rc = visit(s, nid, dir, &ts, snap, c_count, out);
    pthread_rwlock_unlock(&s->lock);
    typeset_free(&ts);
    return rc;
}

int64_t lpg_store_degree_of(lpg_store *s, uint64_t nid, int dir, const uint32_t *types, size_t ntypes,
                            uint64_t snap)
{
    uint64_t d;
    int rc = lpg_store_degree1(s, nid, dir, types, ntypes, snap, &d);
    return rc ? rc : (int64_t)d;
}

int lpg_store_node_ver(lpg_store *s, uint64_t snap, uint64_t nid, uint32_t *lset, uint64_t *ver)
{
    if (!s || !lset || !ver)
        return LPG_EINVAL;
    if (nid >= LPG_ID_CAP)
        return LPG_ENOTFOUND;
    pthread_rwlock_rdlock(&s->lock);
    nloc L;
    int rc = st_locate_node(s, nid, snap, &L);
    if (!rc) {
        if (!L.where)
            rc = LPG_ENOTFOUND;
        else {
            *lset = L.lset;
            *ver = L.where == 1 ? L.v->begin : 0;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* The canonical key bytes of the one-value key [v] (storage/records.key_bytes of (v,)): a msgpack
 * array of one int or str, encoded as Python's msgpack encodes it (tests/native compare them). */
static __thread buf tl_key1;

static int key1_bytes(int kind, int64_t ival, const uint8_t *str, size_t slen)
{
    tl_key1.n = 0;
    uint8_t arr1 = 0x91;
    int rc = buf_put(&tl_key1, &arr1, 1);
    if (!rc)
        rc = kind == 1 ? mp_put_int(&tl_key1, ival) : mp_put_str(&tl_key1, str, slen);
    return rc;
}

int64_t lpg_store_key1(lpg_store *s, uint32_t index, int kind, int64_t ival, const uint8_t *str, size_t slen,
                       uint64_t snap, uint64_t *out, size_t cap, uint64_t *info)
{
    if (!s || !info || (cap && !out) || (kind != 1 && kind != 2) || (slen && !str))
        return LPG_EINVAL;
    info[0] = 0;
    info[1] = UINT64_MAX;
    int rc = key1_bytes(kind, ival, str, slen);
    if (rc)
        return rc;
    const uint8_t *key = tl_key1.p;
    size_t klen = tl_key1.n;
    if (klen > LPG_KEY_MAX)
        return 0;                                 /* no stored key is that long */
    pthread_rwlock_rdlock(&s->lock);
    rc = key_nodes_locked(s, index, key, klen, snap);
    size_t n = 0;
    if (!rc) {
        rc = merge_out(&tl_kb, &tl_ko, out, cap, &n);
        if (rc == LPG_ETOOSMALL)
            rc = LPG_OK;                          /* the caller sees n > cap and asks again */
        else if (!rc && n) {
            nloc L;
            rc = st_locate_node(s, out[0], snap, &L);
            if (!rc && L.where) {
                info[0] = L.lset;
                info[1] = L.where == 1 ? L.v->begin : 0;
            }
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc ? rc : (int64_t)n;
}

int64_t lpg_store_key1i(lpg_store *s, uint32_t index, int64_t ival, uint64_t snap, uint64_t *out, size_t cap,
                        uint64_t *info)
{
    return lpg_store_key1(s, index, 1, ival, NULL, 0, snap, out, cap, info);
}

static int prop_of(const nloc *L, uint32_t kid, const uint8_t *name, size_t nlen, buf *out);

/* The msgpack answer of lpg_store_point1 for the node L locates (read lock held): [nid, ver,
 * value of each of q's names] into b, each value as prop_of reads it (the stored map of an
 * overlay version, the column of a base slot); 0, LPG_ETOOSMALL (a value this does not hand
 * out: the caller's general path), or LPG_ECORRUPT / LPG_EINVAL (a malformed row or
 * projection).  So each value is nil or one msgpack int, float64, bool or str. */
_Static_assert(LPG_POINT_NAMES + 2 <= 15, "an answer (id, version, values) is one msgpack fixarray");
static int point_answer(lpg_store *s, const lpg_pointq *q, uint64_t nid, uint64_t ver, const nloc *L, buf *b)
{
    if (q->nnames > LPG_POINT_NAMES || (q->names_len && !q->names))
        return LPG_EINVAL;
    size_t off = 0;
    for (uint32_t j = 0; j < q->nnames; j++) {          /* the names' lengths, checked first */
        uint32_t l;
        if (q->names_len - off < 4)
            return LPG_EINVAL;
        memcpy(&l, q->names + off, 4);
        off += 4;
        if (l > q->names_len - off)
            return LPG_EINVAL;
        off += l;
    }
    if (off != q->names_len)
        return LPG_EINVAL;
    uint8_t arr = (uint8_t)(0x90 | (q->nnames + 2)), u[9] = {0xcf};
    for (int i = 0; i < 8; i++)                       /* ver < UINT64_MAX: as a uint64 */
        u[1 + i] = (uint8_t)(ver >> (56 - 8 * i));
    int rc = buf_put(b, &arr, 1);
    if (!rc)
        rc = mp_put_int(b, (int64_t)nid);             /* nid < 2^40 */
    if (!rc)
        rc = buf_put(b, u, 9);
    off = 0;
    for (uint32_t j = 0; !rc && j < q->nnames; j++) {
        uint32_t l, kid = UINT32_MAX;
        memcpy(&l, q->names + off, 4);
        const uint8_t *name = q->names + off + 4;
        off += 4 + (size_t)l;
        if (L->where == 2 && store_propkey_id(s, name, l, 0, &kid) != LPG_OK)
            kid = UINT32_MAX;                          /* a name no base row holds */
        size_t at = b->n;
        if ((rc = prop_of(L, kid, name, l, b)))
            return rc;
        if (b->p[at] == 0xc0)
            continue;                                  /* absent */
        mval mv;
        const uint8_t *after;
        if (mp_value(b->p + at, b->p + b->n, &mv, &after) || after != b->p + b->n)
            return LPG_ECORRUPT;
        if (mv.kind != V_INT && mv.kind != V_FLOAT && mv.kind != V_BOOL && mv.kind != V_STR)
            return LPG_ETOOSMALL;                      /* lists, temporal values, anything else */
    }
    return rc;
}

static __thread buf tl_point;
static __thread lpg_point_res tl_point_res;

const lpg_point_res *lpg_store_point1(lpg_store *s, const lpg_pointq *q, int kind, int64_t ival,
                                      const uint8_t *str, size_t slen, uint64_t snap)
{
    lpg_point_res *r = &tl_point_res;
    r->out = NULL;
    if (!s || !q || (kind != 1 && kind != 2) || (slen && !str)) {
        r->rc = LPG_EINVAL;
        return r;
    }
    int rc = key1_bytes(kind, ival, str, slen);
    if (rc || tl_key1.n > LPG_KEY_MAX) {               /* no stored key is that long */
        r->rc = rc;
        return r;
    }
    tl_point.n = 0;
    pthread_rwlock_rdlock(&s->lock);
    rc = key_nodes_locked(s, q->index, tl_key1.p, tl_key1.n, snap);
    size_t n = rc ? 0 : tl_kb.n + tl_ko.n;
    if (!rc && n > 1)
        rc = LPG_ETOOSMALL;
    else if (!rc && n == 1) {
        uint64_t nid = tl_kb.n ? tl_kb.v[0] : tl_ko.v[0];
        nloc L;
        rc = st_locate_node(s, nid, snap, &L);
        if (!rc && !L.where)
            rc = LPG_ETOOSMALL;                        /* (never: the key's node is visible) */
        else if (!rc)
            rc = point_answer(s, q, nid, L.where == 1 ? L.v->begin : 0, &L, &tl_point);
    }
    pthread_rwlock_unlock(&s->lock);
    r->rc = rc ? rc : (int64_t)tl_point.n;
    r->out = tl_point.p;
    return r;
}

const lpg_point_res *lpg_store_point1i(lpg_store *s, const lpg_pointq *q, int64_t ival, uint64_t snap)
{
    return lpg_store_point1(s, q, 1, ival, NULL, 0, snap);
}

static int64_t key_id(lpg_store *s, uint32_t index, int kind, int64_t ival, const uint8_t *str, size_t slen,
                      uint64_t snap)
{
    uint64_t out[1], info[2];
    int64_t n = lpg_store_key1(s, index, kind, ival, str, slen, snap, out, 1, info);
    if (n < 0)
        return n;
    if (n == 0)
        return LPG_ENOTFOUND;
    if (n > 1 || info[1] == UINT64_MAX)           /* several, or (never) one not visible */
        return LPG_ETOOSMALL;
    _Static_assert(LPG_KEY_ID_OVERLAY == LPG_ID_CAP, "key ids and the overlay flag overlap");
    return (int64_t)out[0] + (info[1] ? (int64_t)LPG_KEY_ID_OVERLAY : 0);   /* out[0] < LPG_ID_CAP */
}

int64_t lpg_store_key_id_int(lpg_store *s, uint32_t index, int64_t ival, uint64_t snap)
{
    return key_id(s, index, 1, ival, NULL, 0, snap);
}

int64_t lpg_store_key_id_str(lpg_store *s, uint32_t index, const uint8_t *str, size_t slen, uint64_t snap)
{
    return key_id(s, index, 2, 0, str, slen, snap);
}

/* Whether the point lookup of [v] at snap finds what a kept answer was made from: exactly one node,
 * nid, at version ver (as lpg_store_node_ver gives it), or, for nid == UINT64_MAX, no node at all.
 * 1 yes, 0 no, or a negative status.  One lock; O(1 + key size + nodes under the key) expected. */
static int64_t key1_is(lpg_store *s, uint32_t index, int kind, int64_t ival, const uint8_t *str, size_t slen,
                       uint64_t snap, uint64_t nid, uint64_t ver)
{
    if (!s || (slen && !str))
        return LPG_EINVAL;
    int rc = key1_bytes(kind, ival, str, slen);
    if (rc)
        return rc;
    if (tl_key1.n > LPG_KEY_MAX)
        return nid == UINT64_MAX;                 /* no stored key is that long */
    int64_t same = 0;
    pthread_rwlock_rdlock(&s->lock);
    rc = key_nodes_locked(s, index, tl_key1.p, tl_key1.n, snap);
    if (!rc) {
        size_t n = tl_kb.n + tl_ko.n;
        if (n == 0)
            same = nid == UINT64_MAX;
        else if (n == 1 && nid != UINT64_MAX && (tl_kb.n ? tl_kb.v[0] : tl_ko.v[0]) == nid) {
            nloc L;
            rc = st_locate_node(s, nid, snap, &L);
            if (!rc && L.where)
                same = (L.where == 1 ? L.v->begin : 0) == ver;
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc ? rc : same;
}

int64_t lpg_store_key1i_is(lpg_store *s, uint32_t index, uint64_t snap, int64_t ival, uint64_t nid, uint64_t ver)
{
    return key1_is(s, index, 1, ival, NULL, 0, snap, nid, ver);
}

int64_t lpg_store_key1s_is(lpg_store *s, uint32_t index, uint64_t snap, const uint8_t *str, size_t slen,
                           uint64_t nid, uint64_t ver)
{
    return key1_is(s, index, 2, 0, str, slen, snap, nid, ver);
}

int lpg_store_key_node(lpg_store *s, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                       uint64_t *ids, size_t cap, size_t *count, uint32_t *lset, uint64_t *ver)
{
    if (!lset || !ver)
        return LPG_EINVAL;
    *ver = UINT64_MAX;
    int rc = lpg_store_key_get(s, index, key, klen, snap, ids, cap, count);
    if (rc || *count == 0)
        return rc;
    int r2 = lpg_store_node_ver(s, snap, ids[0], lset, ver);
    if (r2 == LPG_ENOTFOUND)
        *ver = UINT64_MAX;
    else if (r2)
        return r2;
    return LPG_OK;
}

int lpg_store_node_put_many(lpg_store *s, size_t n, const uint64_t *nids, const uint32_t *lsets,
                            const uint8_t *blob, size_t blob_len, const uint64_t *offs, uint64_t lsn,
                            uint64_t floor)
{
    if (!s || (n && (!nids || !lsets || !offs)) || (blob_len && !blob))
        return LPG_EINVAL;
    if (!offsets_ok(offs, n, blob_len))
        return LPG_EBOUNDS;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++)
        rc = node_put_locked(s, nids[i], lsets[i], blob + offs[i], (size_t)(offs[i + 1] - offs[i]), lsn,
                             floor);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int lpg_store_key_put_list(lpg_store *s, uint32_t index, size_t n, const uint8_t *keys, size_t keys_len,
                           const uint64_t *offs, const uint64_t *nodes, uint64_t lsn)
{
    if (!s || (n && (!offs || !nodes)) || (keys_len && !keys))
        return LPG_EINVAL;
    if (!offsets_ok(offs, n, keys_len))
        return LPG_EBOUNDS;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t kl = (size_t)(offs[i + 1] - offs[i]);
        rc = lpg_keyidx_put(s->keys, index, keys + offs[i], kl, nodes[i], lsn);
        if (!rc)
            s->mem += kl + 64;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* The keys of rows first + i with flags[i] == 1 (a columnar op's, lpg_rows_key): one store lock
 * and one key index reservation for all of them.  O(n + key bytes) expected. */
int lpg_store_key_put_many(lpg_store *s, uint32_t index, const uint8_t *keys, size_t klen, const uint64_t *koffs,
                           const uint8_t *flags, size_t n, uint64_t first, uint64_t lsn)
{
    if (!s)
        return LPG_EINVAL;
    size_t done = 0;
    pthread_rwlock_wrlock(&s->lock);
    int rc = lpg_keyidx_put_many(s->keys, index, keys, klen, koffs, flags, n, first, lsn, &done);
    s->mem += done * 64 + (done ? (uint64_t)klen : 0);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* Append the msgpack encoding of property `key` (its id: kid, or UINT32_MAX when the dictionary
 * lacks it) of the node L locates, or nil. */
static int prop_of(const nloc *L, uint32_t kid, const uint8_t *name, size_t nlen, buf *out)
{
    static const uint8_t nil = 0xc0;
    if (L->where == 1) {
        const uint8_t *p = L->v->props, *end = p + L->v->len, *q;
        uint64_t n;
        if (L->v->len) {
            if (mp_map(p, end, &n, &q))
                return LPG_ECORRUPT;
            for (uint64_t i = 0; i < n; i++) {
                const uint8_t *k, *v;
                size_t kl;
                if (mp_str(q, end, &k, &kl, &q))
                    return LPG_ECORRUPT;
                v = q;
                if (mp_skip(q, end, &q))
                    return LPG_ECORRUPT;
                if (kl == nlen && memcmp(k, name, nlen) == 0)
                    return buf_put(out, v, (size_t)(q - v));
            }
        }
        return buf_put(out, &nil, 1);
    }
    if (L->where == 2 && kid != UINT32_MAX) {
        const part *pt = L->pt;
        for (uint32_t j = 0; j < pt->nnprops; j++) {
            if (pt->nprop_keys[j] != kid)
                continue;
            int present;
            mval v;
            int rc = prop_get(&pt->nprops[j], L->slot, &present, &v);
            if (rc)
                return rc;
            return present ? mp_put_value(out, &v) : buf_put(out, &nil, 1);
        }
    }
    return buf_put(out, &nil, 1);
}

int lpg_store_prop_many(lpg_store *s, uint64_t snap, const uint64_t *nids, size_t n, const uint8_t *name,
                        size_t nlen, uint8_t *out, size_t cap, size_t *len)
{
    if (!s || !len || (n && !nids) || (nlen && !name) || (cap && !out))
        return LPG_EINVAL;
    *len = 0;
    buf b = {0};
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&s->lock);
    uint32_t kid = UINT32_MAX;
    if (store_propkey_id(s, name, nlen, 0, &kid) != LPG_OK)
        kid = UINT32_MAX;
    uint8_t hdr[5] = {0xdd, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    if (n > UINT32_MAX)
        rc = LPG_EBOUNDS;
    else
        rc = buf_put(&b, hdr, 5);
    for (size_t i = 0; i < n && !rc; i++) {
        static const uint8_t nil = 0xc0;
        nloc L;
        if (nids[i] >= LPG_ID_CAP) {
            rc = buf_put(&b, &nil, 1);
            continue;
        }
        rc = st_locate_node(s, nids[i], snap, &L);
        if (!rc)
            rc = L.where ? prop_of(&L, kid, name, nlen, &b) : buf_put(&b, &nil, 1);
    }
    pthread_rwlock_unlock(&s->lock);
    if (!rc) {
        *len = b.n;
        if (b.n > cap)
            rc = LPG_ETOOSMALL;
        else
            memcpy(out, b.p, b.n);
    }
    buf_free(&b);
    return rc;
}
