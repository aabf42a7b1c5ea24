/*
 * file.c -- lpg_file (a mapped, self-checking immutable file) and lpg_fb (its builder).
 *
 * Layout: docs/storage.md, "On-disk format 2"; fmt.h mirrors it.  In short:
 *
 *   [0, 128)                header (magic, version, kind, keys, LSN, data_end, file_size,
 *                           block shift, nsec, CRC of the CRC table, CRC of header + table)
 *   [128, 128 + 32 * nsec)  section table {kind, a, b, 0, off, len}
 *   sections                8-byte aligned, inside [128 + 32 * nsec, data_end)
 *   [data_end, file_size)   u32 CRC32C per 64 KiB block of [0, data_end)
 *
 * Invariants of an open lpg_file (established by lpg_file_open, never changed after):
 *   (1) size == file_size == data_end + 4 * nblocks, nblocks = ceil(data_end / 64 KiB);
 *   (2) the header + section table CRC and the CRC table CRC matched;
 *   (3) every section lies inside [128 + 32 * nsec, data_end) and is 8-byte aligned;
 *   (4) a set bit b of `verified` means block b's CRC matched.  Bits are only ever set
 *       (atomic OR), so concurrent readers at worst verify a block twice.
 * The mapping itself belongs to the caller (Python maps the file through storage/io.py and keeps
 * the mmap alive as long as this handle), which keeps fault injection in one place.
 * Thread safety: every read function may run concurrently; lpg_file_free only when idle.
 */
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"
#include "fmt.h"

/* ---- the thread's last corruption ------------------------------------------------------------ */
static __thread uint64_t last_tag = UINT64_MAX, last_off;

int file_corrupt(const lpg_file *f, uint64_t offset)
{
    last_tag = f ? f->tag : UINT64_MAX;
    last_off = offset;
    return LPG_ECORRUPT;
}

int lpg_last_corrupt(uint64_t *tag, uint64_t *offset)
{
    if (!tag || !offset)
        return LPG_EINVAL;
    *tag = last_tag;
    *offset = last_off;
    return LPG_OK;
}

/* ---- open ------------------------------------------------------------------------------------ */
/* CRC of block b of [0, data_end); in block 0 the CRC fields [80, 88) count as zero. */
static uint32_t block_crc(const uint8_t *p, uint64_t data_end, uint64_t b)
{
    uint64_t lo = b << FILE_BLOCK_SHIFT, hi = lo + (1ULL << FILE_BLOCK_SHIFT);
    if (hi > data_end)
        hi = data_end;
    if (b)
        return lpg_crc32c(0, p + lo, hi - lo);
    static const uint8_t zero8[8] = {0};
    uint32_t c = lpg_crc32c(0, p, 80);
    c = lpg_crc32c(c, zero8, 8);
    return lpg_crc32c(c, p + 88, hi - 88);
}

int file_verify_block(lpg_file *f, uint64_t b)
{
    if (b >= f->nblocks)
        return file_corrupt(f, f->data_end);
    if (block_crc(f->data, f->data_end, b) != rd32(f->crcs + 4 * b))
        return file_corrupt(f, b << FILE_BLOCK_SHIFT);
    __atomic_fetch_or(&f->verified[b >> 6], 1ULL << (b & 63), __ATOMIC_RELEASE);
    return LPG_OK;
}

int lpg_file_open(const uint8_t *data, uint64_t size, uint64_t tag, lpg_file **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    if (!data && size)
        return LPG_EINVAL;
    lpg_file tmp = {0};
    tmp.tag = tag;
    if (size < FILE_HDR)
        return file_corrupt(&tmp, 0);
    if (memcmp(data, FILE_MAGIC, 8) != 0)
        return file_corrupt(&tmp, 0);
    uint32_t version = rd32(data + 8);
    if (version != FILE_VERSION)
        return file_corrupt(&tmp, 8);
    uint32_t kind = rd32(data + 12);
    uint64_t data_end = rd64(data + 56), file_size = rd64(data + 64);
    uint32_t shift = rd32(data + 72), nsec = rd32(data + 76);
    if (kind < KIND_PART || kind > KIND_ELOC || shift != FILE_BLOCK_SHIFT || nsec > FILE_MAX_SECTIONS)
        return file_corrupt(&tmp, 12);
    uint64_t table_end = FILE_HDR + (uint64_t)FILE_SECENT * nsec;
    if (data_end < table_end || data_end > size)
        return file_corrupt(&tmp, 56);
    uint64_t nblocks = (data_end + (1ULL << FILE_BLOCK_SHIFT) - 1) >> FILE_BLOCK_SHIFT;
    if (file_size != data_end + 4 * nblocks || file_size != size)
        return file_corrupt(&tmp, 64);
    /* (2): header + table CRC, with its own field read as zero */
    uint32_t hcrc = lpg_crc32c(0, data, 84);
    static const uint8_t zero4[4] = {0};
    hcrc = lpg_crc32c(hcrc, zero4, 4);
    hcrc = lpg_crc32c(hcrc, data + 88, table_end - 88);
    if (hcrc != rd32(data + 84))
        return file_corrupt(&tmp, 84);
    if (lpg_crc32c(0, data + data_end, 4 * nblocks) != rd32(data + 80))
        return file_corrupt(&tmp, data_end);

    lpg_file *f = calloc(1, sizeof(*f));
    if (!f)
        return LPG_ENOMEM;
    *f = tmp;
    f->data = data;
    f->size = size;
    f->data_end = data_end;
    f->nblocks = nblocks;
    f->crcs = data + data_end;
    f->kind = kind;
    f->key1 = rd64(data + 32);
    f->key2 = rd64(data + 40);
    f->lsn = rd64(data + 48);
    f->nsec = nsec;
    f->verified = calloc((nblocks + 63) / 64 + 1, sizeof(uint64_t));
    f->sec = calloc(nsec ? nsec : 1, sizeof(fsec));
    if (!f->verified || !f->sec) {
        lpg_file_free(f);
        return LPG_ENOMEM;
    }
    for (uint32_t i = 0; i < nsec; i++) {   /* (3) */
        const uint8_t *e = data + FILE_HDR + (uint64_t)FILE_SECENT * i;
        fsec *s = &f->sec[i];
        s->kind = rd32(e);
        s->a = rd32(e + 4);
        s->b = rd32(e + 8);
        s->off = rd64(e + 16);
        s->len = rd64(e + 24);
        if (s->off < table_end || (s->off & 7) || s->off > data_end || s->len > data_end - s->off) {
            lpg_file_free(f);
            return file_corrupt(&tmp, FILE_HDR + (uint64_t)FILE_SECENT * i);
        }
    }
    *out = f;
    return LPG_OK;
}

void lpg_file_free(lpg_file *f)
{
    if (!f)
        return;
    free(f->verified);
    free(f->sec);
    free(f);
}

int lpg_file_info(lpg_file *f, uint32_t *kind, uint64_t *key1, uint64_t *key2, uint64_t *lsn,
                  uint32_t *nsec)
{
    if (!f || !kind || !key1 || !key2 || !lsn || !nsec)
        return LPG_EINVAL;
    *kind = f->kind;
    *key1 = f->key1;
    *key2 = f->key2;
    *lsn = f->lsn;
    *nsec = f->nsec;
    return LPG_OK;
}

int lpg_file_verify(lpg_file *f)
{
    if (!f)
        return LPG_EINVAL;
    for (uint64_t b = 0; b < f->nblocks; b++) {
        int rc = file_verify_block(f, b);
        if (rc)
            return rc;
    }
    return LPG_OK;
}

int lpg_file_section(lpg_file *f, uint32_t i, uint32_t *kind, uint32_t *a, uint32_t *b,
                     uint64_t *off, uint64_t *len)
{
    if (!f || !kind || !a || !b || !off || !len)
        return LPG_EINVAL;
    if (i >= f->nsec)
        return LPG_EBOUNDS;
    const fsec *s = &f->sec[i];
    *kind = s->kind;
    *a = s->a;
    *b = s->b;
    *off = s->off;
    *len = s->len;
    return LPG_OK;
}

int lpg_file_read(lpg_file *f, uint64_t off, uint64_t len, uint8_t *out)
{
    if (!f || (len && !out))
        return LPG_EINVAL;
    if (off > f->data_end || len > f->data_end - off)
        return LPG_EBOUNDS;
    int rc = file_touch(f, off, len);
    if (rc)
        return rc;
    memcpy(out, f->data + off, len);
    return LPG_OK;
}

const fsec *file_section(const lpg_file *f, uint32_t kind, uint32_t a, uint32_t b)
{
    for (uint32_t i = 0; i < f->nsec; i++) {
        const fsec *s = &f->sec[i];
        if (s->kind == kind && s->a == a && s->b == b)
            return s;
    }
    return NULL;
}

/* ---- packed columns -------------------------------------------------------------------------- */
int pcol_open(lpg_file *f, uint64_t off, uint64_t avail, pcol *c, uint64_t *used)
{
    if (avail < PCOL_HDR)
        return file_corrupt(f, off);
    int rc = file_touch(f, off, PCOL_HDR);
    if (rc)
        return rc;
    const uint8_t *p = f->data + off;
    uint64_t count = rd64(p);
    uint32_t width = p[8];
    if (width > 64 || count > (1ULL << 40))
        return file_corrupt(f, off);
    uint64_t need = pcol_size(count, width);
    if (need > avail)
        return file_corrupt(f, off);
    c->f = f;
    c->bits = p + PCOL_HDR;
    c->bits_off = off + PCOL_HDR;
    c->count = count;
    c->base = rd64(p + 16);
    c->width = width;
    *used = need;
    return LPG_OK;
}

/* ---- buffers ---------------------------------------------------------------------------------- */
int buf_reserve(buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->n)
        return LPG_ENOMEM;
    size_t need = b->n + extra;
    if (need <= b->cap)
        return LPG_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return LPG_ENOMEM;
        ncap *= 2;
    }
    uint8_t *q = realloc(b->p, ncap);
    if (!q)
        return LPG_ENOMEM;
    b->p = q;
    b->cap = ncap;
    return LPG_OK;
}

int buf_pad8(buf *b)
{
    static const uint8_t z[8] = {0};
    size_t pad = (8 - (b->n & 7)) & 7;
    return buf_put(b, z, pad);
}

static unsigned bits_for(uint64_t range)
{
    unsigned w = 0;
    while (w < 64 && (range >> w))
        w++;
    return w;
}

static int pcol_emit(buf *b, const uint64_t *vals, uint64_t count, uint64_t base, unsigned w)
{
    size_t total = pcol_size(count, w);
    if (buf_reserve(b, total))
        return LPG_ENOMEM;
    uint8_t *p = b->p + b->n;
    memset(p, 0, total);
    memcpy(p, &count, 8);
    p[8] = (uint8_t)w;
    memcpy(p + 16, &base, 8);
    if (w) {
        uint8_t *wp = p + PCOL_HDR;
        for (uint64_t i = 0; i < count; i++) {
            uint64_t v = vals[i] - base, bit = i * w;
            uint64_t byte = (bit >> 6) << 3;
            unsigned sh = bit & 63;
            uint64_t lo = rd64(wp + byte), hi = rd64(wp + byte + 8);
            lo |= v << sh;
            if (sh && sh + w > 64)
                hi |= v >> (64 - sh);
            memcpy(wp + byte, &lo, 8);
            memcpy(wp + byte + 8, &hi, 8);
        }
    }
    b->n += total;
    return LPG_OK;
}

int pcol_put(buf *b, const uint64_t *vals, uint64_t count)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (vals[i] < lo)
            lo = vals[i];
        if (vals[i] > hi)
            hi = vals[i];
    }
    if (!count)
        lo = hi = 0;
    return pcol_emit(b, vals, count, lo, bits_for(hi - lo));
}

int pcol_put_signed(buf *b, const int64_t *vals, uint64_t count)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (uint64_t i = 0; i < count; i++) {
        if (vals[i] < lo)
            lo = vals[i];
        if (vals[i] > hi)
            hi = vals[i];
    }
    if (!count)
        lo = hi = 0;
    /* values as uint64: v - base (mod 2^64) == (uint64)(v - lo) fits in bits_for(hi - lo) */
    return pcol_emit(b, (const uint64_t *)vals, count, (uint64_t)lo, bits_for((uint64_t)hi - (uint64_t)lo));
}

int pcol_put_bits(buf *b, const uint8_t *flags, uint64_t count)
{
    int any = 0, all = 1;
    for (uint64_t i = 0; i < count; i++) {
        any |= flags[i] != 0;
        all &= flags[i] != 0;
    }
    uint64_t zero = 0, one = 1;
    if (!any || all) {   /* constant */
        return pcol_emit(b, count ? (any ? &one : &zero) : NULL, count, any ? 1 : 0, 0);
    }
    size_t total = pcol_size(count, 1);
    if (buf_reserve(b, total))
        return LPG_ENOMEM;
    uint8_t *p = b->p + b->n;
    memset(p, 0, total);
    memcpy(p, &count, 8);
    p[8] = 1;
    for (uint64_t i = 0; i < count; i++)
        if (flags[i])
            p[PCOL_HDR + (i >> 3)] |= (uint8_t)(1u << (i & 7));
    b->n += total;
    return LPG_OK;
}

/* ---- the builder ------------------------------------------------------------------------------ */
int lpg_fb_new(uint32_t kind, uint64_t key1, uint64_t key2, uint64_t lsn, lpg_fb **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    if (kind < KIND_PART || kind > KIND_ELOC)
        return LPG_EINVAL;
    lpg_fb *fb = calloc(1, sizeof(*fb));
    if (!fb)
        return LPG_ENOMEM;
    fb->kind = kind;
    fb->key1 = key1;
    fb->key2 = key2;
    fb->lsn = lsn;
    *out = fb;
    return LPG_OK;
}

void lpg_fb_free(lpg_fb *fb)
{
    if (!fb)
        return;
    buf_free(&fb->body);
    buf_free(&fb->image);
    free(fb->sec);
    free(fb);
}

int fb_begin(lpg_fb *fb, uint32_t kind, uint32_t a, uint32_t b)
{
    if (fb->open || fb->image.p)
        return LPG_EINVAL;
    if (fb->nsec >= FILE_MAX_SECTIONS)
        return LPG_EBOUNDS;
    if (fb->nsec == fb->seccap) {
        uint32_t ncap = fb->seccap ? fb->seccap * 2 : 16;
        fsec *s = realloc(fb->sec, ncap * sizeof(fsec));
        if (!s)
            return LPG_ENOMEM;
        fb->sec = s;
        fb->seccap = ncap;
    }
    if (buf_pad8(&fb->body))
        return LPG_ENOMEM;
    fsec *s = &fb->sec[fb->nsec];
    s->kind = kind;
    s->a = a;
    s->b = b;
    s->off = fb->body.n;
    s->len = 0;
    fb->open = 1;
    return LPG_OK;
}

int fb_end(lpg_fb *fb)
{
    if (!fb->open)
        return LPG_EINVAL;
    fsec *s = &fb->sec[fb->nsec];
    s->len = fb->body.n - s->off;
    fb->nsec++;
    fb->open = 0;
    return LPG_OK;
}

int lpg_fb_section(lpg_fb *fb, uint32_t kind, uint32_t a, uint32_t b, const uint8_t *data, size_t len)
{
    if (!fb || (len && !data))
        return LPG_EINVAL;
    int rc = fb_begin(fb, kind, a, b);
    if (rc)
        return rc;
    if (buf_put(&fb->body, data, len))
        return LPG_ENOMEM;
    return fb_end(fb);
}

int lpg_fb_finish(lpg_fb *fb, const uint8_t **data, size_t *len)
{
    if (!fb || !data || !len || fb->open)
        return LPG_EINVAL;
    if (!fb->image.p) {
        uint64_t table_end = FILE_HDR + (uint64_t)FILE_SECENT * fb->nsec;
        uint64_t start = (table_end + 7) & ~7ULL;
        uint64_t data_end = start + fb->body.n;
        uint64_t nblocks = (data_end + (1ULL << FILE_BLOCK_SHIFT) - 1) >> FILE_BLOCK_SHIFT;
        uint64_t file_size = data_end + 4 * nblocks;
        /* The body becomes the image in place: grown to exactly the file's size (a big body is
         * an mmap'd block, which realloc moves by mremap, without a copy) and moved up past the
         * header and section table, so the file is never held twice (a checkpoint's partition
         * of 1 KB strings was held as its body and its image at once: its peak memory). */
        buf im = fb->body;
        if (file_size > SIZE_MAX)
            return LPG_ENOMEM;
        if (im.cap < file_size) {
            uint8_t *q = realloc(im.p, (size_t)file_size);
            if (!q)
                return LPG_ENOMEM;
            im.p = q;
            im.cap = (size_t)file_size;
        }
        memset(&fb->body, 0, sizeof(fb->body));
        uint8_t *p = im.p;
        if (im.n)
            memmove(p + start, p, im.n);
        memset(p, 0, start);
        memcpy(p, FILE_MAGIC, 8);
        uint32_t v32 = FILE_VERSION;
        memcpy(p + 8, &v32, 4);
        memcpy(p + 12, &fb->kind, 4);
        memcpy(p + 32, &fb->key1, 8);
        memcpy(p + 40, &fb->key2, 8);
        memcpy(p + 48, &fb->lsn, 8);
        memcpy(p + 56, &data_end, 8);
        memcpy(p + 64, &file_size, 8);
        v32 = FILE_BLOCK_SHIFT;
        memcpy(p + 72, &v32, 4);
        memcpy(p + 76, &fb->nsec, 4);
        for (uint32_t i = 0; i < fb->nsec; i++) {
            uint8_t *e = p + FILE_HDR + (uint64_t)FILE_SECENT * i;
            const fsec *s = &fb->sec[i];
            uint64_t off = start + s->off;
            memcpy(e, &s->kind, 4);
            memcpy(e + 4, &s->a, 4);
            memcpy(e + 8, &s->b, 4);
            memcpy(e + 16, &off, 8);
            memcpy(e + 24, &s->len, 8);
        }
        /* block CRCs first (block 0 reads the two CRC fields at [80, 88) as zero), then the
         * CRC of the CRC table at 80, then the header CRC at 84: no circularity */
        uint8_t *crcs = p + data_end;
        for (uint64_t b = 0; b < nblocks; b++) {
            uint32_t c = block_crc(p, data_end, b);
            memcpy(crcs + 4 * b, &c, 4);
        }
        uint32_t tcrc = lpg_crc32c(0, crcs, 4 * nblocks);
        memcpy(p + 80, &tcrc, 4);
        static const uint8_t zero4[4] = {0};
        uint32_t hcrc = lpg_crc32c(0, p, 84);
        hcrc = lpg_crc32c(hcrc, zero4, 4);
        hcrc = lpg_crc32c(hcrc, p + 88, table_end - 88);
        memcpy(p + 84, &hcrc, 4);
        im.n = (size_t)file_size;
        fb->image = im;
    }
    *data = fb->image.p;
    *len = fb->image.n;
    return LPG_OK;
}

/* ---- the key hash ----------------------------------------------------------------------------- */
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Stored on disk (key sub-index files): never change it.  Murmur3-style mixing, 8 bytes a step. */
uint64_t key_hash(const uint8_t *k, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w = rd64(k);
        h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
        h = rotl64(h, 27) * 5 + 0x52dce729;
        k += 8;
        n -= 8;
    }
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t |= (uint64_t)k[i] << (8 * i);
    h ^= rotl64(t * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
    return fmix64(h);
}

uint64_t lpg_key_hash(const uint8_t *key, size_t len)
{
    return key_hash(key, len);
}
