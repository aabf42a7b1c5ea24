/*
 * scan.c -- whole-graph reads and row grouping for the vectorized schema validator (issue 11).
 *
 * lpg_store_nodes_read / lpg_store_edges_read read many nodes or edges in one call: label set or
 * type (and endpoints) into arrays, property maps into one lpg_rows blob, so a scan of stored
 * data costs no Python object per element.
 *
 * lpg_groups numbers rows by their *signature*: the row's tag (a label set or edge type id) and,
 * for each entry of its property map in order, the key and the class of the value.  A value's
 * class is what a PG-Schema value type can tell about it: its msgpack kind (int, bool, float,
 * str, bin, nil, array, map, ext with its ext code) and, for an integer, the interval between the
 * caller's cut points that holds it (every integer value type's range starts at a cut and ends
 * just before one), for a float whether it is a finite double beyond FLT_MAX (FLOAT32's range),
 * so two rows with one signature are accepted by exactly the same shapes.
 * The same object numbers triples (a, map[b], map[c]): an edge's group with its endpoints'.
 * Signatures are compared in full (no hash is trusted).
 * Complexity: O(bytes of the maps) per call, O(distinct signatures) memory.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "lpgdb.h"
#include "mpack.h"
#include "rows.h"
#include "vec.h"

/* ---- many reads in one call ----------------------------------------------------------------- */

static lpg_rows *rows_new(size_t n)
{
    lpg_rows *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (n + 1 > SIZE_MAX / 8 || !(r->offs = malloc((n + 1) * 8))) {
        free(r);
        return NULL;
    }
    r->n = n;
    r->offs[0] = 0;
    return r;
}

int lpg_store_nodes_read(lpg_store *s, uint64_t snap, const uint64_t *ids, size_t n, uint32_t *lsets,
                         lpg_rows **out)
{
    if (!s || !out || (n && (!ids || !lsets)))
        return LPG_EINVAL;
    lpg_rows *r = rows_new(n);
    if (!r)
        return LPG_ENOMEM;
    int rc = LPG_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = 0;
        if (r->blob.cap - r->blob.n < 256 && buf_reserve(&r->blob, 4096)) {
            rc = LPG_ENOMEM;
            break;
        }
        rc = lpg_store_node(s, snap, ids[i], &lsets[i], r->blob.p + r->blob.n, r->blob.cap - r->blob.n, &len);
        if (rc == LPG_ETOOSMALL) {
            if (buf_reserve(&r->blob, len)) {
                rc = LPG_ENOMEM;
                break;
            }
            rc = lpg_store_node(s, snap, ids[i], &lsets[i], r->blob.p + r->blob.n, r->blob.cap - r->blob.n, &len);
        }
        if (rc == LPG_ENOTFOUND) {
            lsets[i] = UINT32_MAX;
            len = 0;
            rc = LPG_OK;
        }
        if (!rc) {
            r->blob.n += len;
            r->offs[i + 1] = r->blob.n;
        }
    }
    if (rc) {
        lpg_rows_free(r);
        return rc;
    }
    *out = r;
    return LPG_OK;
}

int lpg_store_edges_read(lpg_store *s, uint64_t snap, const uint64_t *ids, size_t n, uint32_t *types,
                         uint64_t *srcs, uint64_t *dsts, lpg_rows **out)
{
    if (!s || !out || (n && (!ids || !types || !srcs || !dsts)))
        return LPG_EINVAL;
    lpg_rows *r = rows_new(n);
    if (!r)
        return LPG_ENOMEM;
    int rc = LPG_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t len = 0;
        if (r->blob.cap - r->blob.n < 256 && buf_reserve(&r->blob, 4096)) {
            rc = LPG_ENOMEM;
            break;
        }
        rc = lpg_store_edge(s, snap, ids[i], &types[i], &srcs[i], &dsts[i], r->blob.p + r->blob.n,
                            r->blob.cap - r->blob.n, &len);
        if (rc == LPG_ETOOSMALL) {
            if (buf_reserve(&r->blob, len)) {
                rc = LPG_ENOMEM;
                break;
            }
            rc = lpg_store_edge(s, snap, ids[i], &types[i], &srcs[i], &dsts[i], r->blob.p + r->blob.n,
                                r->blob.cap - r->blob.n, &len);
        }
        if (rc == LPG_ENOTFOUND) {
            types[i] = UINT32_MAX;
            srcs[i] = dsts[i] = UINT64_MAX;
            len = 0;
            rc = LPG_OK;
        }
        if (!rc) {
            r->blob.n += len;
            r->offs[i + 1] = r->blob.n;
        }
    }
    if (rc) {
        lpg_rows_free(r);
        return rc;
    }
    *out = r;
    return LPG_OK;
}

/* ---- grouping by signature ------------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    uint64_t off;           /* the signature's bytes in keys */
    uint32_t len;
    uint32_t gid;           /* UINT32_MAX: empty slot */
} slot;

struct lpg_groups {
    int64_t *cuts;
    size_t ncuts;
    slot *slots;
    size_t cap;             /* a power of two */
    uint32_t count;
    buf keys;               /* every distinct signature, back to back */
    buf sig;                /* the signature being built */
};

int lpg_groups_new(const int64_t *cuts, size_t ncuts, lpg_groups **out)
{
    if (!out || (ncuts && !cuts) || ncuts > 250)
        return LPG_EINVAL;
    for (size_t i = 1; i < ncuts; i++)
        if (cuts[i] <= cuts[i - 1])
            return LPG_EINVAL;      /* ascending, distinct */
    lpg_groups *g = calloc(1, sizeof *g);
    if (!g)
        return LPG_ENOMEM;
    g->cap = 64;
    g->slots = malloc(g->cap * sizeof(slot));
    g->cuts = malloc((ncuts ? ncuts : 1) * sizeof(int64_t));
    if (!g->slots || !g->cuts) {
        lpg_groups_free(g);
        return LPG_ENOMEM;
    }
    for (size_t i = 0; i < g->cap; i++)
        g->slots[i].gid = UINT32_MAX;
    if (ncuts)
        memcpy(g->cuts, cuts, ncuts * sizeof(int64_t));
    g->ncuts = ncuts;
    *out = g;
    return LPG_OK;
}

void lpg_groups_free(lpg_groups *g)
{
    if (!g)
        return;
    free(g->cuts);
    free(g->slots);
    buf_free(&g->keys);
    buf_free(&g->sig);
    free(g);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* A 64-bit hash of n bytes, 8 at a time (only ever compared within one table). */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ULL;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    return mix(h ^ w);
}

static int groups_grow(lpg_groups *g)
{
    size_t cap = g->cap * 2;
    if (cap > SIZE_MAX / sizeof(slot))
        return LPG_ENOMEM;
    slot *ns = malloc(cap * sizeof(slot));
    if (!ns)
        return LPG_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        ns[i].gid = UINT32_MAX;
    for (size_t i = 0; i < g->cap; i++) {
        if (g->slots[i].gid == UINT32_MAX)
            continue;
        size_t j = g->slots[i].hash & (cap - 1);
        while (ns[j].gid != UINT32_MAX)
            j = (j + 1) & (cap - 1);
        ns[j] = g->slots[i];
    }
    free(g->slots);
    g->slots = ns;
    g->cap = cap;
    return LPG_OK;
}

/* The group number of the signature in g->sig (a new one if it is new). */
static int intern(lpg_groups *g, uint32_t *gid)
{
    const uint8_t *p = g->sig.p;
    size_t n = g->sig.n;
    if (n > UINT32_MAX)
        return LPG_EINVAL;
    uint64_t h = hash_bytes(p, n);
    size_t j = h & (g->cap - 1);
    while (g->slots[j].gid != UINT32_MAX) {
        slot *sl = &g->slots[j];
        if (sl->hash == h && sl->len == n && memcmp(g->keys.p + sl->off, p, n) == 0) {
            *gid = sl->gid;
            return LPG_OK;
        }
        j = (j + 1) & (g->cap - 1);
    }
    if (g->count == UINT32_MAX - 1)
        return LPG_ENOMEM;
    uint64_t off = g->keys.n;
    if (n && buf_put(&g->keys, p, n))
        return LPG_ENOMEM;
    g->slots[j] = (slot){h, off, (uint32_t)n, g->count};
    *gid = g->count++;
    if ((size_t)g->count * 2 > g->cap)
        return groups_grow(g);
    return LPG_OK;
}

/* The class of one value (see the header comment), appended to g->sig. */
static int put_class(lpg_groups *g, const mval *v)
{
    uint8_t c[2];
    size_t n = 1;
    switch (v->kind) {
    case V_INT: {
        size_t k = 0;
        while (k < g->ncuts && g->cuts[k] <= v->i)
            k++;
        c[0] = 'i';
        c[1] = (uint8_t)k;
        n = 2;
        break;
    }
    case V_BOOL: c[0] = 'b'; break;
    case V_FLOAT:                           /* a finite double beyond float32's range (FLOAT32) */
        c[0] = ((v->d > FLT_MAX && v->d <= DBL_MAX) || (v->d < -FLT_MAX && v->d >= -DBL_MAX)) ? 'F' : 'f';
        break;
    case V_STR: c[0] = 's'; break;
    case V_BYTES: c[0] = 'y'; break;
    default: {                              /* V_MSGPACK: the whole encoding, v->n >= 1 */
        const uint8_t *q = v->p;
        uint8_t b = q[0];
        if (b == 0xc0)
            c[0] = 'n';
        else if (b == 0xca)
            c[0] = 'f';                     /* float32: a float */
        else if (b == 0xcf) {               /* a uint64 above INT64_MAX: past every int64 cut */
            c[0] = 'i';
            c[1] = 255;
            n = 2;
        } else if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
            c[0] = 'a';
        else if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
            c[0] = 'm';
        else if (b >= 0xd4 && b <= 0xd8 && v->n >= 2) {
            c[0] = 'e';
            c[1] = q[1];
            n = 2;
        } else if ((b == 0xc7 && v->n >= 3) || (b == 0xc8 && v->n >= 4) || (b == 0xc9 && v->n >= 6)) {
            c[0] = 'e';
            c[1] = q[b == 0xc7 ? 2 : b == 0xc8 ? 3 : 5];
            n = 2;
        } else
            c[0] = '?';                     /* nothing Python stores: the row path decides */
    }
    }
    return buf_put(&g->sig, c, n) ? LPG_ENOMEM : LPG_OK;
}

int lpg_groups_rows(lpg_groups *g, const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n,
                    const uint32_t *tag, uint32_t *gid, uint32_t *ngroups)
{
    if (!g || (blen && !blob) || !offs || (n && (!tag || !gid)) || !ngroups)
        return LPG_EINVAL;
    if (!offsets_ok(offs, n, blen))
        return LPG_ECORRUPT;
    int rc;
    for (size_t r = 0; r < n; r++) {               /* each row exactly one map (lpg_rows_check) */
        g->sig.n = 0;
        uint8_t head[5] = {'R'};
        memcpy(head + 1, &tag[r], 4);
        if (buf_put(&g->sig, head, 5))
            return LPG_ENOMEM;
        if (offs[r] < offs[r + 1]) {
            const uint8_t *p = blob + offs[r], *end = blob + offs[r + 1];
            uint64_t items;
            if (mp_map(p, end, &items, &p))
                return LPG_ECORRUPT;
            for (uint64_t k = 0; k < items; k++) {
                const uint8_t *s;
                size_t sl;
                mval v;
                if (mp_str(p, end, &s, &sl, &p) || mp_value(p, end, &v, &p))
                    return LPG_ECORRUPT;
                uint32_t l32 = (uint32_t)sl;
                if (sl > UINT32_MAX || buf_put(&g->sig, &l32, 4) || buf_put(&g->sig, s, sl))
                    return LPG_ENOMEM;
                if ((rc = put_class(g, &v)))
                    return rc;
            }
            if (p != end)
                return LPG_ECORRUPT;
        }
        if ((rc = intern(g, &gid[r])))
            return rc;
    }
    *ngroups = g->count;
    return LPG_OK;
}

int lpg_groups_triples(lpg_groups *g, size_t n, const uint32_t *a, const uint64_t *b, const uint64_t *c,
                       const uint32_t *map, size_t map_len, uint32_t *gid, uint32_t *ngroups)
{
    if (!g || (n && (!a || !b || !c || !gid)) || (map_len && !map) || !ngroups)
        return LPG_EINVAL;
    for (size_t r = 0; r < n; r++) {
        uint32_t t[3] = {a[r], b[r] < map_len ? map[b[r]] : UINT32_MAX, c[r] < map_len ? map[c[r]] : UINT32_MAX};
        g->sig.n = 0;
        uint8_t head = 'T';
        if (buf_put(&g->sig, &head, 1) || buf_put(&g->sig, t, sizeof t))
            return LPG_ENOMEM;
        int rc = intern(g, &gid[r]);
        if (rc)
            return rc;
    }
    *ngroups = g->count;
    return LPG_OK;
}

int lpg_groups_keys(lpg_groups *g, const uint8_t *keys, size_t klen, const uint64_t *koffs, const uint8_t *flags,
                    size_t n, uint32_t *gid, uint32_t *ngroups)
{
    if (!g || (klen && !keys) || (n && (!koffs || !flags || !gid)) || !ngroups)
        return LPG_EINVAL;
    for (size_t r = 0; r < n; r++) {
        if (flags[r] != 1) {
            gid[r] = UINT32_MAX;
            continue;
        }
        uint64_t a = koffs[r], b = koffs[r + 1];
        if (b < a || b > klen)
            return LPG_EBOUNDS;
        g->sig.n = 0;
        uint8_t head = 'K';
        if (buf_put(&g->sig, &head, 1) || buf_put(&g->sig, keys + a, (size_t)(b - a)))
            return LPG_ENOMEM;
        int rc = intern(g, &gid[r]);
        if (rc)
            return rc;
    }
    *ngroups = g->count;
    return LPG_OK;
}

int lpg_u32_gather(const uint32_t *map, size_t map_len, const uint32_t *idx, size_t n, uint32_t *out)
{
    if ((map_len && !map) || (n && (!idx || !out)))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= map_len)
            return LPG_EBOUNDS;
        out[i] = map[idx[i]];
    }
    return LPG_OK;
}

int lpg_u32_scatter(uint32_t *map, size_t map_len, const uint64_t *ids, const uint32_t *vals, size_t n)
{
    if ((map_len && !map) || (n && (!ids || !vals)))
        return LPG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= map_len)
            return LPG_EBOUNDS;
        map[ids[i]] = vals[i];
    }
    return LPG_OK;
}
