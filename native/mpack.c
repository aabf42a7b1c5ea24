/*
 * mpack.c -- bounds-checked msgpack reading and writing for property maps (see mpack.h).
 *
 * Formats (msgpack spec): nil c0, false c2, true c3, bin8/16/32 c4-c6, ext8/16/32 c7-c9,
 * float32 ca, float64 cb, uint8-64 cc-cf, int8-64 d0-d3, fixext d4-d8, str8/16/32 d9-db,
 * array16/32 dc-dd, map16/32 de-df, positive fixint 00-7f, fixmap 80-8f, fixarray 90-9f,
 * fixstr a0-bf, negative fixint e0-ff.  Big-endian lengths and numbers.
 */
#include <string.h>
#include "mpack.h"

static inline uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Head of one value: *hdr = header bytes, *body = payload bytes that follow, *items = nested
 * values that follow (arrays: n, maps: 2n).  -1 if p >= end or the header is truncated. */
static int head(const uint8_t *p, const uint8_t *end, size_t *hdr, uint64_t *body, uint64_t *items)
{
    if (p >= end)
        return -1;
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);
    *body = 0;
    *items = 0;
    *hdr = 1;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c >= 0x80 && c <= 0x8f) {
        *items = 2 * (uint64_t)(c & 0x0f);
        return 0;
    }
    if (c >= 0x90 && c <= 0x9f) {
        *items = c & 0x0f;
        return 0;
    }
    if (c >= 0xa0 && c <= 0xbf) {
        *body = c & 0x1f;
        return 0;
    }
    int lb;
    switch (c) {
    case 0xc4: case 0xd9: lb = 1; break;
    case 0xc5: case 0xda: lb = 2; break;
    case 0xc6: case 0xdb: lb = 4; break;
    case 0xc7: lb = 1; break;                                       /* ext8: len, type */
    case 0xc8: lb = 2; break;
    case 0xc9: lb = 4; break;
    case 0xca: *body = 4; return 0;
    case 0xcb: *body = 8; return 0;
    case 0xcc: case 0xd0: *body = 1; return 0;
    case 0xcd: case 0xd1: *body = 2; return 0;
    case 0xce: case 0xd2: *body = 4; return 0;
    case 0xcf: case 0xd3: *body = 8; return 0;
    case 0xd4: *body = 2; return 0;                                 /* fixext: type + data */
    case 0xd5: *body = 3; return 0;
    case 0xd6: *body = 5; return 0;
    case 0xd7: *body = 9; return 0;
    case 0xd8: *body = 17; return 0;
    case 0xdc: case 0xde: lb = 2; break;
    case 0xdd: case 0xdf: lb = 4; break;
    default: return -1;                                             /* 0xc1: never used */
    }
    if (avail < (size_t)(1 + lb))
        return -1;
    uint64_t n = be(p + 1, lb);
    *hdr = 1 + lb;
    if (c == 0xc7 || c == 0xc8 || c == 0xc9)
        *body = n + 1;                                              /* ext: type byte + data */
    else if (c == 0xdc || c == 0xdd)
        *items = n;
    else if (c == 0xde || c == 0xdf)
        *items = 2 * n;
    else
        *body = n;
    return 0;
}

/* MP_FIXED (mpack.h): checked against head() by tests/native (test_mpack_sizes). */
const int8_t MP_FIXED[256] = {
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 00 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 10 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 20 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 30 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 40 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 50 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 60 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 70 */
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  /* 80 */
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  /* 90 */
     1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16,  /* a0 */
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,  /* b0 */
     1,  0,  1,  1, -1, -1, -1, -1, -1, -1,  5,  9,  2,  3,  5,  9,  /* c0 */
     2,  3,  5,  9,  3,  4,  6, 10, 18, -1, -1, -1, -1, -1, -1, -1,  /* d0 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* e0 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* f0 */
};

int mp_skip_n_slow(const uint8_t *p, const uint8_t *end, uint64_t pending, const uint8_t **next)
{
    while (pending) {
        if (p >= end)
            return -1;
        int fixed = MP_FIXED[p[0]];
        if (fixed > 0) {
            if ((size_t)fixed > (size_t)(end - p))
                return -1;
            p += fixed;
            pending--;
            continue;
        }
        size_t hdr;
        uint64_t body, items;
        if (head(p, end, &hdr, &body, &items))
            return -1;
        if (body > (uint64_t)(end - p) - hdr)
            return -1;
        p += hdr + body;
        pending--;
        if (items > UINT64_MAX - pending || items > (uint64_t)(end - p))
            return -1;                                              /* each item is >= 1 byte */
        pending += items;
    }
    *next = p;
    return 0;
}

int mp_skip(const uint8_t *p, const uint8_t *end, const uint8_t **next)
{
    return mp_skip_n_slow(p, end, 1, next);
}

int mp_map_slow(const uint8_t *p, const uint8_t *end, uint64_t *n, const uint8_t **next)
{
    size_t hdr;
    uint64_t body, items;
    if (head(p, end, &hdr, &body, &items))
        return -1;
    uint8_t c = p[0];
    if (!((c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf))
        return -1;
    *n = items / 2;
    *next = p + hdr;
    return 0;
}

int mp_str_slow(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *len, const uint8_t **next)
{
    size_t hdr;
    uint64_t body, items;
    if (head(p, end, &hdr, &body, &items))
        return -1;
    uint8_t c = p[0];
    if (!((c >= 0xa0 && c <= 0xbf) || c == 0xd9 || c == 0xda || c == 0xdb))
        return -1;
    if (body > (uint64_t)(end - p) - hdr)
        return -1;
    *s = p + hdr;
    *len = (size_t)body;
    *next = p + hdr + body;
    return 0;
}

int mp_value(const uint8_t *p, const uint8_t *end, mval *v, const uint8_t **next)
{
    size_t hdr;
    uint64_t body, items;
    int fixed = p < end ? MP_FIXED[p[0]] : 0;
    if (fixed > 0) {                        /* a head of one byte and a fixed body: no head() */
        hdr = 1;
        body = (uint64_t)fixed - 1;
    } else if (head(p, end, &hdr, &body, &items)) {
        return -1;
    }
    if (body > (uint64_t)(end - p) - hdr)
        return -1;
    uint8_t c = p[0];
    const uint8_t *b = p + hdr;
    memset(v, 0, sizeof(*v));
    if (c <= 0x7f) {
        v->kind = V_INT;
        v->i = c;
    } else if (c >= 0xe0) {
        v->kind = V_INT;
        v->i = (int8_t)c;
    } else if (c == 0xc2 || c == 0xc3) {
        v->kind = V_BOOL;
        v->i = c == 0xc3;
    } else if (c >= 0xcc && c <= 0xcf) {
        uint64_t u = be(b, (int)body);
        if (u > (uint64_t)INT64_MAX)
            goto raw;
        v->kind = V_INT;
        v->i = (int64_t)u;
    } else if (c >= 0xd0 && c <= 0xd3) {
        uint64_t u = be(b, (int)body);
        int bits = 8 * (int)body;
        int64_t s = bits == 64 ? (int64_t)u : (int64_t)(u << (64 - bits)) >> (64 - bits);
        v->kind = V_INT;
        v->i = s;
    } else if (c == 0xcb) {
        uint64_t u = be(b, 8);
        memcpy(&v->d, &u, 8);
        v->kind = V_FLOAT;
    } else if ((c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb)) {
        v->kind = V_STR;
        v->p = b;
        v->n = (size_t)body;
    } else if (c >= 0xc4 && c <= 0xc6) {
        v->kind = V_BYTES;
        v->p = b;
        v->n = (size_t)body;
    } else {
        goto raw;
    }
    *next = b + body;
    return 0;
raw:
    if (mp_skip(p, end, next))
        return -1;
    v->kind = V_MSGPACK;
    v->p = p;
    v->n = (size_t)(*next - p);
    return 0;
}

/* ---- writing ---------------------------------------------------------------------------------- */
static int put_be(buf *b, uint8_t code, uint64_t v, int n)
{
    uint8_t tmp[9];
    tmp[0] = code;
    for (int i = 0; i < n; i++)
        tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return buf_put(b, tmp, 1 + n);
}

int mp_put_map(buf *b, uint64_t n)
{
    if (n <= 15) {
        uint8_t c = (uint8_t)(0x80 | n);
        return buf_put(b, &c, 1);
    }
    if (n <= 0xffff)
        return put_be(b, 0xde, n, 2);
    return put_be(b, 0xdf, n, 4);
}

static int put_len(buf *b, size_t n, uint8_t fix, uint8_t c8, uint8_t c16, uint8_t c32)
{
    if (fix && n <= 31) {
        uint8_t c = (uint8_t)(fix | n);
        return buf_put(b, &c, 1);
    }
    if (n <= 0xff)
        return put_be(b, c8, n, 1);
    if (n <= 0xffff)
        return put_be(b, c16, n, 2);
    return put_be(b, c32, n, 4);
}

int mp_put_str(buf *b, const uint8_t *s, size_t len)
{
    if (put_len(b, len, 0xa0, 0xd9, 0xda, 0xdb))
        return LPG_ENOMEM;
    return buf_put(b, s, len);
}

int mp_put_bin(buf *b, const uint8_t *s, size_t len)
{
    if (put_len(b, len, 0, 0xc4, 0xc5, 0xc6))
        return LPG_ENOMEM;
    return buf_put(b, s, len);
}

size_t mp_enc_int(uint8_t out[9], int64_t v)
{
    uint64_t u = (uint64_t)v;
    int n;
    if (v >= 0) {
        if (v <= 0x7f) {
            out[0] = (uint8_t)v;
            return 1;
        }
        out[0] = v <= 0xff ? 0xcc : v <= 0xffff ? 0xcd : v <= 0xffffffffLL ? 0xce : 0xcf;
    } else {
        if (v >= -32) {
            out[0] = (uint8_t)(int8_t)v;
            return 1;
        }
        out[0] = v >= INT8_MIN ? 0xd0 : v >= INT16_MIN ? 0xd1 : v >= INT32_MIN ? 0xd2 : 0xd3;
    }
    n = 1 << (out[0] & 3);                                           /* cc/d0 1 .. cf/d3 8 bytes */
    for (int i = 0; i < n; i++)
        out[1 + i] = (uint8_t)(u >> (8 * (n - 1 - i)));
    return 1 + (size_t)n;
}

int mp_put_int(buf *b, int64_t v)
{
    uint8_t tmp[9];
    return buf_put(b, tmp, mp_enc_int(tmp, v));
}

int mp_put_float(buf *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return put_be(b, 0xcb, u, 8);
}

int mp_put_bool(buf *b, int v)
{
    uint8_t c = v ? 0xc3 : 0xc2;
    return buf_put(b, &c, 1);
}

int mp_put_value(buf *b, const mval *v)
{
    switch (v->kind) {
    case V_INT: return mp_put_int(b, v->i);
    case V_FLOAT: return mp_put_float(b, v->d);
    case V_BOOL: return mp_put_bool(b, (int)v->i);
    case V_STR: return mp_put_str(b, v->p, v->n);
    case V_BYTES: return mp_put_bin(b, v->p, v->n);
    case V_MSGPACK: return buf_put(b, v->p, v->n);
    default: return LPG_EINVAL;
    }
}

/* ---- the key of a one-property index, straight from a stored property map -------------------- */
int lpg_mp_key1(const uint8_t *props, size_t len, const uint8_t *name, size_t nlen, uint8_t *out,
                size_t cap, size_t *outlen)
{
    if ((len && !props) || (nlen && !name) || !outlen || (cap && !out))
        return LPG_EINVAL;
    *outlen = 0;
    if (!len)
        return LPG_ENOTFOUND;
    const uint8_t *end = props + len, *q;
    uint64_t n;
    if (mp_map(props, end, &n, &q))
        return LPG_ECORRUPT;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *k, *v = NULL;
        size_t kl;
        if (mp_str(q, end, &k, &kl, &q))
            return LPG_ECORRUPT;
        v = q;
        if (mp_skip(q, end, &q))
            return LPG_ECORRUPT;
        if (kl != nlen || memcmp(k, name, nlen) != 0)
            continue;
        /* ints and strs are stored in the canonical (smallest) form the key encoding uses */
        uint8_t c = v[0];
        int is_int = c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xcf) || (c >= 0xd0 && c <= 0xd3);
        int is_str = (c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb);
        if (!is_int && !is_str)
            return LPG_EINVAL;               /* the caller decodes and normalizes */
        size_t vl = (size_t)(q - v);
        *outlen = vl + 1;
        if (vl + 1 > cap)
            return LPG_ETOOSMALL;
        out[0] = 0x91;                       /* a one-element array: key_bytes((value,)) */
        memcpy(out + 1, v, vl);
        return LPG_OK;
    }
    return LPG_ENOTFOUND;
}
