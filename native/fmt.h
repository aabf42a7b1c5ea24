/*
 * fmt.h -- internal: the on-disk file format shared by file.c, part.c, build.c and store.c.
 *
 * Not part of the public API (not in the cffi block).  docs/storage.md ("On-disk format 2")
 * documents every byte; this header mirrors it:
 *   - lpg_file: a mapped immutable file whose header, CRC table and section bounds were checked
 *     at open, and whose 64 KiB blocks are CRC-checked lazily (file_touch) on first read;
 *   - pcol: a packed column (bit-packing over a frame of reference), O(1) random access;
 *   - buf: a growable byte buffer, and the packed-column encoder used by the builders.
 * Every reader treats file bytes as untrusted: a bad length, offset or value is LPG_ECORRUPT.
 */
#ifndef LPGDB_FMT_H
#define LPGDB_FMT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"

#define FILE_MAGIC "LPGFILE"          /* 8 bytes with the NUL */
#define FILE_VERSION 2
#define FILE_HDR 128
#define FILE_SECENT 32
#define FILE_BLOCK_SHIFT 16
#define FILE_MAX_SECTIONS (1u << 20)

enum { KIND_PART = 1, KIND_KEYS = 2, KIND_ELOC = 3 };
/* partition sections */
enum { S_LABELSET = 1, S_FLAGS = 2, S_CSR = 3, S_NPROP = 4, S_EPROP = 5, S_LABEL = 6, S_STATS = 7 };
/* locator sections */
enum { S_ESRC = 1, S_ETYPE = 2 };
/* key sub-index sections */
enum { S_KHASH = 1, S_KNODE = 2, S_KOFF = 3, S_KHEAP = 4, S_KDIR = 5 };
/* property column value kinds */
enum { V_INT = 1, V_FLOAT = 2, V_BOOL = 3, V_STR = 4, V_BYTES = 5, V_MSGPACK = 6 };

#define PART_SHIFT 17
#define PART_SLOTS (1u << PART_SHIFT)
#define ELOC_SHIFT 20
#define ELOC_SLOTS (1u << ELOC_SHIFT)

typedef struct {
    uint32_t kind, a, b;
    uint64_t off, len;
} fsec;

struct lpg_file {
    const uint8_t *data;     /* the mapping (owned by the caller: Python's mmap object) */
    uint64_t size;           /* mapped bytes == file_size */
    uint64_t data_end;       /* bytes covered by block CRCs */
    uint64_t nblocks;
    const uint8_t *crcs;     /* CRC table: nblocks little-endian u32 */
    uint64_t *verified;      /* bitmap over blocks, updated with atomic ops */
    uint64_t tag;            /* caller's id, reported with LPG_ECORRUPT (lpg_last_corrupt) */
    uint32_t kind;
    uint64_t key1, key2, lsn;
    uint32_t nsec;
    fsec *sec;               /* the section table, decoded and bounds-checked */
};

/* Record the file and offset of a corruption for this thread; returns LPG_ECORRUPT. */
int file_corrupt(const lpg_file *f, uint64_t offset);
/* Verify block b (CRC); LPG_OK or LPG_ECORRUPT (recorded). Thread-safe. */
int file_verify_block(lpg_file *f, uint64_t b);

/* Make sure every block holding bytes [off, off+len) was verified.  The caller guarantees
 * off + len <= data_end (sections are bounds-checked at open).  O(1) once verified. */
static inline int file_touch(lpg_file *f, uint64_t off, uint64_t len)
{
    if (len == 0)
        return LPG_OK;
    uint64_t b = off >> FILE_BLOCK_SHIFT, e = (off + len - 1) >> FILE_BLOCK_SHIFT;
    for (; b <= e; b++) {
        uint64_t w = __atomic_load_n(&f->verified[b >> 6], __ATOMIC_ACQUIRE);
        if (!(w & (1ULL << (b & 63)))) {
            int rc = file_verify_block(f, b);
            if (rc)
                return rc;
        }
    }
    return LPG_OK;
}

/* The first section of (kind, a, b), or NULL. */
const fsec *file_section(const lpg_file *f, uint32_t kind, uint32_t a, uint32_t b);

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* ---- packed columns ------------------------------------------------------------------------- */
typedef struct {
    lpg_file *f;             /* the file holding it (for lazy verification), NULL for memory */
    const uint8_t *bits;     /* first word */
    uint64_t bits_off;       /* file offset of bits */
    uint64_t count;
    uint64_t base;
    uint32_t width;
} pcol;

#define PCOL_HDR 24
/* Bytes of a packed column of `count` values of `width` bits (header, words, slack word). */
static inline uint64_t pcol_size(uint64_t count, uint32_t width)
{
    return PCOL_HDR + 8 * (((count * width) + 63) / 64 + 1);
}

/* Parse a packed column at file offset off within [off, off + avail).  Verifies the header's
 * block and checks the column fits; *used = its size.  LPG_ECORRUPT otherwise. */
int pcol_open(lpg_file *f, uint64_t off, uint64_t avail, pcol *c, uint64_t *used);

/* Value i (i < count; the caller checks), after verifying its block(s). */
static inline int pcol_get(const pcol *c, uint64_t i, uint64_t *out)
{
    if (c->width == 0) {
        *out = c->base;
        return LPG_OK;
    }
    uint64_t bit = i * c->width, byte = (bit >> 6) << 3;
    if (c->f) {
        int rc = file_touch(c->f, c->bits_off + byte, 16);
        if (rc)
            return rc;
    }
    uint64_t lo = rd64(c->bits + byte), hi = rd64(c->bits + byte + 8);
    unsigned sh = bit & 63;
    uint64_t v = lo >> sh;
    if (sh && sh + c->width > 64)
        v |= hi << (64 - sh);
    if (c->width < 64)
        v &= (1ULL << c->width) - 1;
    *out = c->base + v;
    return LPG_OK;
}

/* Verify the blocks holding values [i, j) (so a loop may use pcol_get_raw). */
static inline int pcol_touch(const pcol *c, uint64_t i, uint64_t j)
{
    if (!c->f || c->width == 0 || j <= i)
        return LPG_OK;
    uint64_t b0 = ((i * c->width) >> 6) << 3, b1 = ((((j - 1) * c->width) >> 6) << 3) + 16;
    return file_touch(c->f, c->bits_off + b0, b1 - b0);
}

static inline uint64_t pcol_get_raw(const pcol *c, uint64_t i)
{
    if (c->width == 0)
        return c->base;
    uint64_t bit = i * c->width, byte = (bit >> 6) << 3;
    uint64_t lo = rd64(c->bits + byte), hi = rd64(c->bits + byte + 8);
    unsigned sh = bit & 63;
    uint64_t v = lo >> sh;
    if (sh && sh + c->width > 64)
        v |= hi << (64 - sh);
    if (c->width < 64)
        v &= (1ULL << c->width) - 1;
    return c->base + v;
}

/* ---- growable buffers and encoders (builders) ------------------------------------------------ */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

int buf_reserve(buf *b, size_t extra);
/* Append len bytes (inline: most appends fit, and are a few bytes). */
static inline int buf_put(buf *b, const void *src, size_t len)
{
    if (len > b->cap - b->n && buf_reserve(b, len))
        return LPG_ENOMEM;
    if (len)
        memcpy(b->p + b->n, src, len);
    b->n += len;
    return LPG_OK;
}
static inline int buf_u64(buf *b, uint64_t v) { return buf_put(b, &v, 8); }
static inline int buf_u32(buf *b, uint32_t v) { return buf_put(b, &v, 4); }
int buf_pad8(buf *b);
static inline void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* Append a packed column of vals[0..count) (frame of reference = min). */
int pcol_put(buf *b, const uint64_t *vals, uint64_t count);
/* Same, with the values as int64 (base = min as int64). */
int pcol_put_signed(buf *b, const int64_t *vals, uint64_t count);
/* A width-1 column from a byte-per-value array (0/1). */
int pcol_put_bits(buf *b, const uint8_t *flags, uint64_t count);

/* The file builder: sections appended one after another, then finished into one image. */
struct lpg_fb {
    uint32_t kind;
    uint64_t key1, key2, lsn;
    buf body;                /* section bytes, 8-aligned, offsets relative to the body start */
    fsec *sec;
    uint32_t nsec, seccap;
    int open;                /* a section is being written */
    buf image;               /* the finished file */
};
int fb_begin(lpg_fb *fb, uint32_t kind, uint32_t a, uint32_t b);
int fb_end(lpg_fb *fb);

/* ---- the key hash (on disk: never change it) ------------------------------------------------ */
uint64_t key_hash(const uint8_t *k, size_t n);

#endif /* LPGDB_FMT_H */
