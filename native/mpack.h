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
/* Skip `count` values one after another.  0 or -1. */
int mp_skip_n(const uint8_t *p, const uint8_t *end, uint64_t count, const uint8_t **next);
/* A map header: *n entries.  0 or -1 (not a map). */
int mp_map(const uint8_t *p, const uint8_t *end, uint64_t *n, const uint8_t **next);
/* A str: payload in *s, *len.  0 or -1 (not a str). */
int mp_str(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *len, const uint8_t **next);

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
