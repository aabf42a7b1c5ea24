/*
 * mpack.h -- internal: the little msgpack the C core needs (mpack.c).
 *
 * Property maps are msgpack maps {name: value} written by Python (storage/records.py).  C reads
 * them to split them into typed columns at checkpoints, and writes them back when a node read
 * from a partition file is handed to Python.  Every reader is bounds-checked against `end` and
 * returns -1 on malformed input (never reads past end, never recurses: nesting is skipped with a
 * counter).
 */
#ifndef LPGDB_MPACK_H
#define LPGDB_MPACK_H

#include <stddef.h>
#include <stdint.h>
#include "fmt.h"

typedef struct {
    int kind;                  /* V_INT, V_FLOAT, V_BOOL, V_STR, V_BYTES, V_MSGPACK */
    int64_t i;                 /* V_INT, V_BOOL (0/1) */
    double d;                  /* V_FLOAT */
    const uint8_t *p;          /* V_STR / V_BYTES: payload; V_MSGPACK: the whole encoding */
    size_t n;
} mval;

/* The value at p: *next = just past it.  0, or -1 if malformed. */
int mp_value(const uint8_t *p, const uint8_t *end, mval *v, const uint8_t **next);
/* Skip one value.  0 or -1. */
int mp_skip(const uint8_t *p, const uint8_t *end, const uint8_t **next);

/* The whole size of a value by its first byte when that fixes it (scalars, fixstr, fixext); -1
 * when it depends on a length field or nested values; 0 for 0xc1 (never used). */
extern const int8_t MP_FIXED[256];

/* The readers below are inline for the usual forms (a property map's fixmap, fixstr names and
 * values whose first byte fixes their size: ~45-byte rows read once a row at replay), out of
 * line (mpack.c, *_slow) for every other form, with the same checks. */
int mp_skip_n_slow(const uint8_t *p, const uint8_t *end, uint64_t count, const uint8_t **next);
int mp_map_slow(const uint8_t *p, const uint8_t *end, uint64_t *n, const uint8_t **next);
int mp_str_slow(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *len, const uint8_t **next);

/* Skip `count` values one after another.  0 or -1. */
static inline int mp_skip_n(const uint8_t *p, const uint8_t *end, uint64_t count, const uint8_t **next)
{
    while (count && p < end) {
        int fixed = MP_FIXED[p[0]];
        if (fixed <= 0 || (size_t)fixed > (size_t)(end - p))
            break;                          /* nested, length field, 0xc1 or truncated */
        p += fixed;
        count--;
    }
    if (count)
        return mp_skip_n_slow(p, end, count, next);
    *next = p;
    return 0;
}

/* A map header: *n entries.  0 or -1 (not a map). */
static inline int mp_map(const uint8_t *p, const uint8_t *end, uint64_t *n, const uint8_t **next)
{
    if (p < end && (p[0] & 0xf0) == 0x80) {                       /* fixmap */
        *n = p[0] & 0x0f;
        *next = p + 1;
        return 0;
    }
    return mp_map_slow(p, end, n, next);
}

/* A str: payload in *s, *len.  0 or -1 (not a str). */
static inline int mp_str(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *len,
                         const uint8_t **next)
{
    if (p < end && (p[0] & 0xe0) == 0xa0) {                       /* fixstr */
        size_t n = p[0] & 0x1f;
        if (n >= (size_t)(end - p))
            return -1;
        *s = p + 1;
        *len = n;
        *next = p + 1 + n;
        return 0;
    }
    return mp_str_slow(p, end, s, len, next);
}

int mp_put_map(buf *b, uint64_t n);
int mp_put_str(buf *b, const uint8_t *s, size_t len);
int mp_put_bin(buf *b, const uint8_t *s, size_t len);
int mp_put_int(buf *b, int64_t v);
/* The msgpack encoding of v (its smallest form, as Python's msgpack writes it) into out: bytes. */
size_t mp_enc_int(uint8_t out[9], int64_t v);
int mp_put_float(buf *b, double d);
int mp_put_bool(buf *b, int v);
/* Any mval, in msgpack form. */
int mp_put_value(buf *b, const mval *v);

#endif /* LPGDB_MPACK_H */
