/*
 * keyidx.c -- lpg_keyidx: versioned hash index (index id, key bytes) -> node ids.
 *
 * Data layout
 *
 *   slot[0..cap)   {hash, rec}; rec == NULL marks an empty slot; cap is a power of two (>= 16)
 *   keyrec         one per distinct (index, key): its index, klen, the versions v[0..n)
 *                  {node, begin, end} sorted by (node, begin), and the key bytes inline; v points
 *                  at the inline `one` while cap == 1, else at a malloc'd array
 *   slab           the keyrecs of keys of up to SLAB_KEY[c] bytes are cells of SLAB_CELL[c]
 *                  bytes carved from chunks the index owns (no malloc per key; chunks grow
 *                  geometrically up to CHUNK_MAX); a freed
 *                  cell goes on its class's free list.  Longer keys' recs are malloc'd.  The
 *                  class of a rec is a function of its klen (rec_class).
 *
 * Probing is linear from the home slot hash & (cap - 1).  Removal (drop, gc) rebuilds the table,
 * so there are no tombstones.
 *
 * Invariants (checked by lpg_keyidx_check):
 *   (1) count == number of non-empty slots, and count * 2 <= cap (load factor <= 1/2);
 *   (2) slot.hash == hash(rec->index, rec->key); every rec is reached by probing
 *       from its home slot without crossing an empty slot; no two recs share (index, key);
 *   (3) every rec has 1 <= n <= cap versions, sorted by (node, begin); begin <= end for each;
 *       versions of one node do not overlap (prev.end <= next.begin), so a node has at most one
 *       live version (end == INF) per key and at most one visible at any snap.
 * Sorting the versions keeps put/del O(log n) for a key shared by many nodes (a low-cardinality
 * property index) as long as node ids arrive ascending, and makes get() ascending.
 * Locking: the rwlock `lock`; see lpgdb.h for which functions are read or write.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"
#include "vec.h"

typedef struct {
    uint64_t node;          /* node id */
    uint64_t begin, end;    /* visibility interval */
} kver;

typedef struct {
    uint32_t index;         /* index id */
    uint32_t klen;          /* key length, <= LPG_KEY_MAX */
    uint32_t n, cap;        /* versions held / allocated */
    kver *v;                /* versions: &one while cap == 1, else malloc'd */
    kver one;               /* inline storage of the first version */
    uint8_t key[];          /* klen key bytes */
} keyrec;

typedef struct {
    uint64_t hash;          /* copy of rec->hash, so most mismatches skip the key compare */
    keyrec *rec;            /* NULL = empty */
} slot;

/* cell classes: keys of up to SLAB_KEY[c] bytes in cells of SLAB_CELL[c] bytes (a multiple of 16) */
#define NCLASS 2
static const size_t SLAB_CELL[NCLASS] = {64, 128};
#define SLAB_KEY(c) (SLAB_CELL[c] - sizeof(keyrec))
#define CHUNK_MIN 4096                  /* bytes of a class's first chunk */
#define CHUNK_MAX ((size_t)4 << 20)     /* and of its largest (doubling up to it) */

typedef struct {
    uint8_t *cur, *end;     /* the unused rest of the newest chunk */
    void *free;             /* freed cells, linked through their first word */
    size_t next;            /* bytes of the next chunk */
} slab;

struct lpg_keyidx {
    pthread_rwlock_t lock;  /* readers shared, the writer exclusive */
    slot *t;                /* cap slots */
    size_t cap;             /* power of two */
    size_t count;           /* non-empty slots */
    slab cls[NCLASS];
    void **chunks;          /* every chunk of every class, freed with the index */
    size_t nchunks, chunks_cap;
};

_Static_assert(sizeof(keyrec) == 48, "keyrec layout");

/* The slab class of a rec of klen key bytes, or NCLASS (malloc'd). */
static inline int rec_class(size_t klen)
{
    for (int c = 0; c < NCLASS; c++)
        if (klen <= SLAB_KEY(c))
            return c;
    return NCLASS;
}

/* A rec for klen key bytes (uninitialised), or NULL (LPG_ENOMEM). */
static keyrec *rec_alloc(lpg_keyidx *k, size_t klen)
{
    int c = rec_class(klen);
    if (c == NCLASS)
        return malloc(sizeof(keyrec) + klen);
    slab *sl = &k->cls[c];
    if (sl->free) {
        void *cell = sl->free;
        memcpy(&sl->free, cell, sizeof(void *));
        return cell;
    }
    if ((size_t)(sl->end - sl->cur) < SLAB_CELL[c]) {
        size_t bytes = sl->next ? sl->next : CHUNK_MIN;
        if (k->nchunks == k->chunks_cap
            && grow((void **)&k->chunks, &k->chunks_cap, k->nchunks + 1, sizeof(void *)))
            return NULL;
        uint8_t *chunk = malloc(bytes);
        if (!chunk)
            return NULL;
        k->chunks[k->nchunks++] = chunk;
        sl->cur = chunk;
        sl->end = chunk + bytes;
        sl->next = bytes < CHUNK_MAX ? bytes * 2 : CHUNK_MAX;
    }
    keyrec *r = (keyrec *)sl->cur;
    sl->cur += SLAB_CELL[c];
    return r;
}

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* A 64-bit hash of (index, key), eight bytes per step (murmur3-style mixing). */
static uint64_t hash_key(uint32_t index, const uint8_t *k, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)index << 32) ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        h ^= rotl(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
        h = rotl(h, 27) * 5 + 0x52dce729;
        k += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, k, n);
        h ^= rotl(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
    }
    return fmix(h);
}

static inline int rec_is(const keyrec *r, uint32_t index, const uint8_t *key, size_t klen)
{
    return r->index == index && r->klen == klen && (klen == 0 || memcmp(r->key, key, klen) == 0);
}

/* Slot of (index, key), or of the empty slot where it would go. */
static size_t find_slot(const lpg_keyidx *k, uint64_t h, uint32_t index, const uint8_t *key,
                        size_t klen)
{
    size_t mask = k->cap - 1, i = (size_t)h & mask;
    for (;;) {
        const slot *s = &k->t[i];
        if (!s->rec || (s->hash == h && rec_is(s->rec, index, key, klen)))
            return i;
        i = (i + 1) & mask;
    }
}

/* Index of the first version of r with node >= node (r->n if none).  O(log n). */
static uint32_t lower_bound(const keyrec *r, uint64_t node)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void rec_free(lpg_keyidx *k, keyrec *r)
{
    if (r->v != &r->one)
        free(r->v);
    int c = rec_class(r->klen);
    if (c == NCLASS) {
        free(r);
        return;
    }
    memcpy(r, &k->cls[c].free, sizeof(void *));
    k->cls[c].free = r;
}

/* Move every rec into the zeroed table nt of ncap slots (a power of two).  With sweep, first free
 * the recs with n == 0 (gc emptied them) and, when drop is set, those of index drop_index;
 * without, the recs are not read (a table growth: only the slots move).  Cannot fail. */
static void rebuild_into(lpg_keyidx *k, slot *nt, size_t ncap, int sweep, int drop, uint32_t drop_index)
{
    size_t mask = ncap - 1, count = 0;
    for (size_t i = 0; i < k->cap; i++) {
        if (i + 16 < k->cap && k->t[i + 16].rec) {     /* the new home slot (and the rec), ahead */
            __builtin_prefetch(&nt[(size_t)k->t[i + 16].hash & mask], 1);
            if (sweep)
                __builtin_prefetch(k->t[i + 16].rec);
        }
        keyrec *r = k->t[i].rec;
        if (!r)
            continue;
        if (sweep && (r->n == 0 || (drop && r->index == drop_index))) {
            rec_free(k, r);
            continue;
        }
        size_t j = (size_t)k->t[i].hash & mask;
        while (nt[j].rec)
            j = (j + 1) & mask;
        nt[j] = k->t[i];
        count++;
    }
    free(k->t);
    k->t = nt;
    k->cap = ncap;
    k->count = count;
}

/* rebuild_into a fresh table of ncap slots; LPG_ENOMEM leaves everything unchanged. */
static int rebuild(lpg_keyidx *k, size_t ncap, int sweep, int drop, uint32_t drop_index)
{
    slot *nt = calloc(ncap, sizeof(slot));
    if (!nt)
        return LPG_ENOMEM;
    rebuild_into(k, nt, ncap, sweep, drop, drop_index);
    return LPG_OK;
}

static int key_args(const lpg_keyidx *k, const uint8_t *key, size_t klen)
{
    if (!k || (klen && !key))
        return LPG_EINVAL;
    if (klen > LPG_KEY_MAX)
        return LPG_EBOUNDS;
    return LPG_OK;
}

int lpg_keyidx_new(lpg_keyidx **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    lpg_keyidx *k = calloc(1, sizeof(*k));
    if (!k)
        return LPG_ENOMEM;
    k->cap = 16;
    k->t = calloc(k->cap, sizeof(slot));
    if (!k->t || rwlock_init(&k->lock)) {
        free(k->t);
        free(k);
        return LPG_ENOMEM;
    }
    *out = k;
    return LPG_OK;
}

void lpg_keyidx_free(lpg_keyidx *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->cap; i++) {
        keyrec *r = k->t[i].rec;
        if (r && r->v != &r->one)
            free(r->v);
        if (r && rec_class(r->klen) == NCLASS)
            free(r);
    }
    for (size_t i = 0; i < k->nchunks; i++)
        free(k->chunks[i]);
    free(k->chunks);
    free(k->t);
    pthread_rwlock_destroy(&k->lock);
    free(k);
}

int lpg_keyidx_reserve(lpg_keyidx *k, size_t extra)
{
    if (!k)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&k->lock);
    int rc = LPG_OK;
    if (extra > SIZE_MAX / 4 - k->count)
        rc = LPG_ENOMEM;
    else if ((k->count + extra) * 2 > k->cap) {
        size_t ncap = k->cap;
        while ((k->count + extra) * 2 > ncap && ncap <= SIZE_MAX / 2 / sizeof(slot))
            ncap *= 2;
        if ((k->count + extra) * 2 > ncap || rebuild(k, ncap, 0, 0, 0) != LPG_OK)
            rc = LPG_ENOMEM;
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

/* The body of lpg_keyidx_put (args checked, h = hash_key(index, key), the lock held). */
static int put_locked(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t node, uint64_t lsn,
                      uint64_t h)
{
    if ((k->count + 1) * 2 > k->cap) {
        if (k->cap > SIZE_MAX / 2 / sizeof(slot) || rebuild(k, k->cap * 2, 0, 0, 0) != LPG_OK)
            return LPG_ENOMEM;
    }
    size_t i = find_slot(k, h, index, key, klen);
    keyrec *r = k->t[i].rec;
    uint32_t at = 0;
    if (r) {
        /* the new version goes after the node's earlier (ended) versions, keeping (3) */
        for (at = lower_bound(r, node); at < r->n && r->v[at].node == node; at++) {
            if (r->v[at].end == LPG_LSN_INF)
                return LPG_EEXIST;
            if (lsn < r->v[at].end)
                return LPG_EINVAL;
        }
        if (r->n == r->cap) {
            if (r->cap >= UINT32_MAX / 2)
                return LPG_ENOMEM;
            uint32_t ncap = r->cap * 2;
            kver *nv = malloc((size_t)ncap * sizeof(kver));
            if (!nv)
                return LPG_ENOMEM;
            memcpy(nv, r->v, r->n * sizeof(kver));
            if (r->v != &r->one)
                free(r->v);
            r->v = nv;
            r->cap = ncap;
        }
    } else {
        r = rec_alloc(k, klen);
        if (!r)
            return LPG_ENOMEM;
        r->index = index;
        r->klen = (uint32_t)klen;
        r->n = 0;
        r->cap = 1;
        r->v = &r->one;
        if (klen)
            memcpy(r->key, key, klen);
        k->t[i].hash = h;
        k->t[i].rec = r;
        k->count++;
    }
    kver nv = {node, lsn, LPG_LSN_INF};
    memmove(&r->v[at + 1], &r->v[at], (r->n - at) * sizeof(kver));
    r->v[at] = nv;
    r->n++;
    return LPG_OK;
}

/* The checks of one (key, node, lsn) a caller hands to put or del. */
static int point_args(const lpg_keyidx *k, const uint8_t *key, size_t klen, uint64_t node, uint64_t lsn)
{
    int rc = key_args(k, key, klen);
    if (rc != LPG_OK)
        return rc;
    if (node >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    return LPG_OK;
}

int lpg_keyidx_put(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                   uint64_t lsn)
{
    int rc = point_args(k, key, klen, node, lsn);
    if (rc != LPG_OK)
        return rc;
    uint64_t h = hash_key(index, key, klen);
    pthread_rwlock_wrlock(&k->lock);
    rc = put_locked(k, index, key, klen, node, lsn, h);
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

/* The table is reserved for every key first; each key's home slot is prefetched PF keys ahead
 * (the slots are met at random: a miss each), so the inserts overlap their misses. */
#define PF 8

int lpg_keyidx_put_many(lpg_keyidx *k, uint32_t index, const uint8_t *keys, size_t klen, const uint64_t *koffs,
                        const uint8_t *flags, size_t n, uint64_t first, uint64_t lsn, size_t *done)
{
    if (!k || !done || (klen && !keys) || (n && (!koffs || !flags)))
        return LPG_EINVAL;
    *done = 0;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    if (first > LPG_ID_CAP || n > LPG_ID_CAP - first)
        return LPG_EBOUNDS;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (flags[i] != 1)
            continue;
        if (koffs[i] > koffs[i + 1] || koffs[i + 1] > klen || koffs[i + 1] - koffs[i] > LPG_KEY_MAX
            || first + i >= LPG_ID_CAP)
            return LPG_EBOUNDS;
        m++;
    }
    int rc = lpg_keyidx_reserve(k, m);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&k->lock);
    uint64_t hs[PF];
    size_t at[PF], head = 0, tail = 0, next = 0;   /* ring of the next keys, hashed and prefetched */
    for (;;) {
        while (head - tail < PF && next < n) {
            if (flags[next] == 1) {
                uint64_t h = hash_key(index, keys + koffs[next], (size_t)(koffs[next + 1] - koffs[next]));
                __builtin_prefetch(&k->t[(size_t)h & (k->cap - 1)]);
                hs[head % PF] = h;
                at[head % PF] = next;
                head++;
            }
            next++;
        }
        if (head == tail)
            break;
        size_t i = at[tail % PF];
        rc = put_locked(k, index, keys + koffs[i], (size_t)(koffs[i + 1] - koffs[i]), first + i, lsn, hs[tail % PF]);
        if (rc)
            break;
        tail++;
        (*done)++;
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

int lpg_keyidx_del(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t node,
                   uint64_t lsn)
{
    int rc = point_args(k, key, klen, node, lsn);
    if (rc != LPG_OK)
        return rc;
    uint64_t h = hash_key(index, key, klen);
    rc = LPG_ENOTFOUND;
    pthread_rwlock_wrlock(&k->lock);
    keyrec *r = k->t[find_slot(k, h, index, key, klen)].rec;
    for (uint32_t j = r ? lower_bound(r, node) : 0; r && j < r->n && r->v[j].node == node; j++) {
        kver *v = &r->v[j];
        if (v->end == LPG_LSN_INF) {
            if (lsn < v->begin) {
                rc = LPG_EINVAL;
            } else {
                v->end = lsn;
                rc = LPG_OK;
            }
            break;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

int lpg_keyidx_get(lpg_keyidx *k, uint32_t index, const uint8_t *key, size_t klen, uint64_t snap,
                   uint64_t *out, size_t cap, size_t *count)
{
    if (!count || (cap && !out))
        return LPG_EINVAL;
    *count = 0;
    int rc = key_args(k, key, klen);
    if (rc != LPG_OK)
        return rc;
    uint64_t h = hash_key(index, key, klen);
    size_t c = 0;
    pthread_rwlock_rdlock(&k->lock);
    const keyrec *r = k->t[find_slot(k, h, index, key, klen)].rec;
    for (uint32_t j = 0; r && j < r->n; j++) {
        const kver *v = &r->v[j];
        if (v->begin <= snap && snap < v->end) {
            if (c < cap)
                out[c] = v->node;
            c++;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    *count = c;
    return c > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_keyidx_get_first_many(lpg_keyidx *k, uint32_t index, const uint8_t *keys, size_t keys_len,
                              const uint64_t *offsets, size_t n, uint64_t snap, int64_t *out)
{
    if (!k || (n && (!offsets || !out)) || (keys_len && !keys))
        return LPG_EINVAL;
    if (n == 0)
        return LPG_OK;
    for (size_t i = 0; i < n; i++)
        if (offsets[i] > offsets[i + 1] || offsets[i + 1] - offsets[i] > LPG_KEY_MAX)
            return LPG_EBOUNDS;
    if (offsets[n] > keys_len)
        return LPG_EBOUNDS;
    /* hashes first, in chunks, so the slot loads of a chunk can be prefetched together */
    enum { CHUNK = 16 };
    uint64_t hs[CHUNK];
    pthread_rwlock_rdlock(&k->lock);
    size_t mask = k->cap - 1;
    for (size_t base = 0; base < n; base += CHUNK) {
        size_t m = n - base < CHUNK ? n - base : CHUNK;
        for (size_t j = 0; j < m; j++) {
            size_t i = base + j;
            hs[j] = hash_key(index, keys + offsets[i], (size_t)(offsets[i + 1] - offsets[i]));
            __builtin_prefetch(&k->t[(size_t)hs[j] & mask]);
        }
        for (size_t j = 0; j < m; j++) {
            size_t i = base + j;
            const uint8_t *key = keys + offsets[i];
            size_t klen = (size_t)(offsets[i + 1] - offsets[i]);
            const keyrec *r = k->t[find_slot(k, hs[j], index, key, klen)].rec;
            int64_t first = -1;
            for (uint32_t q = 0; r && q < r->n; q++) {
                if (r->v[q].begin <= snap && snap < r->v[q].end) {
                    first = (int64_t)r->v[q].node;
                    break;
                }
            }
            out[i] = first;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    return LPG_OK;
}

int lpg_keyidx_drop(lpg_keyidx *k, uint32_t index)
{
    if (!k)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&k->lock);
    int rc = rebuild(k, k->cap, 1, 1, index);
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

int lpg_keyidx_gc(lpg_keyidx *k, uint64_t min_snap)
{
    if (!k)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&k->lock);
    int rc = LPG_OK;
    size_t emptied = 0;
    for (size_t i = 0; i < k->cap; i++) {
        const keyrec *r = k->t[i].rec;
        uint32_t left = 0;
        for (uint32_t j = 0; r && j < r->n; j++)
            left += r->v[j].end > min_snap;
        emptied += r && left == 0;
    }
    /* the new table is allocated before anything is dropped, so ENOMEM changes nothing */
    slot *nt = NULL;
    size_t ncap = k->cap;
    if (emptied) {
        while (ncap > 16 && (k->count - emptied) * 8 < ncap)
            ncap /= 2;
        nt = calloc(ncap, sizeof(slot));
        if (!nt) {
            rc = LPG_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < k->cap; i++) {
        keyrec *r = k->t[i].rec;
        if (!r)
            continue;
        uint32_t w = 0;
        for (uint32_t j = 0; j < r->n; j++)
            if (r->v[j].end > min_snap)
                r->v[w++] = r->v[j];
        r->n = w;
    }
    if (nt)
        rebuild_into(k, nt, ncap, 1, 0, 0);
out:
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

int lpg_keyidx_size(lpg_keyidx *k, uint64_t *n)
{
    if (!k || !n)
        return LPG_EINVAL;
    pthread_rwlock_rdlock(&k->lock);
    *n = k->count;
    pthread_rwlock_unlock(&k->lock);
    return LPG_OK;
}

int lpg_keyidx_check(lpg_keyidx *k)
{
    if (!k)
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&k->lock);
    size_t count = 0, mask = k->cap - 1;
    if (k->cap < 16 || (k->cap & mask) || k->count * 2 > k->cap)
        rc = LPG_ECORRUPT;
    for (size_t i = 0; rc == LPG_OK && i < k->cap; i++) {
        const keyrec *r = k->t[i].rec;
        if (!r)
            continue;
        count++;
        if (r->klen > LPG_KEY_MAX || k->t[i].hash != hash_key(r->index, r->key, r->klen)
            || find_slot(k, k->t[i].hash, r->index, r->key, r->klen) != i
            || r->n == 0 || r->n > r->cap || (r->cap == 1) != (r->v == &r->one)) {
            rc = LPG_ECORRUPT;
            break;
        }
        for (uint32_t a = 0; a < r->n; a++) {
            const kver *x = &r->v[a];
            if (x->begin > x->end || x->begin == LPG_LSN_INF || x->node >= LPG_ID_CAP) {
                rc = LPG_ECORRUPT;
                break;
            }
            if (a > 0) {
                const kver *y = &r->v[a - 1];
                if (y->node > x->node || (y->node == x->node && y->end > x->begin)) {
                    rc = LPG_ECORRUPT;
                    break;
                }
            }
        }
    }
    if (rc == LPG_OK && count != k->count)
        rc = LPG_ECORRUPT;
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

/* Internal (store.c/build.c, not in the cffi block): call cb(ctx, key, klen, node) for every
 * node visible at snap under a key of `index`.  Takes the lock shared; cb must not call back
 * into k.  O(S + versions). */
int keyidx_each(lpg_keyidx *k, uint32_t index, uint64_t snap,
                int (*cb)(void *ctx, const uint8_t *key, size_t klen, uint64_t node), void *ctx)
{
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&k->lock);
    for (size_t i = 0; i < k->cap && !rc; i++) {
        const keyrec *r = k->t[i].rec;
        if (!r || r->index != index)
            continue;
        for (uint32_t j = 0; j < r->n && !rc; j++)
            if (r->v[j].begin <= snap && snap < r->v[j].end)
                rc = cb(ctx, r->key, r->klen, r->v[j].node);
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}
