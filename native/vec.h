/*
 * vec.h -- internal helpers shared by the index files (adj.c, keyidx.c, labelidx.c).
 *
 * Not part of the public API and not in the cffi block: only static inline helpers.
 *   - grow(): overflow-checked geometric growth of a malloc'd array;
 *   - rwlock_init(): a writer-preferring pthread rwlock, so a stream of readers cannot starve
 *     the single writer;
 *   - LPG_LSN_INF: the `end` of a live version; LPG_ID_CAP: the bound on node and edge ids;
 *   - offsets_ok(): the check of a caller's offsets array into a blob.
 */
#ifndef LPGDB_VEC_H
#define LPGDB_VEC_H

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"

#define LPG_LSN_INF UINT64_MAX
#define LPG_ID_CAP (1ULL << 40)      /* node and edge ids must be < this */

/* Whether offs[0..n] (n + 1 entries) are non-decreasing and end within a blob of `len` bytes,
 * so row i is blob[offs[i], offs[i + 1]).  O(n). */
static inline int offsets_ok(const uint64_t *offs, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (offs[i] > offs[i + 1] || offs[i + 1] > len)
            return 0;
    return 1;
}

/* Ask for transparent huge pages over the 2 MiB-aligned interior of a big block (>= 4 MiB) that
 * is probed at random (the CSV id maps): one TLB entry per 2 MiB instead of 512.  Large malloc
 * blocks are mmap'd, so this only advises (THP "madvise" mode); errors are ignored.  Not for
 * buffers filled once in order: there it bought nothing measurable and zeroed more. */
static inline void hint_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < 2 * huge)
        return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/* Ensure *cap >= need for the array *p of elements of size `elem`, growing geometrically.
 * New memory is zero-filled.  Returns 0, or -1 on overflow / out of memory (array unchanged). */
static inline int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return -1;
    void *q = realloc(*p, ncap * elem);
    if (!q)
        return -1;
    memset((char *)q + *cap * elem, 0, (ncap - *cap) * elem);
    *p = q;
    *cap = ncap;
    return 0;
}

static inline int rwlock_init(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr))
        return -1;
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc ? -1 : 0;
}

/* A set of type ids for filtering: ntypes == 0 means "any".  Small sets are scanned linearly;
 * larger ones are sorted into `sorted` (caller frees with typeset_free) and binary-searched. */
typedef struct {
    const uint32_t *types;   /* the ids to test against (caller's array or `sorted`) */
    size_t n;                /* number of ids; 0 = any */
    uint32_t *sorted;        /* owned sorted copy when n > TYPESET_LINEAR, else NULL */
} typeset;

#define TYPESET_LINEAR 16
#define TYPESET_MAX (1u << 20)

static inline int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Returns LPG_OK, LPG_EINVAL for (NULL, n > 0), LPG_EBOUNDS for n > TYPESET_MAX, LPG_ENOMEM. */
static inline int typeset_init(typeset *ts, const uint32_t *types, size_t n)
{
    ts->types = types;
    ts->n = n;
    ts->sorted = NULL;
    if (n == 0)
        return 0;
    if (!types)
        return LPG_EINVAL;
    if (n > TYPESET_MAX)
        return LPG_EBOUNDS;
    if (n > TYPESET_LINEAR) {
        ts->sorted = malloc(n * sizeof(uint32_t));
        if (!ts->sorted)
            return LPG_ENOMEM;
        memcpy(ts->sorted, types, n * sizeof(uint32_t));
        qsort(ts->sorted, n, sizeof(uint32_t), cmp_u32);
        ts->types = ts->sorted;
    }
    return 0;
}

static inline int typeset_has(const typeset *ts, uint32_t t)
{
    if (ts->n == 0)
        return 1;
    if (!ts->sorted) {
        for (size_t i = 0; i < ts->n; i++)
            if (ts->types[i] == t)
                return 1;
        return 0;
    }
    size_t lo = 0, hi = ts->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts->types[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ts->n && ts->types[lo] == t;
}

static inline void typeset_free(typeset *ts)
{
    free(ts->sorted);
    ts->sorted = NULL;
}

#endif /* LPGDB_VEC_H */
