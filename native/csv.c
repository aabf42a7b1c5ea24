/*
 * csv.c -- CSV (the Neo4j admin-import dialect) to typed columns, and ID-space maps (issue 11).
 *
 * lpg_csv parses records of a buffer (the whole input file, memory-mapped by Python) into one
 * output column per header column, in Apache Arrow's layout, so that nothing is ever one Python
 * object per cell:
 *   validity   bitmap, LSB first, 1 = a value (an empty unquoted cell is "no value")
 *   INT/FLOAT  int64 / float64 per row             STR/CHAR  int64 offsets[n+1] + UTF-8 heap
 *   BOOL       bitmap of values                    DICT      uint32 code per row + a dictionary
 *   ID         a property (STR, or INT for an integer map) + the key put into an ID-space map
 *   REF        uint64: the value an ID-space map holds for the key (the loader's row number)
 * Records: fields separated by `delim`; a field that starts with `quote` is quoted (a doubled
 * quote inside is one quote; it may span lines; no size limit); a quote elsewhere is an ordinary
 * character; records end at '\n' or "\r\n"; empty lines are skipped.  Line numbers count every
 * '\n', also inside quoted fields, so an error names the line a user's editor shows.
 *
 * Every problem with the input stops the parse with LPG_EINVAL and a description
 * (lpg_csv_error: line, 1-based column, what, the field's bytes, an auxiliary number); nothing
 * is read outside [buf, buf + len).  Complexity: O(bytes) per call, plus O(1) expected per ID
 * put/get and per dictionary lookup.
 */
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "lpgdb.h"
#include "vec.h"

/* ---- ID-space maps ---------------------------------------------------------------------------- */

/* Open addressing, linear probing, at most 3/4 full.
 *   integer maps: 16 bytes a slot (10M keys: 2^24 slots = 256 MiB, and 128 + 256 MiB while it
 *                 doubles there): a = the key, b = the value + 1 (b == 0: empty);
 *   text maps:    32 bytes a slot (two islots): a = the key's hash (top bit set; a == 0: empty);
 *                 a key of at most INLINE_KEY bytes is kept in the second islot (its length,
 *                 then its bytes) and b is the value, so a probe reads one cache line; a longer
 *                 key (length byte LONG_KEY) has b = the offset in heap of the entry
 *                 [value u64][length u32][key bytes] (unaligned: read with memcpy). */
typedef struct {
    uint64_t a, b;
} islot;

struct lpg_idmap {
    int integer;              /* keys are int64 (8 bytes LE), else UTF-8 text */
    islot *slot;              /* integer maps: cap slots; text maps: 2 * cap islots (64-aligned) */
    void *raw;                /* the allocation holding slot */
    size_t cap, n;            /* slots (a power of two, or 0), entries */
    buf heap;                 /* text maps' long keys */
};

#define IDMAP_ENTRY 12        /* a long text entry's value and length before its key bytes */
#define INLINE_KEY 15
#define LONG_KEY 0xff
#define SLOT_WORDS(m) ((m)->integer ? 1u : 2u)

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t bytes_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix(h ^ w) | (1ULL << 63);
}

int lpg_idmap_new(int integer, lpg_idmap **out)
{
    if (!out)
        return LPG_EINVAL;
    lpg_idmap *m = calloc(1, sizeof *m);
    if (!m)
        return LPG_ENOMEM;
    m->integer = integer != 0;
    *out = m;
    return LPG_OK;
}

void lpg_idmap_free(lpg_idmap *m)
{
    if (!m)
        return;
    free(m->raw);
    buf_free(&m->heap);
    free(m);
}

int lpg_idmap_size(lpg_idmap *m, uint64_t *n)
{
    if (!m || !n)
        return LPG_EINVAL;
    *n = m->n;
    return LPG_OK;
}

int lpg_idmap_integer(lpg_idmap *m, int *integer)
{
    if (!m || !integer)
        return LPG_EINVAL;
    *integer = m->integer;
    return LPG_OK;
}

static uint64_t int_hash(uint64_t v)
{
    return mix(v ^ 0x9e3779b97f4a7c15ULL) | (1ULL << 63);
}

/* The hash of a key in m's form (integer maps: k holds 8 bytes LE). */
static uint64_t key_hash_of(const lpg_idmap *m, const uint8_t *k, size_t n)
{
    if (m->integer) {
        uint64_t v;
        memcpy(&v, k, 8);
        return int_hash(v);
    }
    return bytes_hash(k, n);
}

/* Slot i's first islot. */
static inline islot *slot_at(const lpg_idmap *m, size_t i)
{
    return &m->slot[m->integer ? i : 2 * i];
}

static int slot_used(const lpg_idmap *m, const islot *s)
{
    return m->integer ? s->b != 0 : s->a != 0;
}

static uint64_t slot_val(const lpg_idmap *m, const islot *s)
{
    if (m->integer)
        return s->b - 1;
    if (((const uint8_t *)&s[1])[0] != LONG_KEY)
        return s->b;
    uint64_t v;
    memcpy(&v, m->heap.p + s->b, 8);
    return v;
}

/* The slot holding key k (*found = 1) or the empty slot where it goes (*found = 0).  h is
 * key_hash_of(m, k, n); m->cap > 0 and the table is never full. */
static size_t find_slot(const lpg_idmap *m, uint64_t h, const uint8_t *k, size_t n, int *found)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    if (m->integer) {
        uint64_t iv;
        memcpy(&iv, k, 8);
        for (;; i = (i + 1) & mask) {
            const islot *s = &m->slot[i];
            if (s->b == 0 || s->a == iv) {
                *found = s->b != 0;
                return i;
            }
        }
    }
    for (;; i = (i + 1) & mask) {
        const islot *s = &m->slot[2 * i];
        if (s->a == 0) {
            *found = 0;
            return i;
        }
        if (s->a == h) {
            const uint8_t *kb = (const uint8_t *)&s[1];
            if (kb[0] != LONG_KEY) {
                if (kb[0] == n && memcmp(kb + 1, k, n) == 0) {
                    *found = 1;
                    return i;
                }
                continue;
            }
            uint32_t len;
            memcpy(&len, m->heap.p + s->b + 8, 4);
            if (len == n && memcmp(m->heap.p + s->b + IDMAP_ENTRY, k, n) == 0) {
                *found = 1;
                return i;
            }
        }
    }
}

static int idmap_grow(lpg_idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024, w = SLOT_WORDS(m);
    if (ncap > SIZE_MAX / sizeof(islot) / w)
        return LPG_ENOMEM;
    void *raw = calloc(ncap * w + 4, sizeof(islot));      /* + a cache line to align to */
    if (!raw)
        return LPG_ENOMEM;
    islot *ns = (islot *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    hint_huge(ns, ncap * w * sizeof(islot));     /* probed at random: TLB misses otherwise */
    for (size_t i = 0; i < m->cap; i++) {
        const islot *s = slot_at(m, i);
        if (!slot_used(m, s))
            continue;
        size_t j = (size_t)(m->integer ? int_hash(s->a) : s->a) & (ncap - 1);
        while (slot_used(m, &ns[j * w]))
            j = (j + 1) & (ncap - 1);
        memcpy(&ns[j * w], s, w * sizeof(islot));
    }
    free(m->raw);
    m->raw = raw;
    m->slot = ns;
    m->cap = ncap;
    return LPG_OK;
}

/* key: canonical bytes (8 LE bytes for an integer map).  LPG_EEXIST with *old set. */
static int idmap_put(lpg_idmap *m, const uint8_t *k, size_t n, uint64_t val, uint64_t *old)
{
    if (m->integer ? (n != 8 || val == UINT64_MAX) : n > UINT32_MAX)
        return LPG_EINVAL;
    if ((m->n + 1) * 4 > m->cap * 3) {
        int rc = idmap_grow(m);
        if (rc)
            return rc;
    }
    uint64_t h = key_hash_of(m, k, n);
    int found;
    size_t i = find_slot(m, h, k, n, &found);
    islot *s = slot_at(m, i);
    if (found) {
        if (old)
            *old = slot_val(m, s);
        return LPG_EEXIST;
    }
    if (m->integer) {
        memcpy(&s->a, k, 8);
        s->b = val + 1;
    } else if (n <= INLINE_KEY) {
        uint8_t *kb = (uint8_t *)&s[1];
        kb[0] = (uint8_t)n;
        memcpy(kb + 1, k, n);
        s->a = h;
        s->b = val;
    } else {
        uint8_t head[IDMAP_ENTRY];
        uint32_t len = (uint32_t)n;
        memcpy(head, &val, 8);
        memcpy(head + 8, &len, 4);
        size_t off = m->heap.n, cap = m->heap.cap;
        if (buf_put(&m->heap, head, IDMAP_ENTRY) || buf_put(&m->heap, k, n)) {
            m->heap.n = off;
            return LPG_ENOMEM;
        }
        if (m->heap.cap != cap)
            hint_huge(m->heap.p, m->heap.cap);
        ((uint8_t *)&s[1])[0] = LONG_KEY;
        s->a = h;
        s->b = off;
    }
    m->n++;
    return LPG_OK;
}

static int idmap_get(const lpg_idmap *m, const uint8_t *k, size_t n, uint64_t *val)
{
    if (!m->cap)
        return LPG_ENOTFOUND;
    int found;
    size_t i = find_slot(m, key_hash_of(m, k, n), k, n, &found);
    if (!found)
        return LPG_ENOTFOUND;
    *val = slot_val(m, slot_at(m, i));
    return LPG_OK;
}

/* ---- small parsers ---------------------------------------------------------------------------- */

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static void trim(const uint8_t **p, size_t *n)
{
    while (*n && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n && is_space((*p)[*n - 1]))
        (*n)--;
}

/* 0 ok, 1 not an integer, 2 out of the int64 range, 3 in (INT64_MAX, UINT64_MAX]: *out holds
 * the uint64's bits (only when big_ok) */
static int parse_int_ex(const uint8_t *p, size_t n, int64_t *out, int big_ok)
{
    trim(&p, &n);
    if (!n)
        return 1;
    int neg = 0;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
        n--;
        if (!n)
            return 1;
    }
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : big_ok ? UINT64_MAX : (uint64_t)INT64_MAX;
    int big = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t d = (uint8_t)(p[i] - '0');
        if (d > 9)
            return 1;
        if (v > (lim - d) / 10)
            big = 1;
        else
            v = v * 10 + d;
    }
    if (big)
        return 2;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return !neg && v > (uint64_t)INT64_MAX ? 3 : 0;
}

static int parse_int(const uint8_t *p, size_t n, int64_t *out)
{
    return parse_int_ex(p, n, out, 0);
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

static int parse_float(const uint8_t *p, size_t n, double *out)
{
    trim(&p, &n);
    if (!n || n >= 128)
        return 1;
    char tmp[128];
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == 'x' || c == 'X' || c == '_' || c == '(' || c == 0)
            return 1;          /* hex floats and nan(...) are not numbers here (as in Python) */
        tmp[i] = (char)c;
    }
    tmp[n] = 0;
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale)
        return 1;
    char *end;
    double d = strtod_l(tmp, &end, c_locale);
    if (end != tmp + n)
        return 1;
    *out = d;
    return 0;
}

static int ieq(const uint8_t *p, size_t n, const char *w)
{
    size_t m = strlen(w);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)w[i])
            return 0;
    }
    return 1;
}

/* Offset of the first byte that is not valid UTF-8, or n.  Also counts code points. */
static size_t utf8_check(const uint8_t *p, size_t n, size_t *cps)
{
    size_t i = 0, cp = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                cp += 8;
                continue;
            }
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            cp++;
            continue;
        }
        size_t len;
        uint32_t v;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            v = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            v = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            v = c & 0x07;
        } else {
            break;
        }
        if (i + len > n)
            break;
        size_t k;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                break;
            v = (v << 6) | (p[i + k] & 0x3f);
        }
        if (k < len)
            break;
        if ((len == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) || (len == 4 && (v < 0x10000 || v > 0x10ffff)))
            break;
        i += len;
        cp++;
    }
    if (cps)
        *cps = cp;
    return i;
}

/* ---- the parser ------------------------------------------------------------------------------- */

typedef struct {
    uint8_t kind;
    lpg_idmap *map;                 /* ID / REF */
    uint8_t *valid;                 /* bitmap */
    size_t valid_cap;
    uint8_t *vals;                  /* 8 bytes per row (offsets: n+1), 4 for DICT, bits for BOOL */
    size_t vals_cap;
    buf data;                       /* STR/CHAR/ID(str) heap */
    /* DICT: distinct values */
    uint64_t *dhash;
    uint32_t *dcode;
    size_t dcap;
    int64_t *doff;                  /* entry offsets into dheap, ndict + 1 */
    size_t doff_cap, ndict;
    buf dheap;
    /* REF: keys are gathered while parsing and looked up after the chunk, with prefetching
     * (the map is bigger than the caches: the probes of many rows overlap); per row the raw
     * field's offset and length in the input, for an error; text keys in kheap at koff */
    uint64_t *roff, *rlen, *koff;
    size_t roff_cap, rlen_cap, koff_cap;
    buf kheap;
    /* INT: rows whose value is above INT64_MAX (vals holds the uint64 bits) */
    uint64_t *big;
    size_t nbig, big_cap;
} ccol;

struct lpg_csv {
    uint32_t ncols;
    uint8_t delim, quote;
    ccol *cols;
    uint64_t line;                  /* line number of the next byte to parse */
    uint64_t row_base;              /* ID value of row 0 of the next parse */
    uint64_t *lines;                /* start line of each row of the last parse */
    size_t lines_cap;
    size_t rows;
    buf scratch;
    /* last error */
    uint64_t err_line, err_off, err_len, err_aux;
    uint32_t err_col;
    int err_what;
};

int lpg_csv_new(uint32_t ncols, const uint8_t *kinds, uint8_t delim, uint8_t quote, lpg_csv **out)
{
    if (!out || (ncols && !kinds) || ncols > (1u << 20) || delim == quote || delim == '\n' || quote == '\n'
        || delim == '\r' || quote == '\r')
        return LPG_EINVAL;
    for (uint32_t i = 0; i < ncols; i++)
        if (kinds[i] > LPG_COL_REF)
            return LPG_EINVAL;
    lpg_csv *c = calloc(1, sizeof *c);
    if (!c)
        return LPG_ENOMEM;
    c->cols = calloc(ncols ? ncols : 1, sizeof(ccol));
    if (!c->cols) {
        free(c);
        return LPG_ENOMEM;
    }
    c->ncols = ncols;
    c->delim = delim;
    c->quote = quote;
    c->line = 1;
    for (uint32_t i = 0; i < ncols; i++)
        c->cols[i].kind = kinds[i];
    *out = c;
    return LPG_OK;
}

void lpg_csv_free(lpg_csv *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->ncols; i++) {
        ccol *k = &c->cols[i];
        free(k->valid);
        free(k->vals);
        buf_free(&k->data);
        free(k->dhash);
        free(k->dcode);
        free(k->doff);
        free(k->big);
        free(k->roff);
        free(k->rlen);
        free(k->koff);
        buf_free(&k->kheap);
        buf_free(&k->dheap);
    }
    free(c->cols);
    free(c->lines);
    buf_free(&c->scratch);
    free(c);
}

int lpg_csv_set_map(lpg_csv *c, uint32_t col, lpg_idmap *m)
{
    if (!c || col >= c->ncols || (c->cols[col].kind != LPG_COL_ID && c->cols[col].kind != LPG_COL_REF))
        return LPG_EINVAL;
    c->cols[col].map = m;
    return LPG_OK;
}

int lpg_csv_set_position(lpg_csv *c, uint64_t line, uint64_t row_base)
{
    if (!c || line == 0)
        return LPG_EINVAL;
    c->line = line;
    c->row_base = row_base;
    return LPG_OK;
}

static int fail(lpg_csv *c, int what, uint64_t line, uint32_t col, const uint8_t *base, const uint8_t *f,
                size_t n, uint64_t aux)
{
    c->err_what = what;
    c->err_line = line;
    c->err_col = col;
    c->err_off = f ? (uint64_t)(f - base) : 0;
    c->err_len = n;
    c->err_aux = aux;
    return LPG_EINVAL;
}

/* Make room for row r in every output column. */
static int reserve_row(lpg_csv *c, size_t r)
{
    if (grow((void **)&c->lines, &c->lines_cap, r + 1, 8))
        return LPG_ENOMEM;
    for (uint32_t i = 0; i < c->ncols; i++) {
        ccol *k = &c->cols[i];
        if (k->kind == LPG_COL_SKIP)
            continue;
        if (grow((void **)&k->valid, &k->valid_cap, r / 8 + 1, 1))
            return LPG_ENOMEM;
        size_t need, elem = 8;
        if (k->kind == LPG_COL_BOOL) {
            need = r / 8 + 1;
            elem = 1;
        } else if (k->kind == LPG_COL_DICT) {
            need = r + 1;
            elem = 4;
        } else {
            need = r + 2;        /* offsets need n + 1 */
        }
        if (grow((void **)&k->vals, &k->vals_cap, need, elem))
            return LPG_ENOMEM;
    }
    return LPG_OK;
}

static inline void set_bit(uint8_t *bits, size_t i, int v)
{
    if (v)
        bits[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
        bits[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static int dict_code(ccol *k, const uint8_t *p, size_t n, uint32_t *code)
{
    if ((k->ndict + 1) * 2 > k->dcap) {
        size_t ncap = k->dcap ? k->dcap * 2 : 64;
        uint64_t *h = calloc(ncap, 8);
        uint32_t *cd = malloc(ncap * 4);
        if (!h || !cd) {
            free(h);
            free(cd);
            return LPG_ENOMEM;
        }
        for (size_t i = 0; i < k->dcap; i++) {
            if (!k->dhash[i])
                continue;
            size_t j = (size_t)k->dhash[i] & (ncap - 1);
            while (h[j])
                j = (j + 1) & (ncap - 1);
            h[j] = k->dhash[i];
            cd[j] = k->dcode[i];
        }
        free(k->dhash);
        free(k->dcode);
        k->dhash = h;
        k->dcode = cd;
        k->dcap = ncap;
    }
    if (k->ndict >= UINT32_MAX - 1)
        return LPG_EBOUNDS;
    uint64_t h = bytes_hash(p, n);
    size_t i = (size_t)h & (k->dcap - 1);
    while (k->dhash[i]) {
        if (k->dhash[i] == h) {
            uint32_t e = k->dcode[i];
            size_t len = (size_t)(k->doff[e + 1] - k->doff[e]);
            if (len == n && memcmp(k->dheap.p + k->doff[e], p, n) == 0) {
                *code = e;
                return LPG_OK;
            }
        }
        i = (i + 1) & (k->dcap - 1);
    }
    if (grow((void **)&k->doff, &k->doff_cap, k->ndict + 2, 8))
        return LPG_ENOMEM;
    if (k->ndict == 0)
        k->doff[0] = 0;
    if (buf_put(&k->dheap, p, n))
        return LPG_ENOMEM;
    k->doff[k->ndict + 1] = (int64_t)k->dheap.n;
    k->dhash[i] = h;
    k->dcode[i] = (uint32_t)k->ndict;
    *code = (uint32_t)k->ndict++;
    return LPG_OK;
}

/* Store field (f, n) of row r into column i.  quoted: the field was quoted; raw/rawn: its bytes
 * in the input, for error reports. */
static int put_field(lpg_csv *c, uint32_t i, size_t r, const uint8_t *f, size_t n, int quoted,
                     uint64_t line, const uint8_t *base, const uint8_t *raw, size_t rawn)
{
    ccol *k = &c->cols[i];
    int64_t iv;
    double dv;
    size_t cps, bad;
    int rc;
    if (k->kind == LPG_COL_SKIP)
        return LPG_OK;
    int empty = n == 0 && !quoted;
    switch (k->kind) {
    case LPG_COL_STR:
    case LPG_COL_CHAR: {
        int64_t *off = (int64_t *)k->vals;
        if (r == 0)
            off[0] = (int64_t)k->data.n;
        if (!empty) {
            bad = utf8_check(f, n, &cps);
            if (bad < n)
                return fail(c, LPG_CSVE_UTF8, line, i + 1, base, raw, rawn, bad);
            if (k->kind == LPG_COL_CHAR && cps != 1)
                return fail(c, LPG_CSVE_CHAR, line, i + 1, base, raw, rawn, cps);
            if (buf_put(&k->data, f, n))
                return LPG_ENOMEM;
        }
        off[r + 1] = (int64_t)k->data.n;
        set_bit(k->valid, r, !empty);
        return LPG_OK;
    }
    case LPG_COL_INT:
        if (empty) {
            ((int64_t *)k->vals)[r] = 0;
            set_bit(k->valid, r, 0);
            return LPG_OK;
        }
        rc = parse_int_ex(f, n, &iv, 1);
        if (rc == 3) {
            if (grow((void **)&k->big, &k->big_cap, k->nbig + 1, 8))
                return LPG_ENOMEM;
            k->big[k->nbig++] = r;
        } else if (rc) {
            return fail(c, rc == 2 ? LPG_CSVE_RANGE : LPG_CSVE_INT, line, i + 1, base, raw, rawn, 0);
        }
        ((int64_t *)k->vals)[r] = iv;
        set_bit(k->valid, r, 1);
        return LPG_OK;
    case LPG_COL_FLOAT:
        if (empty) {
            ((double *)k->vals)[r] = 0;
            set_bit(k->valid, r, 0);
            return LPG_OK;
        }
        if (parse_float(f, n, &dv))
            return fail(c, LPG_CSVE_FLOAT, line, i + 1, base, raw, rawn, 0);
        ((double *)k->vals)[r] = dv;
        set_bit(k->valid, r, 1);
        return LPG_OK;
    case LPG_COL_BOOL: {
        if (empty) {
            set_bit(k->vals, r, 0);
            set_bit(k->valid, r, 0);
            return LPG_OK;
        }
        const uint8_t *p = f;
        size_t m = n;
        trim(&p, &m);
        int v;
        if (ieq(p, m, "true"))
            v = 1;
        else if (ieq(p, m, "false"))
            v = 0;
        else
            return fail(c, LPG_CSVE_BOOL, line, i + 1, base, raw, rawn, 0);
        set_bit(k->vals, r, v);
        set_bit(k->valid, r, 1);
        return LPG_OK;
    }
    case LPG_COL_DICT: {
        bad = utf8_check(f, n, NULL);
        if (bad < n)
            return fail(c, LPG_CSVE_UTF8, line, i + 1, base, raw, rawn, bad);
        uint32_t code;
        rc = dict_code(k, f, n, &code);
        if (rc)
            return rc;
        ((uint32_t *)k->vals)[r] = code;
        set_bit(k->valid, r, 1);
        return LPG_OK;
    }
    case LPG_COL_ID:
    case LPG_COL_REF: {
        if (!k->map)
            return LPG_EINVAL;
        if (n == 0)
            return fail(c, LPG_CSVE_EMPTY_ID, line, i + 1, base, raw, rawn, 0);
        const uint8_t *key = f;
        size_t klen = n;
        uint8_t ib[8];
        if (k->map->integer) {
            rc = parse_int(f, n, &iv);
            if (rc)
                return fail(c, LPG_CSVE_INT_ID, line, i + 1, base, raw, rawn, 0);
            memcpy(ib, &iv, 8);
            key = ib;
            klen = 8;
        } else {
            bad = utf8_check(f, n, NULL);
            if (bad < n)
                return fail(c, LPG_CSVE_UTF8, line, i + 1, base, raw, rawn, bad);
        }
        if (k->kind == LPG_COL_REF) {
            if (grow((void **)&k->roff, &k->roff_cap, r + 1, 8) || grow((void **)&k->rlen, &k->rlen_cap, r + 1, 8))
                return LPG_ENOMEM;
            k->roff[r] = (uint64_t)(raw - base);
            k->rlen[r] = rawn;
            if (k->map->integer) {
                ((int64_t *)k->vals)[r] = iv;
            } else {
                if (grow((void **)&k->koff, &k->koff_cap, r + 2, 8))
                    return LPG_ENOMEM;
                if (r == 0)
                    k->koff[0] = 0;
                if (buf_put(&k->kheap, f, n))
                    return LPG_ENOMEM;
                k->koff[r + 1] = k->kheap.n;
            }
            set_bit(k->valid, r, 1);
            return LPG_OK;
        }
        uint64_t old = 0;
        rc = idmap_put(k->map, key, klen, c->row_base + r, &old);
        if (rc == LPG_EEXIST)
            return fail(c, LPG_CSVE_DUP_ID, line, i + 1, base, raw, rawn, old);
        if (rc)
            return rc;
        set_bit(k->valid, r, 1);
        if (k->map->integer) {
            ((int64_t *)k->vals)[r] = iv;
        } else {
            int64_t *off = (int64_t *)k->vals;
            if (r == 0)
                off[0] = (int64_t)k->data.n;
            if (buf_put(&k->data, f, n))
                return LPG_ENOMEM;
            off[r + 1] = (int64_t)k->data.n;
        }
        return LPG_OK;
    }
    }
    return LPG_EINVAL;
}

/* Look the gathered keys of REF column k up for rows [0, n): vals[r] becomes the value.  LPG_EINVAL
 * (error set) at the first missing key.  The map is bigger than the caches, so the probes of many
 * rows overlap in three stages: row r's slot is prefetched; PF1 rows later (text maps) the entry
 * its hash names in the heap is prefetched; PF2 rows after that the key is compared.  O(n)
 * expected; about one cache miss's latency per PF1 + PF2 rows instead of two per row. */
#define PF1 24
#define PF2 16
#define PFRING 64             /* > PF1 + PF2, a power of two */
static int resolve_refs(lpg_csv *c, uint32_t col, size_t n, const uint8_t *base)
{
    ccol *k = &c->cols[col];
    const lpg_idmap *m = k->map;
    uint64_t *vals = (uint64_t *)k->vals;
    uint64_t hs[PFRING];
    size_t mask = m->cap ? m->cap - 1 : 0;
    for (size_t r = 0; r < n + PF1 + PF2; r++) {
        if (r >= PF1 + PF2) {         /* compare row q: its slot and entry were prefetched */
            size_t q = r - PF1 - PF2;
            const uint8_t *key;
            size_t klen;
            if (m->integer) {
                key = (const uint8_t *)&vals[q];
                klen = 8;
            } else {
                key = k->kheap.p + k->koff[q];
                klen = (size_t)(k->koff[q + 1] - k->koff[q]);
            }
            int found = 0;
            size_t i = m->cap ? find_slot(m, hs[q % PFRING], key, klen, &found) : 0;
            if (!found)
                return fail(c, LPG_CSVE_NO_ID, c->lines[q], col + 1, base, base + k->roff[q], k->rlen[q], 0);
            vals[q] = slot_val(m, slot_at(m, i));
        }
        if (r >= PF1 && r - PF1 < n && m->cap && !m->integer) {   /* a long key's entry */
            const islot *sl = slot_at(m, (size_t)hs[(r - PF1) % PFRING] & mask);
            if (sl->a && ((const uint8_t *)&sl[1])[0] == LONG_KEY) {   /* its head and key */
                __builtin_prefetch(m->heap.p + sl->b);
                __builtin_prefetch(m->heap.p + sl->b + IDMAP_ENTRY + 20);
            }
        }
        if (r < n) {
            const uint8_t *key;
            size_t klen;
            if (m->integer) {
                key = (const uint8_t *)&vals[r];
                klen = 8;
            } else {
                key = k->kheap.p + k->koff[r];
                klen = (size_t)(k->koff[r + 1] - k->koff[r]);
            }
            uint64_t h = key_hash_of(m, key, klen);
            hs[r % PFRING] = h;
            if (m->cap)
                __builtin_prefetch(slot_at(m, (size_t)h & mask));
        }
    }
    return LPG_OK;
}

int lpg_csv_parse(lpg_csv *c, const uint8_t *buf_, size_t len, size_t pos, size_t max_rows, size_t *next,
                  size_t *rows)
{
    if (!c || !next || !rows || (len && !buf_) || pos > len)
        return LPG_EINVAL;
    const uint8_t *base = buf_, *p = buf_ + pos, *end = buf_ + len;
    const uint8_t d = c->delim, q = c->quote;
    size_t r = 0;
    int rc = LPG_OK;
    c->err_what = 0;
    for (uint32_t i = 0; i < c->ncols; i++) {
        ccol *k = &c->cols[i];
        k->data.n = 0;
        k->nbig = 0;
        k->kheap.n = 0;
    }
    while (p < end && r < max_rows) {
        /* empty lines */
        if (*p == '\n') {
            c->line++;
            p++;
            continue;
        }
        if (*p == '\r' && (p + 1 == end || p[1] == '\n')) {
            p++;
            continue;
        }
        if ((rc = reserve_row(c, r)))
            break;
        uint64_t line0 = c->line;
        c->lines[r] = line0;
        uint32_t fi = 0;
        for (;;) {
            const uint8_t *raw = p, *f;
            size_t n;
            int quoted = 0;
            int last;   /* the record ends after this field */
            if (p < end && *p == q) {
                quoted = 1;
                const uint8_t *s = p + 1, *w = s;
                int escaped = 0;
                uint64_t nl = 0;
                for (;;) {
                    const uint8_t *e = memchr(w, q, (size_t)(end - w));
                    if (!e) {
                        rc = fail(c, LPG_CSVE_UNCLOSED, line0, fi + 1, base, raw, (size_t)(end - raw), 0);
                        goto out;
                    }
                    for (const uint8_t *x = memchr(w, '\n', (size_t)(e - w)); x; x = memchr(x + 1, '\n', (size_t)(e - x - 1)))
                        nl++;
                    if (e + 1 < end && e[1] == q) {
                        escaped = 1;
                        w = e + 2;
                        continue;
                    }
                    f = s;
                    n = (size_t)(e - s);
                    p = e + 1;
                    break;
                }
                c->line += nl;
                if (escaped) {
                    c->scratch.n = 0;
                    if (buf_reserve(&c->scratch, n)) {
                        rc = LPG_ENOMEM;
                        goto out;
                    }
                    size_t o = 0;
                    for (size_t j = 0; j < n; j++) {
                        c->scratch.p[o++] = f[j];
                        if (f[j] == q)
                            j++;          /* the second quote of a pair */
                    }
                    f = c->scratch.p;
                    n = o;
                }
                if (p == end) {
                    last = 1;
                } else if (*p == d) {
                    last = 0;
                    p++;
                } else if (*p == '\n') {
                    last = 1;
                    p++;
                    c->line++;
                } else if (*p == '\r' && (p + 1 == end || p[1] == '\n')) {
                    last = 1;
                    p += p + 1 == end ? 1 : 2;
                    if (p[-1] == '\n')
                        c->line++;
                } else {
                    rc = fail(c, LPG_CSVE_AFTER_QUOTE, c->line, fi + 1, base, p, 1, *p);
                    goto out;
                }
            } else {
                const uint8_t *s = p;
                while (p < end && *p != d && *p != '\n')
                    p++;
                f = s;
                n = (size_t)(p - s);
                if (p == end) {
                    last = 1;
                } else if (*p == d) {
                    last = 0;
                    p++;
                } else {
                    last = 1;
                    p++;
                    c->line++;
                }
                if (last && n && f[n - 1] == '\r')
                    n--;
            }
            if (fi < c->ncols) {
                rc = put_field(c, fi, r, f, n, quoted, line0, base, raw, quoted ? (size_t)(p - raw) : n);
                if (rc)
                    goto out;
            }
            fi++;
            if (last)
                break;
        }
        if (fi != c->ncols) {
            rc = fail(c, LPG_CSVE_WIDTH, line0, 0, base, NULL, 0, fi);
            goto out;
        }
        r++;
    }
out:
    for (uint32_t i = 0; i < c->ncols && rc == LPG_OK; i++)
        if (c->cols[i].kind == LPG_COL_REF)
            rc = resolve_refs(c, i, r, base);
    c->rows = r;
    *rows = r;
    *next = (size_t)(p - base);
    if (rc == LPG_OK)
        c->row_base += r;
    return rc;
}

int lpg_csv_error(lpg_csv *c, int *what, uint64_t *line, uint32_t *column, uint64_t *off, uint64_t *len,
                  uint64_t *aux)
{
    if (!c || !what || !line || !column || !off || !len || !aux)
        return LPG_EINVAL;
    *what = c->err_what;
    *line = c->err_line;
    *column = c->err_col;
    *off = c->err_off;
    *len = c->err_len;
    *aux = c->err_aux;
    return LPG_OK;
}

int lpg_csv_line(lpg_csv *c, uint64_t *line)
{
    if (!c || !line)
        return LPG_EINVAL;
    *line = c->line;
    return LPG_OK;
}

int lpg_csv_lines(lpg_csv *c, const uint64_t **lines, size_t *n)
{
    if (!c || !lines || !n)
        return LPG_EINVAL;
    *lines = c->lines;
    *n = c->rows;
    return LPG_OK;
}

int lpg_csv_column(lpg_csv *c, uint32_t col, const uint8_t **valid, const uint8_t **vals, size_t *vals_len,
                   const uint8_t **data, size_t *data_len)
{
    if (!c || col >= c->ncols || !valid || !vals || !vals_len || !data || !data_len)
        return LPG_EINVAL;
    ccol *k = &c->cols[col];
    size_t n = c->rows;
    *valid = k->valid;
    *vals = k->vals;
    *data = k->data.p;
    *data_len = k->data.n;
    switch (k->kind) {
    case LPG_COL_SKIP: *vals_len = 0; *valid = NULL; break;
    case LPG_COL_BOOL: *vals_len = (n + 7) / 8; break;
    case LPG_COL_DICT: *vals_len = n * 4; break;
    case LPG_COL_STR: case LPG_COL_CHAR: *vals_len = n ? (n + 1) * 8 : 0; break;
    case LPG_COL_ID: *vals_len = k->map && !k->map->integer ? (n ? (n + 1) * 8 : 0) : n * 8; break;
    default: *vals_len = n * 8;
    }
    return LPG_OK;
}

int lpg_csv_dict(lpg_csv *c, uint32_t col, const int64_t **offs, size_t *n, const uint8_t **data, size_t *data_len)
{
    if (!c || col >= c->ncols || c->cols[col].kind != LPG_COL_DICT || !offs || !n || !data || !data_len)
        return LPG_EINVAL;
    ccol *k = &c->cols[col];
    *offs = k->doff;
    *n = k->ndict;
    *data = k->dheap.p;
    *data_len = k->dheap.n;
    return LPG_OK;
}

/* ---- ID maps over whole columns (Arrow input) -------------------------------------------------- */

/* The key of cell i of an int64 column (kind LPG_COL_INT) or a large-string column (LPG_COL_STR:
 * vals are n + 1 int64 offsets into data) in map m's form.  1 = not an integer for an integer map. */
static int cell_key(const lpg_idmap *m, int kind, const uint8_t *vals, const uint8_t *data, size_t i,
                    uint8_t *tmp, const uint8_t **key, size_t *klen)
{
    if (kind == LPG_COL_INT) {
        int64_t v;
        memcpy(&v, vals + i * 8, 8);
        if (m->integer) {
            memcpy(tmp, &v, 8);
            *klen = 8;
        } else {
            /* decimal text, as the CSV reader would give it */
            char s[24];
            int k = 0;
            uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            do {
                s[k++] = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            if (v < 0)
                s[k++] = '-';
            for (int j = 0; j < k; j++)
                tmp[j] = (uint8_t)s[k - 1 - j];
            *klen = (size_t)k;
        }
        *key = tmp;
        return 0;
    }
    int64_t a, b;
    memcpy(&a, vals + i * 8, 8);
    memcpy(&b, vals + (i + 1) * 8, 8);
    const uint8_t *p = data + a;
    size_t n = (size_t)(b - a);
    if (m->integer) {
        int64_t v;
        if (parse_int(p, n, &v))
            return 1;
        memcpy(tmp, &v, 8);
        *key = tmp;
        *klen = 8;
        return 0;
    }
    *key = p;
    *klen = n;
    return 0;
}

static int column_ok(int kind, const uint8_t *valid, const uint8_t *vals, size_t vals_len, const uint8_t *data,
                     size_t data_len, size_t n, size_t *bad)
{
    (void)valid;
    if (kind == LPG_COL_INT)
        return vals && vals_len >= n * 8 ? LPG_OK : LPG_EBOUNDS;
    if (kind != LPG_COL_STR)
        return LPG_EINVAL;
    if (!vals || vals_len < (n + 1) * 8 || (data_len && !data))
        return LPG_EBOUNDS;
    int64_t prev;
    memcpy(&prev, vals, 8);
    for (size_t i = 0; i < n; i++) {
        int64_t b;
        memcpy(&b, vals + (i + 1) * 8, 8);
        if (prev < 0 || b < prev || (uint64_t)b > data_len) {
            *bad = i;
            return LPG_EBOUNDS;
        }
        prev = b;
    }
    return LPG_OK;
}

/* Put cell i -> base + i for every cell.  A null cell, a duplicate or a non-integer for an
 * integer map stops with LPG_EINVAL and *bad_row = i, *what = LPG_CSVE_*, *aux = the old value
 * of a duplicate. */
int lpg_idmap_put_column(lpg_idmap *m, int kind, const uint8_t *valid, const uint8_t *vals, size_t vals_len,
                         const uint8_t *data, size_t data_len, size_t n, uint64_t base, size_t *bad_row,
                         int *what, uint64_t *aux)
{
    if (!m || !bad_row || !what || !aux)
        return LPG_EINVAL;
    size_t bad = 0;
    int rc = column_ok(kind, valid, vals, vals_len, data, data_len, n, &bad);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        *bad_row = i;
        if (valid && !(valid[i >> 3] >> (i & 7) & 1)) {
            *what = LPG_CSVE_EMPTY_ID;
            return LPG_EINVAL;
        }
        uint8_t tmp[24];
        const uint8_t *key;
        size_t klen;
        if (cell_key(m, kind, vals, data, i, tmp, &key, &klen)) {
            *what = LPG_CSVE_INT_ID;
            return LPG_EINVAL;
        }
        uint64_t old = 0;
        rc = idmap_put(m, key, klen, base + i, &old);
        if (rc == LPG_EEXIST) {
            *what = LPG_CSVE_DUP_ID;
            *aux = old;
            return LPG_EINVAL;
        }
        if (rc)
            return rc;
    }
    return LPG_OK;
}

/* out[i] = the value of cell i's key.  A null cell or a missing key stops as above
 * (LPG_CSVE_EMPTY_ID / LPG_CSVE_NO_ID / LPG_CSVE_INT_ID). */
int lpg_idmap_get_column(lpg_idmap *m, int kind, const uint8_t *valid, const uint8_t *vals, size_t vals_len,
                         const uint8_t *data, size_t data_len, size_t n, uint64_t *out, size_t *bad_row, int *what)
{
    if (!m || !bad_row || !what || (n && !out))
        return LPG_EINVAL;
    size_t bad = 0;
    int rc = column_ok(kind, valid, vals, vals_len, data, data_len, n, &bad);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        *bad_row = i;
        if (valid && !(valid[i >> 3] >> (i & 7) & 1)) {
            *what = LPG_CSVE_EMPTY_ID;
            return LPG_EINVAL;
        }
        uint8_t tmp[24];
        const uint8_t *key;
        size_t klen;
        if (cell_key(m, kind, vals, data, i, tmp, &key, &klen)) {
            *what = LPG_CSVE_INT_ID;
            return LPG_EINVAL;
        }
        if (idmap_get(m, key, klen, &out[i])) {
            *what = LPG_CSVE_NO_ID;
            return LPG_EINVAL;
        }
    }
    return LPG_OK;
}

int lpg_csv_big(lpg_csv *c, uint32_t col, const uint64_t **rows, size_t *n)
{
    if (!c || col >= c->ncols || !rows || !n)
        return LPG_EINVAL;
    *rows = c->cols[col].big;
    *n = c->cols[col].nbig;
    return LPG_OK;
}
