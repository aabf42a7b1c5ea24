/*
 * build.c -- checkpoint merges: base file + overlay (at a snapshot) -> the image of a new file.
 *
 * One call builds one file, so a checkpoint's memory is bounded by one partition (2^17 node
 * slots and their edges), one edge-id range (2^20 ids) or one key sub-index, never by the graph:
 *
 *   lpg_store_build_part(s, snap, p, nslots)   nodes, CSR per (type, dir), property columns,
 *                                              label bitmaps and statistics of partition p
 *   lpg_store_build_eloc(s, snap, q, nslots)   the edge locator of edge ids q * 2^20 ..
 *   lpg_kb_* (key builder)                     the sub-indexes of one hash index
 *
 * The caller (Python, holding the database's writer lock, so the overlay does not change) writes
 * the image through storage/io.py.  Readers keep reading the old files meanwhile (the store's lock
 * is taken shared).  lpg_store_register_keys must run first: it adds every property key name the
 * overlay uses to the dictionary (the only write, under the exclusive lock), so building needs no
 * dictionary changes.
 * The builders are also the entry point for a bulk loader writing partition files directly
 * (issue 11): lpg_fb_new + lpg_fb_section with the encodings of docs/storage.md.
 */
#include <stdlib.h>
#include <string.h>
#include "store.h"
#include "mpack.h"

/* ---- cells: (key, row, value) triples, bucketed by key into columns ------------------------------ */
/* 24 bytes (an mval is 40): a partition's edge properties can be millions of cells */
typedef struct {
    uint32_t key;
    uint32_t row;
    union {
        int64_t i;           /* V_INT, V_BOOL */
        double d;            /* V_FLOAT */
        const uint8_t *p;    /* V_STR, V_BYTES, V_MSGPACK (as mval.p) */
    } u;
    uint32_t n;              /* the length of p's value */
    uint32_t kind;
} cell;

typedef struct {
    cell *c;
    size_t n, cap;
} cells;

static int cells_add(cells *cs, uint32_t key, uint64_t row, const mval *v)
{
    if (cs->n == cs->cap && grow((void **)&cs->c, &cs->cap, cs->n + 1, sizeof(cell)))
        return LPG_ENOMEM;
    if (v->n > UINT32_MAX)
        return LPG_EBOUNDS;
    cell *x = &cs->c[cs->n++];
    x->key = key;
    x->row = (uint32_t)row;
    x->kind = (uint32_t)v->kind;
    x->n = (uint32_t)v->n;
    if (v->kind == V_INT || v->kind == V_BOOL)
        x->u.i = v->i;
    else if (v->kind == V_FLOAT)
        x->u.d = v->d;
    else
        x->u.p = v->p;
    return LPG_OK;
}

/* Cells of one msgpack property map (overlay bytes) at row. */
static int cells_from_map(lpg_store *s, cells *cs, const uint8_t *p, size_t len, uint64_t row)
{
    if (!len)
        return LPG_OK;
    const uint8_t *end = p + len, *q;
    uint64_t n;
    if (mp_map(p, end, &n, &q))
        return LPG_ECORRUPT;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *name;
        size_t nl;
        mval v;
        if (mp_str(q, end, &name, &nl, &q) || mp_value(q, end, &v, &q))
            return LPG_ECORRUPT;
        uint32_t key;
        int rc = store_propkey_id(s, name, nl, 0, &key);
        if (rc)
            return rc == LPG_ENOTFOUND ? LPG_EINVAL : rc;   /* register_keys was not run */
        if ((rc = cells_add(cs, key, row, &v)))
            return rc;
    }
    return q == end ? LPG_OK : LPG_ECORRUPT;
}

static int cells_from_cols(cells *cs, const pprop *props, const uint32_t *keys, uint32_t np, uint64_t src_row,
                           uint64_t row)
{
    for (uint32_t j = 0; j < np; j++) {
        int present;
        mval v;
        int rc = prop_get(&props[j], src_row, &present, &v);
        if (rc)
            return rc;
        if (present && (rc = cells_add(cs, keys[j], row, &v)))
            return rc;
    }
    return LPG_OK;
}

/* Encode one property column of `rows` rows from cells c[0..n) (one key, ascending rows). */
static int put_propcol(buf *b, const cell *c, size_t n, uint64_t rows)
{
    int kind = (int)c[0].kind;
    for (size_t i = 1; i < n; i++)
        if ((int)c[i].kind != kind)
            kind = V_MSGPACK;
    uint8_t head[8] = {(uint8_t)kind};
    int rc = buf_put(b, head, 8);
    uint8_t *present = calloc(rows ? rows : 1, 1);
    if (!present)
        return LPG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        present[c[i].row] = 1;
    if (!rc)
        rc = pcol_put_bits(b, present, rows);
    free(present);
    if (rc)
        return rc;
    if (kind == V_INT || kind == V_BOOL) {
        int64_t *vals = malloc((rows ? rows : 1) * 8);
        if (!vals)
            return LPG_ENOMEM;
        int64_t fill = c[0].u.i;   /* absent rows repeat a present value: no wider frame */
        for (uint64_t r = 0; r < rows; r++)
            vals[r] = fill;
        for (size_t i = 0; i < n; i++)
            vals[c[i].row] = c[i].u.i;
        rc = kind == V_INT ? pcol_put_signed(b, vals, rows) : pcol_put(b, (const uint64_t *)vals, rows);
        free(vals);
        return rc;
    }
    if (kind == V_FLOAT) {
        double *vals = calloc(rows ? rows : 1, 8);
        if (!vals)
            return LPG_ENOMEM;
        for (size_t i = 0; i < n; i++)
            vals[c[i].row] = c[i].u.d;
        if (!(rc = buf_u64(b, rows)))
            rc = buf_put(b, vals, rows * 8);
        free(vals);
        return rc;
    }
    /* heap kinds: offsets then heap */
    uint64_t *off = malloc((rows + 1) * 8);
    buf heap = {0};
    if (!off)
        return LPG_ENOMEM;
    size_t i = 0;
    if (kind != V_MSGPACK) {       /* the values are their bytes: written in place, no heap copy */
        uint64_t at = 0;
        for (uint64_t r = 0; r < rows; r++) {
            off[r] = at;
            if (i < n && c[i].row == r)
                at += c[i++].n;
        }
        off[rows] = at;
        if (!(rc = pcol_put(b, off, rows + 1)))
            rc = buf_u64(b, at);
        free(off);
        if (!rc)
            rc = buf_reserve(b, (size_t)at);
        for (i = 0; i < n && !rc; i++)
            rc = buf_put(b, c[i].u.p, c[i].n);
        return rc ? rc : buf_pad8(b);
    }
    for (uint64_t r = 0; r < rows && !rc; r++) {
        off[r] = heap.n;
        if (i < n && c[i].row == r) {
            const cell *v = &c[i];     /* msgpack: each value (re-)encoded */
            mval m = {.kind = (int)v->kind, .n = v->n};
            if (v->kind == V_INT || v->kind == V_BOOL)
                m.i = v->u.i;
            else if (v->kind == V_FLOAT)
                m.d = v->u.d;
            else
                m.p = v->u.p;
            rc = mp_put_value(&heap, &m);
            i++;
        }
    }
    off[rows] = heap.n;
    if (!rc)
        rc = pcol_put(b, off, rows + 1);
    if (!rc)
        rc = buf_u64(b, heap.n);
    if (!rc)
        rc = buf_put(b, heap.p, heap.n);
    if (!rc)
        rc = buf_pad8(b);
    free(off);
    buf_free(&heap);
    return rc;
}

static int cmp_key(const void *a, const void *b)
{
    const cell *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* One section per key: (kind, a, key) or, for nodes, (kind, key, 0).  Cells were added in row
 * order; a stable sort by key keeps rows ascending within each key. */
static int emit_columns(lpg_fb *fb, cells *cs, uint32_t kind, uint32_t type, uint64_t rows)
{
    if (!cs->n)
        return LPG_OK;
    /* stable: sort (key, row) pairs; rows are unique per key, so qsort on (key) then row */
    cell *c = cs->c;
    size_t n = cs->n;
    /* counting sort by key keeps row order (not needed, and no copy made, for one key) */
    uint32_t maxk = 0, mink = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        if (c[i].key > maxk)
            maxk = c[i].key;
        if (c[i].key < mink)
            mink = c[i].key;
    }
    cell *sorted = c;
    if (mink != maxk) {
        size_t *cnt = calloc((size_t)maxk + 2, sizeof(size_t));
        sorted = malloc(n * sizeof(cell));
        if (!cnt || !sorted) {
            free(cnt);
            free(sorted);
            return LPG_ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            cnt[c[i].key + 1]++;
        for (uint32_t k = 0; k <= maxk; k++)
            cnt[k + 1] += cnt[k];
        for (size_t i = 0; i < n; i++)
            sorted[cnt[c[i].key]++] = c[i];
        free(cnt);
    }
    (void)cmp_key;
    int rc = LPG_OK;
    for (size_t i = 0; i < n && !rc;) {
        size_t j = i;
        while (j < n && sorted[j].key == sorted[i].key)
            j++;
        uint32_t key = sorted[i].key;
        if (!(rc = kind == S_NPROP ? fb_begin(fb, S_NPROP, key, 0) : fb_begin(fb, S_EPROP, type, key))) {
            rc = put_propcol(&fb->body, sorted + i, j - i, rows);
            if (!rc)
                rc = fb_end(fb);
        }
        i = j;
    }
    if (sorted != c)
        free(sorted);
    return rc;
}

static int cmp_u32v(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- registering property keys ------------------------------------------------------------------ */
/* The names registered lately by one call (pointers into its maps, valid during the call): rows
 * of a load mostly repeat the same few keys, and a compare here is cheaper than the dictionary's
 * hash probe.  NULL: no memo. */
#define NAME_MEMO 8
typedef struct {
    const uint8_t *name[NAME_MEMO];
    size_t len[NAME_MEMO];
    unsigned next;
} name_memo;

static int register_map(lpg_store *s, const uint8_t *p, size_t len, name_memo *memo)
{
    if (!len)
        return LPG_OK;
    const uint8_t *end = p + len, *q;
    uint64_t n;
    if (mp_map(p, end, &n, &q))
        return LPG_EINVAL;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *name;
        size_t nl;
        uint32_t id;
        if (mp_str(q, end, &name, &nl, &q) || mp_skip(q, end, &q))
            return LPG_EINVAL;
        int seen = 0;
        for (unsigned j = 0; memo && j < NAME_MEMO && !seen; j++)
            seen = memo->name[j] && memo->len[j] == nl && memcmp(memo->name[j], name, nl) == 0;
        if (seen)
            continue;
        int rc = store_propkey_id(s, name, nl, 1, &id);
        if (rc)
            return rc;
        if (memo) {
            memo->name[memo->next % NAME_MEMO] = name;
            memo->len[memo->next++ % NAME_MEMO] = nl;
        }
    }
    return LPG_OK;
}

int lpg_store_register_keys(lpg_store *s)
{
    if (!s)
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < s->nnew_cap && !rc; i++)
        for (const nver *v = s->nnew[i]; v && !rc; v = v->prev)
            rc = register_map(s, v->props, v->len, NULL);
    for (size_t i = 0; i < s->ntrec && !rc; i++)
        for (const nver *v = s->trecs[i].chain; v && !rc; v = v->prev)
            rc = register_map(s, v->props, v->len, NULL);
    for (size_t i = 0; s->eprops && i < s->ecap && !rc; i++)
        for (const ever *v = s->eprops[i]; v && !rc; v = v->prev)
            rc = register_map(s, v->props, v->len, NULL);
    for (size_t i = 0; i < s->nberec && !rc; i++)
        for (const ever *v = s->berecs[i].props; v && !rc; v = v->prev)
            rc = register_map(s, v->props, v->len, NULL);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- partitions ------------------------------------------------------------------------------------ */
typedef struct {
    uint32_t type, dir;
    uint64_t *eoff;          /* nslots + 1 */
    uint64_t *eid, *nbr;
    size_t n, cap;
    /* out only: where each entry's properties come from */
    uint64_t *bj;            /* the base entry in bc, or OVL: ask the overlay (by edge id) */
    const pcsr *bc;          /* the base CSR of this (type, out), or NULL */
    uint64_t snap;           /* the checkpoint's snapshot */
    uint64_t nodes, maxdeg;
} tlist;

#define OVL UINT64_MAX
#define XBIT (1ULL << 62)    /* bj: a spill record (its offset in the records) */

/* ---- spill records (lpg_store_build_part_x) -------------------------------------------------- */
#define XREC 28              /* slot u32 | type u32 | nbr u64 | eid u64 | plen u32, then props */

/* One direction's records of one partition, ordered by slot (stable: edge-id order within). */
typedef struct {
    const uint8_t *rec;
    uint64_t *pos;           /* record offsets, by slot */
    uint64_t *soff;          /* nslots + 1: records of slot i are pos[soff[i] .. soff[i+1]) */
    size_t n;
    uint64_t *tcount;        /* (type, records) pairs: the lists are allocated at their size */
    size_t ntc, tccap;
} xents;

static void xents_free(xents *x)
{
    free(x->pos);
    free(x->soff);
    free(x->tcount);
    memset(x, 0, sizeof(*x));
}

static uint64_t xents_count(const xents *x, uint32_t type)
{
    for (size_t i = 0; i < x->ntc; i++)
        if (x->tcount[2 * i] == type)
            return x->tcount[2 * i + 1];
    return 0;
}

/* Check every record and order them by slot (a counting sort: O(records + nslots)). */
static int xents_init(xents *x, const uint8_t *rec, size_t len, int dir, uint64_t nslots, uint64_t node_hi,
                      uint64_t edge_base)
{
    memset(x, 0, sizeof(*x));
    x->rec = rec;
    if (!len)
        return LPG_OK;
    if (!rec)
        return LPG_EINVAL;
    x->soff = calloc(nslots + 2, 8);
    if (!x->soff)
        return LPG_ENOMEM;
    size_t n = 0;
    for (size_t o = 0; o < len;) {
        if (len - o < XREC)
            return file_corrupt(NULL, o);
        uint32_t slot = rd32(rec + o), plen = rd32(rec + o + 24);
        uint64_t nbr = rd64(rec + o + 8), eid = rd64(rec + o + 16);
        if (slot >= nslots || nbr >= node_hi || eid < edge_base || eid >= LPG_ID_CAP || plen > len - o - XREC
            || (dir && plen))
            return file_corrupt(NULL, o);
        x->soff[slot + 2]++;
        n++;
        o += XREC + plen;
        uint32_t type = rd32(rec + o - XREC - plen + 4);
        size_t k = 0;
        while (k < x->ntc && x->tcount[2 * k] != type)
            k++;
        if (k == x->ntc) {
            if (grow((void **)&x->tcount, &x->tccap, 2 * k + 2, 8))
                return LPG_ENOMEM;
            x->tcount[2 * k] = type;
            x->ntc++;
        }
        x->tcount[2 * k + 1]++;
    }
    for (uint64_t i = 0; i < nslots; i++)
        x->soff[i + 2] += x->soff[i + 1];
    x->pos = malloc((n ? n : 1) * 8);
    if (!x->pos)
        return LPG_ENOMEM;
    for (size_t o = 0; o < len; o += XREC + rd32(rec + o + 24))
        x->pos[x->soff[rd32(rec + o) + 1]++] = o;
    x->n = n;
    return LPG_OK;
}

typedef struct {
    uint32_t type, dir;
    uint64_t n, nodes, maxdeg;
} cstat;

typedef struct {
    tlist *t;
    size_t n, cap;
    uint64_t nslots, snap;
    const part *pt;          /* the base partition, and */
    const xents *x;          /* the spill records: a new list is allocated at their size */
} tlists;

static void tlists_free(tlists *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        tlist *t = &ts->t[i];
        free(t->eoff);
        free(t->eid);
        free(t->nbr);
        free(t->bj);
    }
    free(ts->t);
}

static tlist *tlist_get(tlists *ts, uint32_t type, uint32_t dir, uint64_t slot)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->t[i].type == type && ts->t[i].dir == dir)
            return &ts->t[i];
    if (ts->n == ts->cap && grow((void **)&ts->t, &ts->cap, ts->n + 1, sizeof(tlist)))
        return NULL;
    tlist *t = &ts->t[ts->n];
    memset(t, 0, sizeof(*t));
    t->type = type;
    t->dir = dir;
    t->snap = ts->snap;
    t->eoff = calloc(ts->nslots + 1, 8);
    if (!t->eoff)
        return NULL;
    (void)slot;   /* offsets of earlier slots stay 0: no entries there */
    ts->n++;
    uint64_t want = ts->x ? xents_count(ts->x, type) : 0;
    const pcsr *bc = ts->pt ? part_csr(ts->pt, type, dir) : NULL;
    if (bc)
        want += bc->nent;
    if (want) {               /* sized for the base's and the spill's entries: no doubling (and no
                               * copy of the arrays) unless the overlay adds more */
        t->eid = malloc(want * 8);
        t->nbr = malloc(want * 8);
        t->bj = dir == 0 ? malloc(want * 8) : NULL;
        if (!t->eid || !t->nbr || (dir == 0 && !t->bj))
            return NULL;
        t->cap = want;
    }
    return t;
}

static int tlist_push(tlist *t, uint64_t eid, uint64_t nbr, const pcsr *bc, uint64_t bj)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap + t->cap / 2 + 64 : 64;
        uint64_t *a = realloc(t->eid, ncap * 8), *b2;
        if (!a)
            return LPG_ENOMEM;
        t->eid = a;
        if (!(b2 = realloc(t->nbr, ncap * 8)))
            return LPG_ENOMEM;
        t->nbr = b2;
        if (t->dir == 0) {
            uint64_t *j = realloc(t->bj, ncap * 8);
            if (!j)
                return LPG_ENOMEM;
            t->bj = j;
        }
        t->cap = ncap;
    }
    t->eid[t->n] = eid;
    t->nbr[t->n] = nbr;
    if (t->dir == 0) {
        t->bj[t->n] = bc ? bj : OVL;
        if (bc)
            t->bc = bc;
    }
    t->n++;
    return LPG_OK;
}

/* The overlay's property bytes of edge eid at snap (a version of an edge created or
 * re-propertied since the base), or NULL with *len 0. */
static const uint8_t *overlay_props(lpg_store *s, uint64_t eid, uint64_t snap, uint32_t *len)
{
    const ever *v = NULL;
    if (eid >= s->edge_base)
        v = ever_at(s->eprops[eid - s->edge_base], snap);
    else {
        const berec *b = st_berec(s, eid);
        if (b)
            v = ever_at(b->props, snap);
    }
    *len = v ? v->len : 0;
    return v ? v->props : NULL;
}

/* EPROP sections of one (type, out) list: one pass over the entries reads each one's properties
 * (its overlay map, or the base columns) into cells, then emit_columns writes a column per key,
 * as for node properties.  The entries' edge ids are in node order, not id order, so the overlay
 * versions are read at random: each is read once, with its pointer and the version itself
 * prefetched ahead.  Memory: one cell per present value of the list.  O(entries + values). */
static int emit_eprops(lpg_fb *fb, lpg_store *s, const tlist *t, const xents *x)
{
    cells cs = {0};
    int rc = LPG_OK;
    uint64_t n = t->n;
    /* one value an entry is the common case: allocated once at exactly that size (grow() would
     * round up to a power of two and zero all of it); more values grow it from there */
    if (n) {
        if (n > SIZE_MAX / sizeof(cell) || !(cs.c = malloc(n * sizeof(cell))))
            return LPG_ENOMEM;
        cs.cap = n;
    }
    for (uint64_t j = 0; j < n && !rc; j++) {
        if (j + 32 < n && t->eid[j + 32] >= s->edge_base && t->eid[j + 32] < s->edge_hi)
            __builtin_prefetch(&s->eprops[t->eid[j + 32] - s->edge_base]);
        if (j + 16 < n && t->eid[j + 16] >= s->edge_base && t->eid[j + 16] < s->edge_hi)
            __builtin_prefetch(s->eprops[t->eid[j + 16] - s->edge_base]);
        if (j + 8 < n && t->bj[j + 8] != OVL && (t->bj[j + 8] & XBIT))
            __builtin_prefetch(x->rec + (t->bj[j + 8] & ~XBIT) + 24);
        if (t->bj[j] == OVL) {
            uint32_t len;
            const uint8_t *p = overlay_props(s, t->eid[j], t->snap, &len);
            rc = cells_from_map(s, &cs, p, len, j);
        } else if (t->bj[j] & XBIT) {
            const uint8_t *r = x->rec + (t->bj[j] & ~XBIT);
            rc = cells_from_map(s, &cs, r + XREC, rd32(r + 24), j);
            if (rc == LPG_ECORRUPT || rc == LPG_EINVAL)     /* malformed, or a name never routed */
                rc = file_corrupt(NULL, t->bj[j] & ~XBIT);
        } else if (t->bc)
            rc = cells_from_cols(&cs, t->bc->props, t->bc->prop_keys, t->bc->nprops, t->bj[j], j);
    }
    if (!rc)
        rc = emit_columns(fb, &cs, S_EPROP, t->type, n);
    free(cs.c);
    return rc;
}

/* Gather the entries of slot i (node nid) in direction d visible at snap. */
static int gather(lpg_store *s, part *pt, uint64_t i, uint64_t nid, int d, uint64_t snap, tlists *ts,
                  const xents *x)
{
    int rc;
    if (pt && i < pt->n) {
        for (uint32_t c = 0; c < pt->ncsr; c++) {
            const pcsr *x = &pt->csr[c];
            if (x->dir != (uint32_t)d)
                continue;
            uint64_t lo, hi;
            if ((rc = csr_range(x, i, &lo, &hi)))
                return rc;
            if (lo == hi)
                continue;
            if ((rc = pcol_touch(&x->eid, lo, hi)) || (rc = pcol_touch(&x->nbr, lo, hi)))
                return rc;
            tlist *t = tlist_get(ts, x->type, x->dir, i);
            if (!t)
                return LPG_ENOMEM;
            for (uint64_t j = lo; j < hi; j++) {
                uint64_t eid = pcol_get_raw(&x->eid, j), nbr = pcol_get_raw(&x->nbr, j);
                if (nbr >= s->node_base || eid >= s->edge_base)
                    return file_corrupt(pt->f, x->nbr.bits_off);
                const berec *b = st_berec(s, eid);
                if (b && b->end <= snap)
                    continue;
                int changed = b && d == 0 && ever_at(b->props, snap) != NULL;
                if ((rc = tlist_push(t, eid, nbr, changed ? NULL : x, j)))
                    return rc;
            }
        }
    }
    for (int r = 0; r < s->nruns[d]; r++) {
        const orun *run = &s->runs[d][r];
        size_t lo = 0, hi = run->nnodes;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (run->node[mid] < nid)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= run->nnodes || run->node[lo] != nid)
            continue;
        for (uint64_t j = run->off[lo]; j < run->off[lo + 1]; j++) {
            const oent *e = &run->ent[j];
            if (!st_overlay_visible(s, e->eid, snap))
                continue;
            tlist *t = tlist_get(ts, (uint32_t)(e->nt >> NT_SHIFT), (uint32_t)d, i);
            if (!t)
                return LPG_ENOMEM;
            if ((rc = tlist_push(t, e->eid, e->nt & NT_MASK, NULL, 0)))
                return rc;
        }
    }
    /* spill records: after every base and overlay entry (their ids are larger), ascending */
    uint64_t last = 0;
    for (uint64_t k = x->n ? x->soff[i] : 0; x->n && k < x->soff[i + 1]; k++) {
        if (k + 8 < x->n)           /* records are read in slot order, i.e. at random */
            __builtin_prefetch(x->rec + x->pos[k + 8]);
        const uint8_t *r = x->rec + x->pos[k];
        uint64_t eid = rd64(r + 16);
        if (k > x->soff[i] && eid <= last)
            return file_corrupt(NULL, x->pos[k]);
        last = eid;
        tlist *t = tlist_get(ts, rd32(r + 4), (uint32_t)d, i);
        if (!t)
            return LPG_ENOMEM;
        if ((rc = tlist_push(t, eid, rd64(r + 8), NULL, 0)))
            return rc;
        if (d == 0)
            t->bj[t->n - 1] = XBIT | x->pos[k];
    }
    return LPG_OK;
}

int lpg_store_build_part(lpg_store *s, uint64_t snap, uint32_t p, uint64_t nslots, lpg_fb **out)
{
    return lpg_store_build_part_x(s, snap, p, nslots, 0, 0, out);
}

int lpg_store_build_part_x(lpg_store *s, uint64_t snap, uint32_t p, uint64_t nslots, uint64_t xhandle,
                           uint64_t node_hi, lpg_fb **out)
{
    if (!s || !out)
        return LPG_EINVAL;
    *out = NULL;
    if (nslots > PART_SLOTS || p >= (LPG_ID_CAP >> PART_SHIFT) || node_hi > LPG_ID_CAP)
        return LPG_EBOUNDS;
    lpg_fb *fb;
    int rc = lpg_fb_new(KIND_PART, p, 0, snap, &fb);
    if (rc)
        return rc;
    xents xs = {0};
    uint64_t first = (uint64_t)p << PART_SHIFT;
    uint64_t *lset = calloc(nslots + 1, 8);
    uint8_t *flags = calloc(nslots + 1, 1);
    cells cs = {0};
    tlists ts = {0};
    ts.nslots = nslots;
    ts.snap = snap;
    uint32_t *labels = NULL;   /* distinct labels present */
    size_t nlabels = 0, labcap = 0;
    cstat *stats = NULL;       /* per (type, dir) CSR written */
    size_t nstats = 0, nstats_cap = 0;
    uint64_t live = 0;
    if (!lset || !flags) {
        rc = LPG_ENOMEM;
        goto out;
    }
    pthread_rwlock_rdlock(&s->lock);
    part *pt;
    if ((rc = st_part(s, p, &pt)))
        goto unlock;
    if (pt && pt->n > nslots) {
        rc = LPG_EINVAL;   /* the partition cannot shrink */
        goto unlock;
    }
    /* a streamed load's nodes of this partition: slot u32 | lset u32 | plen u32 | props, slots
     * ascending (direction 2 of the spill; valid until the adjacency asks for direction 0) */
    const uint8_t *nr = NULL;
    size_t nl = 0, no = 0;
    if (xhandle && (rc = lpg_spill_cb(xhandle, 2, &nr, &nl)))
        goto unlock;
    /* nodes */
    for (uint64_t i = 0; i < nslots && !rc; i++) {
        nloc L;
        if (no < nl) {
            if (nl - no < 12 || rd32(nr + no) < i || rd32(nr + no + 4) >= s->nls
                || rd32(nr + no + 8) > nl - no - 12) {
                rc = file_corrupt(NULL, no);
                break;
            }
            if (rd32(nr + no) == i) {      /* a streamed node */
                uint32_t plen = rd32(nr + no + 8);
                flags[i] = 1;
                lset[i] = rd32(nr + no + 4);
                live++;
                rc = cells_from_map(s, &cs, nr + no + 12, plen, i);
                if (rc == LPG_ECORRUPT || rc == LPG_EINVAL)      /* malformed, or a name never routed */
                    rc = file_corrupt(NULL, no);
                L.lset = (uint32_t)lset[i];
                no += 12 + (size_t)plen;
                goto labels_of;
            }
        }
        if ((rc = st_locate_node(s, first + i, snap, &L)))
            break;
        if (!L.where)
            continue;
        flags[i] = 1;
        lset[i] = L.lset;
        live++;
        if (L.where == 1)
            rc = cells_from_map(s, &cs, L.v->props, L.v->len, i);
        else
            rc = cells_from_cols(&cs, L.pt->nprops, L.pt->nprop_keys, L.pt->nnprops, i, i);
    labels_of:
        for (uint32_t j = 0; !rc && j < s->ls_n[L.lset]; j++) {
            uint32_t l = s->ls_labels[L.lset][j];
            size_t k = 0;
            while (k < nlabels && labels[k] != l)
                k++;
            if (k == nlabels) {
                if (grow((void **)&labels, &labcap, nlabels + 1, 4))
                    rc = LPG_ENOMEM;
                else
                    labels[nlabels++] = l;
            }
        }
    }
    if (!rc && no < nl)
        rc = file_corrupt(NULL, no);        /* records left over: a slot out of range */
    if (rc)
        goto unlock;
    if ((rc = fb_begin(fb, S_LABELSET, 0, 0)) || (rc = pcol_put(&fb->body, lset, nslots)) || (rc = fb_end(fb)))
        goto unlock;
    if ((rc = fb_begin(fb, S_FLAGS, 0, 0)) || (rc = pcol_put_bits(&fb->body, flags, nslots)) || (rc = fb_end(fb)))
        goto unlock;
    if ((rc = emit_columns(fb, &cs, S_NPROP, 0, nslots)))
        goto unlock;
    free(cs.c);                    /* the node cells are written */
    memset(&cs, 0, sizeof(cs));
    /* label bitmaps */
    qsort(labels, nlabels, 4, cmp_u32v);
    uint64_t *lcount = calloc(nlabels + 1, 8);
    if (!lcount) {
        rc = LPG_ENOMEM;
        goto unlock;
    }
    for (size_t k = 0; k < nlabels && !rc; k++) {
        uint8_t *bits = calloc(nslots + 1, 1);
        if (!bits) {
            rc = LPG_ENOMEM;
            break;
        }
        for (uint64_t i = 0; i < nslots; i++)
            if (flags[i])
                for (uint32_t j = 0; j < s->ls_n[lset[i]]; j++)
                    if (s->ls_labels[lset[i]][j] == labels[k]) {
                        bits[i] = 1;
                        lcount[k]++;
                    }
        if (!(rc = fb_begin(fb, S_LABEL, labels[k], 0)) && !(rc = pcol_put_bits(&fb->body, bits, nslots)))
            rc = fb_end(fb);
        free(bits);
    }
    /* adjacency: one direction at a time (half the entries in memory) */
    for (int d = 0; d < 2 && !rc; d++) {
        const uint8_t *xr = NULL;
        size_t xl = 0;
        if (xhandle && (rc = lpg_spill_cb(xhandle, (uint32_t)d, &xr, &xl)))
            break;                  /* each direction's records are asked for when needed */
        if ((rc = xents_init(&xs, xr, xl, d, nslots, node_hi, s->edge_base)))
            break;
        ts.pt = pt;
        ts.x = &xs;
        for (uint64_t i = 0; i < nslots && !rc; i++) {
            if ((rc = gather(s, pt, i, first + i, d, snap, &ts, &xs)))
                break;
            for (size_t k = 0; k < ts.n; k++) {
                tlist *t = &ts.t[k];
                uint64_t deg = t->n - t->eoff[i];
                t->eoff[i + 1] = t->n;
                if (deg) {
                    t->nodes++;
                    if (deg > t->maxdeg)
                        t->maxdeg = deg;
                }
            }
        }
        for (size_t k = 0; k < ts.n && !rc; k++) {
            tlist *t = &ts.t[k];
            if (!t->n)
                continue;
            if ((rc = fb_begin(fb, S_CSR, t->type, t->dir)) || (rc = pcol_put(&fb->body, t->eoff, nslots + 1))
                || (rc = pcol_put(&fb->body, t->eid, t->n)) || (rc = pcol_put(&fb->body, t->nbr, t->n))
                || (rc = fb_end(fb)))
                break;
            if (t->dir == 0)
                rc = emit_eprops(fb, s, t, &xs);
            if (!rc && grow((void **)&stats, &nstats_cap, nstats + 1, sizeof(cstat)))
                rc = LPG_ENOMEM;
            if (!rc)
                stats[nstats++] = (cstat){t->type, t->dir, t->n, t->nodes, t->maxdeg};
        }
        tlists_free(&ts);
        memset(&ts, 0, sizeof(ts));
        ts.nslots = nslots;
        ts.snap = snap;
        xents_free(&xs);
    }
    /* statistics */
    if (!rc && !(rc = fb_begin(fb, S_STATS, 0, 0))) {
        rc = buf_u32(&fb->body, (uint32_t)(nlabels + 1));
        rc = rc ? rc : buf_u32(&fb->body, 0);
        rc = rc ? rc : buf_u32(&fb->body, 0);   /* label 0: every node */
        rc = rc ? rc : buf_u32(&fb->body, 0);
        rc = rc ? rc : buf_u64(&fb->body, live);
        for (size_t k = 0; k < nlabels && !rc; k++) {
            rc = buf_u32(&fb->body, labels[k]);
            rc = rc ? rc : buf_u32(&fb->body, 0);
            rc = rc ? rc : buf_u64(&fb->body, lcount[k]);
        }
        rc = rc ? rc : buf_u32(&fb->body, (uint32_t)nstats);
        rc = rc ? rc : buf_u32(&fb->body, 0);
        for (size_t k = 0; k < nstats && !rc; k++) {
            const cstat *t = &stats[k];
            rc = buf_u32(&fb->body, t->type);
            rc = rc ? rc : buf_u32(&fb->body, t->dir);
            rc = rc ? rc : buf_u64(&fb->body, t->n);
            rc = rc ? rc : buf_u64(&fb->body, t->nodes);
            rc = rc ? rc : buf_u64(&fb->body, t->maxdeg);
        }
        rc = rc ? rc : fb_end(fb);
    }
    free(lcount);
unlock:
    pthread_rwlock_unlock(&s->lock);
out:
    free(lset);
    free(flags);
    free(cs.c);
    free(labels);
    free(stats);
    tlists_free(&ts);
    xents_free(&xs);
    if (rc) {
        lpg_fb_free(fb);
        return rc;
    }
    *out = fb;
    return LPG_OK;
}

/* ---- edge locators ---------------------------------------------------------------------------------- */
int lpg_store_build_eloc(lpg_store *s, uint64_t snap, uint32_t q, uint64_t nslots, lpg_fb **out)
{
    return lpg_store_build_eloc_x(s, snap, q, nslots, 0, NULL, 0, 0, out);
}

int lpg_store_build_eloc_x(lpg_store *s, uint64_t snap, uint32_t q, uint64_t nslots, uint64_t x_first,
                           const uint8_t *x, size_t xlen, uint64_t node_hi, lpg_fb **out)
{
    if (!s || !out || (xlen && !x))
        return LPG_EINVAL;
    *out = NULL;
    if (nslots > ELOC_SLOTS || q >= (LPG_ID_CAP >> ELOC_SHIFT) || x_first > LPG_ID_CAP || node_hi > LPG_ID_CAP)
        return LPG_EBOUNDS;
    if (xlen % 12)
        return file_corrupt(NULL, xlen);
    uint64_t xn = xlen / 12;
    lpg_fb *fb;
    int rc = lpg_fb_new(KIND_ELOC, q, 0, snap, &fb);
    if (rc)
        return rc;
    uint64_t *src = calloc(nslots + 1, 8), *type = calloc(nslots + 1, 8);
    if (!src || !type) {
        rc = LPG_ENOMEM;
        goto out;
    }
    pthread_rwlock_rdlock(&s->lock);
    eloc *el;
    if ((rc = st_eloc(s, q, &el)))
        goto unlock;
    if (el && el->src.count > nslots) {
        rc = LPG_EINVAL;
        goto unlock;
    }
    uint64_t first = (uint64_t)q << ELOC_SHIFT;
    if (el && (rc = pcol_touch(&el->src, 0, el->src.count)) == 0)
        rc = pcol_touch(&el->type, 0, el->type.count);
    for (uint64_t r = 0; r < nslots && !rc; r++) {
        uint64_t eid = first + r;
        if (eid < s->edge_base) {
            if (!el || r >= el->src.count)
                continue;
            uint64_t s1 = pcol_get_raw(&el->src, r), t = pcol_get_raw(&el->type, r);
            if (!s1)
                continue;
            if (s1 - 1 >= s->node_base || t > UINT32_MAX) {
                rc = file_corrupt(el->f, el->src.bits_off);
                break;
            }
            const berec *b = st_berec(s, eid);
            if (b && b->end <= snap)
                continue;
            src[r] = s1;
            type[r] = t;
        } else if (eid >= x_first && eid - x_first < xn) {
            const uint8_t *xr = x + (eid - x_first) * 12;
            uint64_t s1 = rd64(xr);
            if (s1 >= node_hi) {
                rc = file_corrupt(NULL, (eid - x_first) * 12);
                break;
            }
            src[r] = s1 + 1;
            type[r] = rd32(xr + 8);
        } else {
            uint64_t i = eid - s->edge_base;
            if (i >= s->ecap || s->ebegin[i] == LPG_LSN_INF || !st_overlay_visible(s, eid, snap))
                continue;
            src[r] = s->esrc[i] + 1;
            type[r] = s->etype[i];
        }
    }
    if (!rc && !(rc = fb_begin(fb, S_ESRC, 0, 0)) && !(rc = pcol_put(&fb->body, src, nslots)))
        rc = fb_end(fb);
    if (!rc && !(rc = fb_begin(fb, S_ETYPE, 0, 0)) && !(rc = pcol_put(&fb->body, type, nslots)))
        rc = fb_end(fb);
unlock:
    pthread_rwlock_unlock(&s->lock);
out:
    free(src);
    free(type);
    if (rc) {
        lpg_fb_free(fb);
        return rc;
    }
    *out = fb;
    return LPG_OK;
}

/* ---- key sub-indexes -------------------------------------------------------------------------------- */
typedef struct {
    uint64_t hash, node;
    const uint8_t *key;
    uint32_t klen;
} kent;

struct lpg_kb {
    lpg_store *s;
    uint64_t snap;
    uint32_t index, nsub_log;
    kent *e;                 /* overlay entries visible at snap, sorted by (hash, node) */
    size_t n, cap;
    uint64_t written;        /* entries written by lpg_kb_sub so far */
};

static int kent_cmp(const void *a, const void *b)
{
    const kent *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int kb_collect(void *ctx, const uint8_t *key, size_t klen, uint64_t node)
{
    lpg_kb *kb = ctx;
    if (kb->n == kb->cap && grow((void **)&kb->e, &kb->cap, kb->n + 1, sizeof(kent)))
        return LPG_ENOMEM;
    kent *x = &kb->e[kb->n++];
    x->hash = key_hash(key, klen);
    x->node = node;
    x->key = key;
    x->klen = (uint32_t)klen;
    return LPG_OK;
}

static int kb_count(void *ctx, const uint8_t *key, size_t klen, uint64_t node)
{
    (void)key;
    (void)klen;
    (void)node;
    (*(size_t *)ctx)++;
    return LPG_OK;
}

/* The order of qsort(e, n, kent_cmp) without glibc qsort's n-element merge buffer (320 MB for
 * 10M keys): an in-place MSD radix pass on the hash's top byte (American flag sort: each entry
 * is moved straight into its bucket, following cycles), then a qsort of each bucket. */
static void kent_sort(kent *e, size_t n)
{
    size_t cnt[256] = {0}, start[257], next[256];
    for (size_t i = 0; i < n; i++)
        cnt[e[i].hash >> 56]++;
    start[0] = 0;
    for (int b = 0; b < 256; b++) {
        start[b + 1] = start[b] + cnt[b];
        next[b] = start[b];
    }
    for (unsigned b = 0; b < 256; b++) {
        while (next[b] < start[b + 1]) {
            kent x = e[next[b]];
            unsigned d = (unsigned)(x.hash >> 56);
            while (d != b) {                 /* x belongs to bucket d: swap it in, carry on */
                kent y = e[next[d]];
                e[next[d]++] = x;
                x = y;
                d = (unsigned)(x.hash >> 56);
            }
            e[next[b]++] = x;
        }
    }
    for (int b = 0; b < 256; b++)
        if (cnt[b] > 1)
            qsort(e + start[b], cnt[b], sizeof(kent), kent_cmp);
}

int lpg_kb_new(lpg_store *s, uint64_t snap, uint32_t index, uint32_t nsub_log, lpg_kb **out)
{
    return lpg_kb_new_x(s, snap, index, nsub_log, NULL, 0, 0, out);
}

int lpg_kb_new_x(lpg_store *s, uint64_t snap, uint32_t index, uint32_t nsub_log, const uint8_t *x, size_t xlen,
                 uint64_t node_hi, lpg_kb **out)
{
    if (!s || !out || nsub_log > 16 || index >= (1u << 20) || (xlen && !x) || node_hi > LPG_ID_CAP)
        return LPG_EINVAL;
    *out = NULL;
    lpg_kb *kb = calloc(1, sizeof(*kb));
    if (!kb)
        return LPG_ENOMEM;
    kb->s = s;
    kb->snap = snap;
    kb->index = index;
    kb->nsub_log = nsub_log;
    /* counted first, so the entries take exactly n * 32 bytes (doubling took up to 2x, plus
     * the copy of the last realloc) */
    size_t count = 0;
    int rc = keyidx_each(s->keys, index, snap, kb_count, &count);
    for (size_t o = 0; !rc && o < xlen;) {    /* spilled keys: index u32 | klen u32 | node u64 | key */
        if (xlen - o < 16 || rd32(x + o + 4) > xlen - o - 16 || rd64(x + o + 8) >= node_hi) {
            rc = file_corrupt(NULL, o);
            break;
        }
        count += rd32(x + o) == index;
        o += 16 + (size_t)rd32(x + o + 4);
    }
    if (!rc && count) {
        kb->e = malloc(count * sizeof(kent));
        if (!kb->e)
            rc = LPG_ENOMEM;
        else
            kb->cap = count;
    }
    if (!rc)
        rc = keyidx_each(s->keys, index, snap, kb_collect, kb);
    for (size_t o = 0; !rc && o < xlen; o += 16 + (size_t)rd32(x + o + 4))
        if (rd32(x + o) == index)
            rc = kb_collect(kb, x + o + 16, rd32(x + o + 4), rd64(x + o + 8));
    if (rc) {
        lpg_kb_free(kb);
        return rc;
    }
    kent_sort(kb->e, kb->n);
    *out = kb;
    return LPG_OK;
}

void lpg_kb_free(lpg_kb *kb)
{
    if (!kb)
        return;
    free(kb->e);
    free(kb);
}

static inline uint32_t sub_of(uint64_t h, uint32_t nsub_log)
{
    return nsub_log ? (uint32_t)(h >> (64 - nsub_log)) : 0;
}

int lpg_kb_dirty(lpg_kb *kb, uint32_t *out, size_t cap, size_t *count)
{
    if (!kb || !count || (cap && !out))
        return LPG_EINVAL;
    size_t nsub = (size_t)1 << kb->nsub_log;
    uint8_t *d = calloc(nsub, 1);
    if (!d)
        return LPG_ENOMEM;
    for (size_t i = 0; i < kb->n; i++)
        d[sub_of(kb->e[i].hash, kb->nsub_log)] = 1;
    lpg_store *s = kb->s;
    pthread_rwlock_rdlock(&s->lock);
    for (size_t i = 0; i < s->dead_keys.cap; i++) {
        uint64_t k = s->dead_keys.n ? s->dead_keys.k[i] : EMPTY_KEY;
        if (k == EMPTY_KEY || (k >> 32) != kb->index)
            continue;
        d[sub_of((k & 0xffffffffULL) << 32, kb->nsub_log)] = 1;
    }
    pthread_rwlock_unlock(&s->lock);
    size_t k = 0;
    for (size_t i = 0; i < nsub; i++)
        if (d[i]) {
            if (k < cap)
                out[k] = (uint32_t)i;
            k++;
        }
    free(d);
    *count = k;
    return k > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_kb_sub(lpg_kb *kb, uint32_t sub, lpg_fb **out, uint64_t *entries)
{
    if (!kb || !out || !entries)
        return LPG_EINVAL;
    *out = NULL;
    if (sub >= (1u << kb->nsub_log))
        return LPG_EBOUNDS;
    lpg_store *s = kb->s;
    lpg_fb *fb;
    int rc = lpg_fb_new(KIND_KEYS, kb->index, ((uint64_t)kb->nsub_log << 32) | sub, kb->snap, &fb);
    if (rc)
        return rc;
    uint64_t *hashes = NULL, *nodes = NULL, *offs = NULL;
    size_t n = 0, cap = 0;
    buf heap = {0};
    pthread_rwlock_rdlock(&s->lock);
    /* base entries of this hash range: from the old sub-index covering it */
    ksub *k = NULL;
    if (kb->index < s->nkidx && s->kidx[kb->index].present) {
        uint32_t old = s->kidx[kb->index].nsub_log;
        if (old > kb->nsub_log) {
            rc = LPG_EINVAL;   /* sub-indexes only ever split */
            goto unlock;
        }
        if ((rc = st_ksub(s, kb->index, sub >> (kb->nsub_log - old), old, &k)))
            goto unlock;
    }
    size_t oi = 0;   /* overlay entries of this sub: [lo, hi) */
    size_t lo = 0, hi = kb->n;
    {
        size_t a = 0, b = kb->n;
        while (a < b) {
            size_t m = a + (b - a) / 2;
            if (sub_of(kb->e[m].hash, kb->nsub_log) < sub)
                a = m + 1;
            else
                b = m;
        }
        lo = a;
        hi = lo;
        while (hi < kb->n && sub_of(kb->e[hi].hash, kb->nsub_log) == sub)
            hi++;
    }
    oi = lo;
    uint64_t bi = 0, bcount = k ? k->count : 0, prev_hash = 0;
    if (k && (rc = file_touch(k->f, k->hash_off, 8 * bcount)))
        goto unlock;
    if (k && ((rc = pcol_touch(&k->node, 0, bcount)) || (rc = pcol_touch(&k->koff, 0, bcount + 1))))
        goto unlock;
    for (;;) {
        /* next base entry in range (skipping stale ones) */
        const uint8_t *bkey = NULL;
        uint64_t bh = 0, bnode = 0, bklen = 0;
        int have_b = 0;
        while (k && bi < bcount) {
            uint64_t h = rd64(k->f->data + k->hash_off + 8 * bi);
            if (h < prev_hash) {
                rc = file_corrupt(k->f, k->hash_off + 8 * bi);
                goto unlock;
            }
            prev_hash = h;
            if (sub_of(h, kb->nsub_log) != sub) {
                bi++;
                continue;
            }
            uint64_t node = pcol_get_raw(&k->node, bi), a = pcol_get_raw(&k->koff, bi),
                     e = pcol_get_raw(&k->koff, bi + 1);
            if (a > e || e > k->heap_len || node >= s->node_base) {
                rc = file_corrupt(k->f, k->koff.bits_off);
                goto unlock;
            }
            if (st_touched_at(s, node, kb->snap)) {
                bi++;
                continue;
            }
            if ((rc = file_touch(k->f, k->heap_off + a, e - a)))
                goto unlock;
            bh = h;
            bnode = node;
            bkey = k->f->data + k->heap_off + a;
            bklen = e - a;
            have_b = 1;
            break;
        }
        int have_o = oi < hi;
        if (!have_b && !have_o)
            break;
        int take_b = have_b && (!have_o || bh < kb->e[oi].hash || (bh == kb->e[oi].hash && bnode < kb->e[oi].node));
        uint64_t h, node;
        const uint8_t *key;
        size_t klen;
        if (take_b) {
            h = bh;
            node = bnode;
            key = bkey;
            klen = (size_t)bklen;
            bi++;
        } else {
            h = kb->e[oi].hash;
            node = kb->e[oi].node;
            key = kb->e[oi].key;
            klen = kb->e[oi].klen;
            oi++;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            uint64_t *a = realloc(hashes, ncap * 8), *b2, *c;
            if (!a) {
                rc = LPG_ENOMEM;
                goto unlock;
            }
            hashes = a;
            if (!(b2 = realloc(nodes, ncap * 8))) {
                rc = LPG_ENOMEM;
                goto unlock;
            }
            nodes = b2;
            if (!(c = realloc(offs, (ncap + 1) * 8))) {
                rc = LPG_ENOMEM;
                goto unlock;
            }
            offs = c;
            cap = ncap;
        }
        hashes[n] = h;
        nodes[n] = node;
        offs[n] = heap.n;
        n++;
        if ((rc = buf_put(&heap, key, klen)))
            goto unlock;
    }
    if (!offs && !(offs = malloc(8))) {
        rc = LPG_ENOMEM;
        goto unlock;
    }
    offs[n] = heap.n;
    /* sections */
    if ((rc = fb_begin(fb, S_KHASH, 0, 0)) || (rc = buf_u64(&fb->body, n)) || (rc = buf_put(&fb->body, hashes, n * 8))
        || (rc = fb_end(fb)))
        goto unlock;
    if ((rc = fb_begin(fb, S_KNODE, 0, 0)) || (rc = pcol_put(&fb->body, nodes, n)) || (rc = fb_end(fb)))
        goto unlock;
    if ((rc = fb_begin(fb, S_KOFF, 0, 0)) || (rc = pcol_put(&fb->body, offs, n + 1)) || (rc = fb_end(fb)))
        goto unlock;
    if ((rc = lpg_fb_section(fb, S_KHEAP, 0, 0, heap.p, heap.n)))
        goto unlock;
    {
        uint32_t dbits = 0;
        while (dbits < 24 && (1ULL << dbits) < n)
            dbits++;
        size_t nd = ((size_t)1 << dbits) + 1;
        uint32_t *dir = malloc(nd * 4);
        if (!dir) {
            rc = LPG_ENOMEM;
            goto unlock;
        }
        size_t j = 0;
        for (size_t b = 0; b < nd - 1; b++) {
            while (j < n) {
                uint64_t rest = kb->nsub_log ? hashes[j] << kb->nsub_log : hashes[j];
                uint64_t bb = dbits ? rest >> (64 - dbits) : 0;
                if (bb >= b)
                    break;
                j++;
            }
            dir[b] = (uint32_t)j;
        }
        dir[nd - 1] = (uint32_t)n;
        if (!(rc = fb_begin(fb, S_KDIR, 0, 0)) && !(rc = buf_u64(&fb->body, dbits)) && !(rc = buf_put(&fb->body, dir, nd * 4)))
            rc = fb_end(fb);
        free(dir);
    }
    *entries = n;
unlock:
    pthread_rwlock_unlock(&s->lock);
    free(hashes);
    free(nodes);
    free(offs);
    buf_free(&heap);
    if (rc) {
        lpg_fb_free(fb);
        return rc;
    }
    *out = fb;
    return LPG_OK;
}

int lpg_kb_overlay(lpg_kb *kb, uint64_t *n)
{
    if (!kb || !n)
        return LPG_EINVAL;
    *n = kb->n;
    return LPG_OK;
}

int lpg_kb_resplit(lpg_kb *kb, uint32_t nsub_log)
{
    if (!kb || nsub_log > 16 || nsub_log < kb->nsub_log)
        return LPG_EINVAL;
    kb->nsub_log = nsub_log;
    return LPG_OK;
}

/* ---- a streamed bulk load: property keys and the spill router ---------------------------------- */
int lpg_store_register_rows(lpg_store *s, const uint8_t *blob, size_t blob_len, const uint64_t *offs, size_t n)
{
    if (!s || (n && (!offs || (!blob && blob_len))))
        return LPG_EINVAL;
    int rc = LPG_OK;
    name_memo memo = {{0}, {0}, 0};
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        if (offs[i] > offs[i + 1] || offs[i + 1] > blob_len)
            rc = LPG_EBOUNDS;
        else
            rc = register_map(s, blob + offs[i], offs[i + 1] - offs[i], &memo);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* In the spill buffers (and the spill file) an edge record of direction 0/1 is packed: LEB128
 * varints slot | type | neighbour | edge id minus the buffer's previous record's (the first: minus
 * 0) | plen, then plen bytes of properties.  lpg_spill_unpack gives back the fixed XREC records
 * the builder reads (36 -> ~16 bytes an out-record of one int property, 28 -> ~9 an in-record:
 * half the spill's bytes written, checksummed and read back). */
#define XPACK_MAX 40         /* a packed record's head at most (5 varints) */

typedef struct {
    buf b;
    uint64_t last;           /* edge records: the previous record's edge id */
    uint64_t xlen;           /* the bytes of b's records unpacked */
} sbuf;

struct lpg_spill {
    sbuf *b;                 /* 3 per partition: [3p] out, [3p + 1] in, [3p + 2] nodes */
    size_t nb;               /* buffers allocated */
    uint32_t nparts;         /* 1 + the largest partition routed to */
    buf eloc, keys;
    uint64_t bytes;
};

int lpg_spill_new(lpg_spill **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = calloc(1, sizeof(lpg_spill));
    return *out ? LPG_OK : LPG_ENOMEM;
}

void lpg_spill_free(lpg_spill *sp)
{
    if (!sp)
        return;
    for (size_t i = 0; i < sp->nb; i++)
        buf_free(&sp->b[i].b);
    free(sp->b);
    buf_free(&sp->eloc);
    buf_free(&sp->keys);
    free(sp);
}

static sbuf *spill_buf(lpg_spill *sp, uint64_t p, uint32_t d)
{
    size_t i = (size_t)p * 3 + d;
    if (i >= sp->nb && grow((void **)&sp->b, &sp->nb, i + 1, sizeof(sbuf)))
        return NULL;
    if (p + 1 > sp->nparts)
        sp->nparts = (uint32_t)(p + 1);
    return &sp->b[i];
}

static inline size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A varint at *p (< end); 0 if it is truncated or longer than 10 bytes. */
static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        if (shift == 63 && c > 1)
            return 0;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

static int spill_rec(lpg_spill *sp, uint64_t node, uint32_t d, uint32_t type, uint64_t nbr, uint64_t eid,
                     const uint8_t *props, uint32_t plen)
{
    sbuf *s = spill_buf(sp, node >> PART_SHIFT, d);
    if (!s || buf_reserve(&s->b, XPACK_MAX + (size_t)plen))
        return LPG_ENOMEM;
    if (eid < s->last)
        return LPG_EINVAL;          /* the caller routes edges in id order */
    uint8_t *o = s->b.p + s->b.n, *o0 = o;
    o += put_varint(o, node & (PART_SLOTS - 1));
    o += put_varint(o, type);
    o += put_varint(o, nbr);
    o += put_varint(o, eid - s->last);
    o += put_varint(o, plen);
    if (plen)
        memcpy(o, props, plen);
    o += plen;
    s->last = eid;
    s->xlen += XREC + (uint64_t)plen;
    s->b.n += (size_t)(o - o0);
    sp->bytes += (uint64_t)(o - o0);
    return LPG_OK;
}

int lpg_spill_unpack(uint32_t d, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    if ((n && !in) || (cap && !out) || d > 4)
        return LPG_EINVAL;
    if (d > 1) {                     /* stored as they are */
        if (n != cap)
            return file_corrupt(NULL, 0);
        if (n)
            memcpy(out, in, n);
        return LPG_OK;
    }
    const uint8_t *p = in, *end = in + n;
    size_t o = 0;
    uint64_t eid = 0;
    while (p < end) {
        uint64_t slot, type, nbr, delta, plen;
        size_t at = (size_t)(p - in);
        if (!get_varint(&p, end, &slot) || !get_varint(&p, end, &type) || !get_varint(&p, end, &nbr)
            || !get_varint(&p, end, &delta) || !get_varint(&p, end, &plen) || slot > UINT32_MAX
            || type > UINT32_MAX || delta > LPG_ID_CAP || (eid += delta) > LPG_ID_CAP
            || plen > (uint64_t)(end - p) || cap - o < XREC || plen > cap - o - XREC)
            return file_corrupt(NULL, at);
        uint32_t s32 = (uint32_t)slot, t32 = (uint32_t)type, p32 = (uint32_t)plen;
        memcpy(out + o, &s32, 4);
        memcpy(out + o + 4, &t32, 4);
        memcpy(out + o + 8, &nbr, 8);
        memcpy(out + o + 16, &eid, 8);
        memcpy(out + o + 24, &p32, 4);
        if (plen)
            memcpy(out + o + XREC, p, plen);
        o += XREC + plen;
        p += plen;
    }
    return o == cap ? LPG_OK : file_corrupt(NULL, n);
}

int lpg_spill_edges(lpg_spill *sp, uint64_t first, size_t n, const uint32_t *types, const uint64_t *src,
                    const uint64_t *dst, const uint8_t *blob, size_t blob_len, const uint64_t *offs)
{
    if (!sp || (n && (!types || !src || !dst || !offs || (!blob && blob_len))))
        return LPG_EINVAL;
    if (first > LPG_ID_CAP || n > LPG_ID_CAP - first)
        return LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++)
        if (src[i] >= LPG_ID_CAP || dst[i] >= LPG_ID_CAP || offs[i] > offs[i + 1] || offs[i + 1] > blob_len
            || offs[i + 1] - offs[i] > UINT32_MAX)
            return LPG_EBOUNDS;
    if (buf_reserve(&sp->eloc, n * 12))
        return LPG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t eid = first + i;
        int rc = spill_rec(sp, src[i], 0, types[i], dst[i], eid, blob + offs[i], (uint32_t)(offs[i + 1] - offs[i]));
        if (!rc)
            rc = spill_rec(sp, dst[i], 1, types[i], src[i], eid, NULL, 0);
        if (rc)
            return rc;
        memcpy(sp->eloc.p + sp->eloc.n, &src[i], 8);
        memcpy(sp->eloc.p + sp->eloc.n + 8, &types[i], 4);
        sp->eloc.n += 12;
        sp->bytes += 12;
    }
    return LPG_OK;
}

int lpg_spill_nodes(lpg_spill *sp, uint64_t first, size_t n, const uint32_t *lsets, const uint8_t *blob,
                    size_t blob_len, const uint64_t *offs)
{
    if (!sp || (n && (!lsets || !offs || (!blob && blob_len))))
        return LPG_EINVAL;
    if (first > LPG_ID_CAP || n > LPG_ID_CAP - first)
        return LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++)
        if (offs[i] > offs[i + 1] || offs[i + 1] > blob_len || offs[i + 1] - offs[i] > UINT32_MAX)
            return LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++) {
        uint64_t nid = first + i;
        sbuf *sb = spill_buf(sp, nid >> PART_SHIFT, 2);
        buf *b = sb ? &sb->b : NULL;
        uint32_t h[3] = {(uint32_t)(nid & (PART_SLOTS - 1)), lsets[i], (uint32_t)(offs[i + 1] - offs[i])};
        if (!b || buf_put(b, h, 12) || buf_put(b, blob + offs[i], h[2]))
            return LPG_ENOMEM;
        sb->xlen += 12 + (uint64_t)h[2];
        sp->bytes += 12 + h[2];
    }
    return LPG_OK;
}

int lpg_spill_keys(lpg_spill *sp, uint32_t index, uint64_t first, size_t n, const uint8_t *keys, size_t keys_len,
                   const uint64_t *koffs, const uint8_t *flags)
{
    if (!sp || (n && (!koffs || !flags || (!keys && keys_len))))
        return LPG_EINVAL;
    if (first > LPG_ID_CAP || n > LPG_ID_CAP - first)
        return LPG_EBOUNDS;
    for (size_t i = 0; i < n; i++) {
        if (!flags[i])
            continue;
        if (koffs[i] > koffs[i + 1] || koffs[i + 1] > keys_len || koffs[i + 1] - koffs[i] > UINT32_MAX)
            return LPG_EBOUNDS;
        uint32_t h[2] = {index, (uint32_t)(koffs[i + 1] - koffs[i])};
        uint64_t nid = first + i;
        if (buf_put(&sp->keys, h, 8) || buf_put(&sp->keys, &nid, 8) || buf_put(&sp->keys, keys + koffs[i], h[1]))
            return LPG_ENOMEM;
        sp->bytes += 16 + h[1];
    }
    return LPG_OK;
}

int lpg_spill_size(lpg_spill *sp, uint64_t *bytes, uint32_t *nparts)
{
    if (!sp || !bytes || !nparts)
        return LPG_EINVAL;
    *bytes = sp->bytes;
    *nparts = sp->nparts;
    return LPG_OK;
}

int lpg_spill_buffer(lpg_spill *sp, uint32_t p, uint32_t d, const uint8_t **data, size_t *len, size_t *unpacked)
{
    if (!sp || !data || !len || !unpacked || d > 4)
        return LPG_EINVAL;
    const buf *b = NULL;
    const sbuf *s = NULL;
    if (d == 3)
        b = &sp->eloc;
    else if (d == 4)
        b = &sp->keys;
    else if ((size_t)p * 3 + d < sp->nb)
        b = &(s = &sp->b[(size_t)p * 3 + d])->b;
    *data = b ? b->p : NULL;
    *len = b ? b->n : 0;
    *unpacked = s ? (size_t)s->xlen : *len;
    return LPG_OK;
}

int lpg_spill_clear(lpg_spill *sp)
{
    if (!sp)
        return LPG_EINVAL;
    for (size_t i = 0; i < sp->nb; i++) {
        sp->b[i].b.n = 0;    /* the memory is kept: refilled at once (no page faults again) */
        sp->b[i].last = 0;   /* each buffer's packed records start again from edge id 0 */
        sp->b[i].xlen = 0;
    }
    sp->eloc.n = 0;
    sp->keys.n = 0;
    sp->bytes = 0;
    return LPG_OK;
}
