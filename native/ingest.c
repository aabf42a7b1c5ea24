/*
 * ingest.c -- typed columns (Arrow layout) to the per-row property maps the engine stores (issue 11).
 *
 * lpg_rows_pack encodes row i's present cells as the msgpack map {name: value} that
 * storage/records.py's pack_props writes (the empty map is zero bytes), all rows into one blob
 * with offsets, so a bulk load never builds a Python object per cell.  Values are encoded as
 * Python's msgpack does (smallest int form, float64, str/bin by length), so the bytes equal
 * pack_props of the same dict.  Column kinds (LPG_PK_*):
 *   INT int64 | UINT uint64 | FLOAT float64 | BOOL bitmap | STR / BYTES / MSGPACK int64
 *   offsets[n+1] into data (MSGPACK: each cell is already a msgpack value) | DATE int32 days
 *   since 1970-01-01 (ext type 1, the proleptic ordinal).
 * Every column comes with its element offset (Arrow's array offset), the byte lengths of its
 * buffers (checked against n before anything is read) and an optional validity bitmap.
 * lpg_rows_keys gives the canonical key bytes (records.key_bytes) of single-property keys.
 * Complexity: O(n * columns + bytes written).
 */
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "lpgdb.h"
#include "mpack.h"

#include "rows.h"
#include "vec.h"

static inline int bit(const uint8_t *bits, uint64_t i) { return bits[i >> 3] >> (i & 7) & 1; }

static int check_col(int kind, uint64_t off, size_t n, const uint8_t *valid, size_t valid_len,
                     const uint8_t *vals, size_t vals_len, const uint8_t *data, size_t data_len)
{
    uint64_t last = off + n;       /* one past the last element used */
    if (last < off)
        return LPG_EBOUNDS;
    if (valid && valid_len < (last + 7) / 8)
        return LPG_EBOUNDS;
    size_t need;
    switch (kind) {
    case LPG_PK_INT: case LPG_PK_UINT: case LPG_PK_FLOAT:
        need = last * 8; break;
    case LPG_PK_DATE:
        need = last * 4; break;
    case LPG_PK_BOOL:
        need = (last + 7) / 8; break;
    case LPG_PK_STR: case LPG_PK_BYTES: case LPG_PK_MSGPACK:
        need = n ? (last + 1) * 8 : 0; break;
    default:
        return LPG_EINVAL;
    }
    if (need && (!vals || vals_len < need))
        return LPG_EBOUNDS;
    if (kind == LPG_PK_STR || kind == LPG_PK_BYTES || kind == LPG_PK_MSGPACK) {
        if (data_len && !data)
            return LPG_EINVAL;
        for (uint64_t i = off; i < last; i++) {
            int64_t a, b;
            memcpy(&a, vals + i * 8, 8);
            memcpy(&b, vals + (i + 1) * 8, 8);
            if (a < 0 || b < a || (uint64_t)b > data_len)
                return LPG_EBOUNDS;
            if (kind == LPG_PK_MSGPACK && (!valid || bit(valid, i))) {
                const uint8_t *nx;
                if (b == a || mp_skip(data + a, data + b, &nx) || nx != data + b)
                    return LPG_EINVAL;       /* each cell is exactly one msgpack value */
            }
        }
    }
    return LPG_OK;
}

static int put_ext_date(buf *b, int32_t days)
{
    int64_t ordinal = (int64_t)days + 719163;      /* date(1970,1,1).toordinal() */
    if (ordinal < 1 || ordinal > 3652059)          /* date.min .. date.max */
        return LPG_EBOUNDS;
    buf inner = {0};
    int rc = mp_put_int(&inner, ordinal);
    if (!rc) {
        uint8_t head[3];
        size_t hn;
        if (inner.n == 1) { head[0] = 0xd4; head[1] = 1; hn = 2; }          /* fixext 1 */
        else if (inner.n == 2) { head[0] = 0xd5; head[1] = 1; hn = 2; }     /* fixext 2 */
        else if (inner.n == 4) { head[0] = 0xd6; head[1] = 1; hn = 2; }     /* fixext 4 */
        else { head[0] = 0xc7; head[1] = (uint8_t)inner.n; head[2] = 1; hn = 3; }   /* ext 8 */
        rc = buf_put(b, head, hn);
        if (!rc)
            rc = buf_put(b, inner.p, inner.n);
    }
    buf_free(&inner);
    return rc;
}

static int put_cell(buf *b, int kind, const uint8_t *vals, const uint8_t *data, uint64_t i)
{
    switch (kind) {
    case LPG_PK_INT: {
        int64_t v;
        memcpy(&v, vals + i * 8, 8);
        return mp_put_int(b, v);
    }
    case LPG_PK_UINT: {
        uint64_t v;
        memcpy(&v, vals + i * 8, 8);
        if (v <= INT64_MAX)
            return mp_put_int(b, (int64_t)v);
        uint8_t out[9] = {0xcf};
        for (int k = 0; k < 8; k++)
            out[1 + k] = (uint8_t)(v >> (56 - 8 * k));
        return buf_put(b, out, 9);
    }
    case LPG_PK_FLOAT: {
        double d;
        memcpy(&d, vals + i * 8, 8);
        return mp_put_float(b, d);
    }
    case LPG_PK_BOOL:
        return mp_put_bool(b, bit(vals, i));
    case LPG_PK_DATE: {
        int32_t d;
        memcpy(&d, vals + i * 4, 4);
        return put_ext_date(b, d);
    }
    default: {
        int64_t a, e;
        memcpy(&a, vals + i * 8, 8);
        memcpy(&e, vals + (i + 1) * 8, 8);
        if (kind == LPG_PK_STR)
            return mp_put_str(b, data + a, (size_t)(e - a));
        if (kind == LPG_PK_BYTES)
            return mp_put_bin(b, data + a, (size_t)(e - a));
        return buf_put(b, data + a, (size_t)(e - a));
    }
    }
}

int lpg_rows_pack(size_t n, uint32_t ncols, const uint8_t *kinds, const uint8_t *names, size_t names_len,
                  const uint64_t *name_offs, const uint64_t *offsets, const uint8_t *const *valid,
                  const uint64_t *valid_lens, const uint8_t *const *vals, const uint64_t *vals_lens,
                  const uint8_t *const *data, const uint64_t *data_lens, lpg_rows **out)
{
    if (!out || (ncols && (!kinds || !name_offs || !offsets || !valid || !valid_lens || !vals || !vals_lens
                           || !data || !data_lens)) || ncols > (1u << 20) || n > (1ULL << 40))
        return LPG_EINVAL;
    int rc = LPG_OK;
    buf keys = {0};                      /* msgpack str of each name, back to back */
    uint64_t *koff = calloc((size_t)ncols + 1, 8);
    lpg_rows *r = calloc(1, sizeof *r);
    if (!koff || !r) {
        rc = LPG_ENOMEM;
        goto fail;
    }
    for (uint32_t c = 0; c < ncols; c++) {
        if (name_offs[c] > name_offs[c + 1] || name_offs[c + 1] > names_len || (names_len && !names)) {
            rc = LPG_EBOUNDS;
            goto fail;
        }
        rc = check_col(kinds[c], offsets[c], n, valid[c], valid_lens[c], vals[c], vals_lens[c], data[c],
                       data_lens[c]);
        if (rc)
            goto fail;
        rc = mp_put_str(&keys, names + name_offs[c], (size_t)(name_offs[c + 1] - name_offs[c]));
        if (rc)
            goto fail;
        koff[c + 1] = keys.n;
    }
    r->offs = malloc((n + 1) * 8);
    if (!r->offs) {
        rc = LPG_ENOMEM;
        goto fail;
    }
    r->n = n;
    r->offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t present = 0;
        for (uint32_t c = 0; c < ncols; c++)
            present += !valid[c] || bit(valid[c], offsets[c] + i);
        if (present) {
            rc = mp_put_map(&r->blob, present);
            for (uint32_t c = 0; c < ncols && !rc; c++) {
                uint64_t j = offsets[c] + i;
                if (valid[c] && !bit(valid[c], j))
                    continue;
                rc = buf_put(&r->blob, keys.p + koff[c], (size_t)(koff[c + 1] - koff[c]));
                if (!rc)
                    rc = put_cell(&r->blob, kinds[c], vals[c], data[c], j);
            }
            if (rc)
                goto fail;
        }
        r->offs[i + 1] = r->blob.n;
    }
    buf_free(&keys);
    free(koff);
    *out = r;
    return LPG_OK;
fail:
    buf_free(&keys);
    free(koff);
    lpg_rows_free(r);
    return rc;
}

int lpg_rows_get(lpg_rows *r, const uint8_t **blob, size_t *len, const uint64_t **offs, size_t *n)
{
    if (!r || !blob || !len || !offs || !n)
        return LPG_EINVAL;
    *blob = r->blob.p;
    *len = r->blob.n;
    *offs = r->offs;
    *n = r->n;
    return LPG_OK;
}

void lpg_rows_free(lpg_rows *r)
{
    if (!r)
        return;
    buf_free(&r->blob);
    free(r->offs);
    free(r);
}

/* ---- columnar bulk ops: checking them, and their index keys (storage/graph.py) ---------------- */

uint64_t lpg_umax(const void *a, size_t n, int width)
{
    uint64_t m = 0;
    if (!a)
        return 0;
    if (width == 4) {
        const uint32_t *x = a;
        uint32_t m4 = 0;
        for (size_t i = 0; i < n; i++)
            m4 = x[i] > m4 ? x[i] : m4;
        return m4;
    }
    const uint64_t *x = a;
    for (size_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

int lpg_rows_check(const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n)
{
    if ((blen && !blob) || !offs)
        return LPG_EINVAL;
    if (offs[0] > offs[n] || offs[n] > blen)
        return LPG_ECORRUPT;
    for (size_t r = 0; r < n; r++) {
        uint64_t a = offs[r], b = offs[r + 1];
        if (b < a || b > blen)
            return LPG_ECORRUPT;
        if (a == b)
            continue;                        /* the empty map */
        uint64_t items;
        const uint8_t *nx;
        if (mp_map(blob + a, blob + b, &items, &nx) || mp_skip(blob + a, blob + b, &nx) || nx != blob + b)
            return LPG_ECORRUPT;
    }
    return LPG_OK;
}

/* The canonical key bytes (records.key_bytes of the 1-tuple) of one value: 0 written, 2 the
 * value needs Python (a kind this does not canonicalise), 3 NaN (not a key). */
static int key_of_value(const mval *v, buf *out)
{
    uint8_t arr1[10] = {0x91};
    if (v->kind == V_INT)                        /* the usual key: one write */
        return buf_put(out, arr1, 1 + mp_enc_int(arr1 + 1, v->i)) ? -1 : 0;
    int rc = buf_put(out, arr1, 1);
    if (rc)
        return -1;
    switch (v->kind) {
    case V_BOOL: rc = mp_put_bool(out, (int)v->i); break;
    case V_STR: rc = mp_put_str(out, v->p, v->n); break;
    case V_BYTES: rc = mp_put_bin(out, v->p, v->n); break;
    case V_FLOAT:
        /* The range first: converting a NaN, an infinity or a double outside the integer type's
         * range is undefined behaviour; inside it, the round trip says whether it is integral. */
        if (v->d != v->d)
            return 3;
        if (v->d >= -9223372036854775808.0 && v->d < 9223372036854775808.0
            && v->d == (double)(int64_t)v->d)
            rc = mp_put_int(out, (int64_t)v->d);      /* 1.0 and 1 are one key */
        else if (v->d >= 9223372036854775808.0 && v->d < 18446744073709551616.0)
            return 2;                                   /* integral (2**53 < it): a uint64, Python's encoding */
        else
            rc = mp_put_float(out, v->d);
        break;
    default:
        return 2;
    }
    return rc ? -1 : 0;
}

/* The bytes of a non-negative int below 2**32 in its smallest form (as Python's msgpack writes
 * it) at p < end, whose key (key_of_value) is 0x91 and those bytes: their count, or 0 for any
 * other value, a longer form or a truncated one (mp_value reads those). */
static inline size_t small_uint(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0];
    if (c <= 0x7f)
        return 1;
    if (c < 0xcc || c > 0xce)
        return 0;
    size_t w = (size_t)1 << (c - 0xcc);
    if (w >= (size_t)(end - p))
        return 0;
    uint64_t u = 0;
    for (size_t k = 0; k < w; k++)
        u = u << 8 | p[1 + k];
    return u > (w == 1 ? 0x7fu : w == 2 ? 0xffu : 0xffffu) ? 1 + w : 0;
}

int lpg_rows_key(const uint8_t *blob, size_t blen, const uint64_t *offs, size_t n, const uint32_t *lset,
                 const uint8_t *mask, size_t nmask, const uint8_t *name, size_t nlen, uint8_t *flags,
                 lpg_rows **out)
{
    if ((blen && !blob) || !offs)
        return LPG_EINVAL;
    if (!offsets_ok(offs, n, blen))
        return LPG_ECORRUPT;
    return rows_key(blob, offs, n, lset, mask, nmask, name, nlen, 1, flags, out);
}

int rows_key(const uint8_t *blob, const uint64_t *offs, size_t n, const uint32_t *lset, const uint8_t *mask,
             size_t nmask, const uint8_t *name, size_t nlen, int whole, uint8_t *flags, lpg_rows **out)
{
    if ((n && (!lset || !flags)) || (nmask && !mask) || (nlen && !name) || !out)
        return LPG_EINVAL;
    int rc = LPG_OK;
    lpg_rows *r = calloc(1, sizeof *r);
    if (!r || !(r->offs = malloc((n + 1) * 8))) {
        lpg_rows_free(r);
        return LPG_ENOMEM;
    }
    r->n = n;
    r->offs[0] = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        flags[i] = 0;
        int masked = lset[i] < nmask && mask[lset[i]];
        r->offs[i + 1] = r->blob.n;
        if (offs[i] == offs[i + 1] || !(masked || whole))
            continue;                           /* the empty map, or a row not read */
        const uint8_t *p = blob + offs[i], *end = blob + offs[i + 1];
        uint64_t left;                          /* entries not read yet */
        if (mp_map(p, end, &left, &p)) {
            rc = LPG_ECORRUPT;
            break;
        }
        while (masked && left) {
            const uint8_t *s;
            size_t sl;
            mval v;
            left--;
            if (mp_str(p, end, &s, &sl, &p)) {
                rc = LPG_ECORRUPT;
                break;
            }
            if (sl != nlen || memcmp(s, name, nlen) != 0) {
                if (mp_skip_n(p, end, 1, &p)) {       /* another property's value */
                    rc = LPG_ECORRUPT;
                    break;
                }
                continue;
            }
            size_t w = p < end ? small_uint(p, end) : 0;
            if (w) {                                /* the usual key: its bytes as they are */
                uint8_t k[5] = {0x91};
                memcpy(k + 1, p, w);
                if (buf_put(&r->blob, k, 1 + w)) {
                    rc = LPG_ENOMEM;
                    break;
                }
                p += w;
                flags[i] = 1;
                break;
            }
            if (mp_value(p, end, &v, &p)) {
                rc = LPG_ECORRUPT;
                break;
            }
            if (v.kind == V_MSGPACK && v.n == 1 && v.p[0] == 0xc0)
                break;                              /* nil: no value */
            size_t at = r->blob.n;
            int k2 = key_of_value(&v, &r->blob);
            if (k2 < 0) {
                rc = LPG_ENOMEM;
                break;
            }
            if (k2 > 0)
                r->blob.n = at;
            flags[i] = k2 == 0 ? 1 : (uint8_t)k2;
            break;
        }
        /* whole: the row is exactly the map (its other entries skipped), as lpg_rows_check */
        if (!rc && whole && (mp_skip_n(p, end, 2 * left, &p) || p != end))
            rc = LPG_ECORRUPT;
        r->offs[i + 1] = r->blob.n;
    }
    if (rc) {
        lpg_rows_free(r);
        return rc;
    }
    *out = r;
    return LPG_OK;
}
