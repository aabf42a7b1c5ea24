/*
 * labelidx.c -- lpg_labels: label id -> set of node ids, multi-versioned.
 *
 * Data layout
 *
 *   sets[label], label < nsets          one lset per label id seen
 *   lset.pages[p], p < npages           NULL, or the page holding nodes [p * 1024, (p + 1) * 1024)
 *   page.e[0..n)                        versions {node, begin, end}, sorted by (node, begin)
 *
 * Pages keep inserts cheap (a memmove inside at most one page) while scans stay sequential and
 * ascending.  Node ids are dense, so the page directory is O(largest id / 1024) per label.
 *
 * Invariants (checked by lpg_labels_check):
 *   (1) a non-NULL page has 1 <= n <= cap entries, all with node in the page's range, sorted by
 *       (node, begin);
 *   (2) versions of one node do not overlap: prev.end <= next.begin; begin <= end; so a node has
 *       at most one live version (end == INF) and at most one version visible at any snap;
 *   (3) lset.nver == entries held, lset.nended == entries with end != INF, and
 *       lset.max_begin >= every begin.
 * count() is O(1) when snap >= max_begin and nended == 0: then every entry is visible.
 * Locking: the rwlock `lock`; see lpgdb.h for which functions are read or write.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "lpgdb.h"
#include "vec.h"

#define PAGE_SHIFT 10
#define PAGE_SPAN (1u << PAGE_SHIFT)

typedef struct {
    uint64_t node;          /* node id */
    uint64_t begin, end;    /* visibility interval */
} lentry;

typedef struct {
    uint32_t n, cap;        /* entries held / allocated */
    lentry e[];             /* sorted by (node, begin) */
} lpage;

typedef struct {
    lpage **pages;          /* page directory, npages slots, NULL = no entries there */
    size_t npages;          /* allocated directory length */
    uint64_t nver;          /* entries held */
    uint64_t nended;        /* entries with end != INF */
    uint64_t max_begin;     /* >= begin of every entry */
} lset;

struct lpg_labels {
    pthread_rwlock_t lock;  /* readers shared, the writer exclusive */
    lset *sets;             /* indexed by label id */
    size_t nsets;           /* allocated length of sets */
};

int lpg_labels_new(lpg_labels **out)
{
    if (!out)
        return LPG_EINVAL;
    *out = NULL;
    lpg_labels *l = calloc(1, sizeof(*l));
    if (!l)
        return LPG_ENOMEM;
    if (rwlock_init(&l->lock)) {
        free(l);
        return LPG_ENOMEM;
    }
    *out = l;
    return LPG_OK;
}

void lpg_labels_free(lpg_labels *l)
{
    if (!l)
        return;
    for (size_t s = 0; s < l->nsets; s++) {
        for (size_t p = 0; p < l->sets[s].npages; p++)
            free(l->sets[s].pages[p]);
        free(l->sets[s].pages);
    }
    free(l->sets);
    pthread_rwlock_destroy(&l->lock);
    free(l);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Index of the first entry of pg with node >= node (pg->n if none).  O(log n). */
static uint32_t lower_bound(const lpage *pg, uint64_t node)
{
    uint32_t lo = 0, hi = pg->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (pg->e[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const lpage *page_of(const lpg_labels *l, uint32_t label, uint64_t node)
{
    if (label >= l->nsets)
        return NULL;
    const lset *s = &l->sets[label];
    uint64_t p = node >> PAGE_SHIFT;
    return p < s->npages ? s->pages[p] : NULL;
}

static int args(const lpg_labels *l, uint32_t label, uint64_t node)
{
    if (!l)
        return LPG_EINVAL;
    if (label >= LPG_LABEL_CAP || node >= LPG_ID_CAP)
        return LPG_EBOUNDS;
    return LPG_OK;
}

int lpg_labels_add(lpg_labels *l, uint32_t label, uint64_t node, uint64_t lsn)
{
    int rc = args(l, label, node);
    if (rc != LPG_OK)
        return rc;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&l->lock);
    if (grow((void **)&l->sets, &l->nsets, (size_t)label + 1, sizeof(lset))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    lset *s = &l->sets[label];
    size_t p = (size_t)(node >> PAGE_SHIFT);
    if (grow((void **)&s->pages, &s->npages, p + 1, sizeof(lpage *))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    lpage *pg = s->pages[p];
    uint32_t at = 0;
    if (pg) {
        at = lower_bound(pg, node);
        for (; at < pg->n && pg->e[at].node == node; at++) {
            if (pg->e[at].end == LPG_LSN_INF) {
                rc = LPG_EEXIST;
                goto out;
            }
            if (lsn < pg->e[at].end) {
                rc = LPG_EINVAL;
                goto out;
            }
        }
    }
    if (!pg || pg->n == pg->cap) {
        if (pg && pg->cap >= (1u << 30)) {
            rc = LPG_ENOMEM;
            goto out;
        }
        uint32_t ncap = pg ? pg->cap * 2 : 4;
        lpage *np = realloc(pg, sizeof(lpage) + (size_t)ncap * sizeof(lentry));
        if (!np) {
            rc = LPG_ENOMEM;
            goto out;
        }
        if (!pg)
            np->n = 0;
        np->cap = ncap;
        s->pages[p] = pg = np;
    }
    memmove(&pg->e[at + 1], &pg->e[at], (pg->n - at) * sizeof(lentry));
    lentry x = {node, lsn, LPG_LSN_INF};
    pg->e[at] = x;
    pg->n++;
    s->nver++;
    if (lsn > s->max_begin)
        s->max_begin = lsn;
out:
    pthread_rwlock_unlock(&l->lock);
    return rc;
}

/* Checks node (in page pg, possibly NULL) could take a new live version at lsn. */
static int can_add(const lpage *pg, uint64_t node, uint64_t lsn)
{
    for (uint32_t i = pg ? lower_bound(pg, node) : 0; pg && i < pg->n && pg->e[i].node == node; i++) {
        if (pg->e[i].end == LPG_LSN_INF)
            return LPG_EEXIST;
        if (lsn < pg->e[i].end)
            return LPG_EINVAL;
    }
    return LPG_OK;
}

int lpg_labels_add_many(lpg_labels *l, uint32_t label, const uint64_t *nodes, size_t n, uint64_t lsn)
{
    if (!l || (n && !nodes))
        return LPG_EINVAL;
    if (label >= LPG_LABEL_CAP)
        return LPG_EBOUNDS;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    if (n == 0)
        return LPG_OK;
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i] >= LPG_ID_CAP)
            return LPG_EBOUNDS;
        if (i && nodes[i] <= nodes[i - 1])
            sorted = 0;
    }
    uint64_t *copy = NULL;
    const uint64_t *v = nodes;
    if (!sorted) {
        copy = malloc(n * sizeof(uint64_t));
        if (!copy)
            return LPG_ENOMEM;
        memcpy(copy, nodes, n * sizeof(uint64_t));
        qsort(copy, n, sizeof(uint64_t), cmp_u64);
        for (size_t i = 1; i < n; i++)
            if (copy[i] == copy[i - 1]) {
                free(copy);
                return LPG_EEXIST;
            }
        v = copy;
    }
    int rc = LPG_OK;
    pthread_rwlock_wrlock(&l->lock);
    /* growing the directories changes no content, so it may happen before a failure */
    if (grow((void **)&l->sets, &l->nsets, (size_t)label + 1, sizeof(lset))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    lset *s = &l->sets[label];
    if (grow((void **)&s->pages, &s->npages, (size_t)(v[n - 1] >> PAGE_SHIFT) + 1, sizeof(lpage *))) {
        rc = LPG_ENOMEM;
        goto out;
    }
    /* pass 1: every node may be added (a group of a page past the page's last node, as ascending
     * new ids are, cannot meet a version: no search); reserve room page by page (groups of
     * equal page) */
    for (size_t i = 0, j; i < n && rc == LPG_OK; i = j) {
        const lpage *pg = s->pages[v[i] >> PAGE_SHIFT];
        for (j = i; j < n && (v[j] >> PAGE_SHIFT) == (v[i] >> PAGE_SHIFT); j++)
            ;
        if (pg && pg->n && pg->e[pg->n - 1].node >= v[i])
            for (size_t q = i; q < j && rc == LPG_OK; q++)
                rc = can_add(pg, v[q], lsn);
    }
    for (size_t i = 0, j; rc == LPG_OK && i < n; i = j) {
        size_t p = (size_t)(v[i] >> PAGE_SHIFT);
        for (j = i; j < n && (v[j] >> PAGE_SHIFT) == p; j++)
            ;
        lpage *pg = s->pages[p];
        uint64_t need = (pg ? pg->n : 0) + (j - i);
        if (pg && need <= pg->cap)
            continue;
        if (need >= (1u << 30)) {
            rc = LPG_ENOMEM;
            break;
        }
        uint32_t ncap = pg ? pg->cap : 4;
        while (ncap < need)
            ncap *= 2;
        lpage *np = realloc(pg, sizeof(lpage) + (size_t)ncap * sizeof(lentry));
        if (!np) {
            rc = LPG_ENOMEM;
            break;
        }
        if (!pg)
            np->n = 0;
        np->cap = ncap;
        s->pages[p] = np;
    }
    if (rc != LPG_OK) {
        /* drop pages created empty by the reservation: invariant (1) wants n >= 1 */
        for (size_t i = 0; i < n; i++) {
            size_t p = (size_t)(v[i] >> PAGE_SHIFT);
            if (s->pages[p] && s->pages[p]->n == 0) {
                free(s->pages[p]);
                s->pages[p] = NULL;
            }
        }
    }
    /* pass 2: merge each group into its page from the back; a new version goes after the
     * existing (ended) versions of its node */
    for (size_t i = 0, j; rc == LPG_OK && i < n; i = j) {
        size_t p = (size_t)(v[i] >> PAGE_SHIFT);
        for (j = i; j < n && (v[j] >> PAGE_SHIFT) == p; j++)
            ;
        lpage *pg = s->pages[p];
        int64_t a = (int64_t)pg->n - 1, b = (int64_t)j - 1, w = (int64_t)(pg->n + (j - i)) - 1;
        while (b >= (int64_t)i) {
            if (a >= 0 && pg->e[a].node > v[b]) {
                pg->e[w--] = pg->e[a--];
            } else {
                lentry x = {v[b], lsn, LPG_LSN_INF};
                pg->e[w--] = x;
                b--;
            }
        }
        pg->n += (uint32_t)(j - i);
    }
    if (rc == LPG_OK) {
        s->nver += n;
        if (lsn > s->max_begin)
            s->max_begin = lsn;
    }
out:
    pthread_rwlock_unlock(&l->lock);
    free(copy);
    return rc;
}

int lpg_labels_remove(lpg_labels *l, uint32_t label, uint64_t node, uint64_t lsn)
{
    int rc = args(l, label, node);
    if (rc != LPG_OK)
        return rc;
    if (lsn == LPG_LSN_INF)
        return LPG_EINVAL;
    rc = LPG_ENOTFOUND;
    pthread_rwlock_wrlock(&l->lock);
    lpage *pg = (lpage *)page_of(l, label, node);
    if (pg) {
        for (uint32_t i = lower_bound(pg, node); i < pg->n && pg->e[i].node == node; i++) {
            if (pg->e[i].end != LPG_LSN_INF)
                continue;
            if (lsn < pg->e[i].begin) {
                rc = LPG_EINVAL;
            } else {
                pg->e[i].end = lsn;
                l->sets[label].nended++;
                rc = LPG_OK;
            }
            break;
        }
    }
    pthread_rwlock_unlock(&l->lock);
    return rc;
}

int lpg_labels_scan(lpg_labels *l, uint32_t label, uint64_t snap, uint64_t *out, size_t cap,
                    size_t *count)
{
    if (!count || (cap && !out))
        return LPG_EINVAL;
    *count = 0;
    int rc = args(l, label, 0);
    if (rc != LPG_OK)
        return rc;
    size_t c = 0;
    pthread_rwlock_rdlock(&l->lock);
    if (label < l->nsets) {
        const lset *s = &l->sets[label];
        for (size_t p = 0; p < s->npages; p++) {
            const lpage *pg = s->pages[p];
            for (uint32_t i = 0; pg && i < pg->n; i++) {
                if (pg->e[i].begin <= snap && snap < pg->e[i].end) {
                    if (c < cap)
                        out[c] = pg->e[i].node;
                    c++;
                }
            }
        }
    }
    pthread_rwlock_unlock(&l->lock);
    *count = c;
    return c > cap ? LPG_ETOOSMALL : LPG_OK;
}

int lpg_labels_count(lpg_labels *l, uint32_t label, uint64_t snap, uint64_t *n)
{
    if (!n)
        return LPG_EINVAL;
    *n = 0;
    int rc = args(l, label, 0);
    if (rc != LPG_OK)
        return rc;
    uint64_t c = 0;
    pthread_rwlock_rdlock(&l->lock);
    if (label < l->nsets) {
        const lset *s = &l->sets[label];
        if (snap >= s->max_begin && s->nended == 0) {
            c = s->nver;
        } else {
            for (size_t p = 0; p < s->npages; p++) {
                const lpage *pg = s->pages[p];
                for (uint32_t i = 0; pg && i < pg->n; i++)
                    c += pg->e[i].begin <= snap && snap < pg->e[i].end;
            }
        }
    }
    pthread_rwlock_unlock(&l->lock);
    *n = c;
    return LPG_OK;
}

int lpg_labels_has(lpg_labels *l, uint32_t label, uint64_t node, uint64_t snap, int *out)
{
    if (!out)
        return LPG_EINVAL;
    *out = 0;
    int rc = args(l, label, node);
    if (rc != LPG_OK)
        return rc;
    int has = 0;
    pthread_rwlock_rdlock(&l->lock);
    const lpage *pg = page_of(l, label, node);
    if (pg) {
        for (uint32_t i = lower_bound(pg, node); i < pg->n && pg->e[i].node == node; i++) {
            if (pg->e[i].begin <= snap && snap < pg->e[i].end) {
                has = 1;
                break;
            }
        }
    }
    pthread_rwlock_unlock(&l->lock);
    *out = has;
    return LPG_OK;
}

int lpg_labels_gc(lpg_labels *l, uint64_t min_snap)
{
    if (!l)
        return LPG_EINVAL;
    pthread_rwlock_wrlock(&l->lock);
    for (size_t si = 0; si < l->nsets; si++) {
        lset *s = &l->sets[si];
        if (s->nended == 0)
            continue;
        uint64_t nver = 0, nended = 0;
        for (size_t p = 0; p < s->npages; p++) {
            lpage *pg = s->pages[p];
            if (!pg)
                continue;
            uint32_t w = 0;
            for (uint32_t i = 0; i < pg->n; i++) {
                if (pg->e[i].end <= min_snap)
                    continue;
                nended += pg->e[i].end != LPG_LSN_INF;
                pg->e[w++] = pg->e[i];
            }
            pg->n = w;
            nver += w;
            if (w == 0) {
                free(pg);
                s->pages[p] = NULL;
            }
        }
        s->nver = nver;
        s->nended = nended;
    }
    pthread_rwlock_unlock(&l->lock);
    return LPG_OK;
}

int lpg_labels_check(lpg_labels *l)
{
    if (!l)
        return LPG_EINVAL;
    int rc = LPG_OK;
    pthread_rwlock_rdlock(&l->lock);
    for (size_t si = 0; rc == LPG_OK && si < l->nsets; si++) {
        const lset *s = &l->sets[si];
        uint64_t nver = 0, nended = 0;
        for (size_t p = 0; rc == LPG_OK && p < s->npages; p++) {
            const lpage *pg = s->pages[p];
            if (!pg)
                continue;
            if (pg->n == 0 || pg->n > pg->cap) {
                rc = LPG_ECORRUPT;
                break;
            }
            for (uint32_t i = 0; i < pg->n; i++) {
                const lentry *x = &pg->e[i];
                if ((x->node >> PAGE_SHIFT) != p || x->begin > x->end || x->begin == LPG_LSN_INF
                    || x->begin > s->max_begin) {
                    rc = LPG_ECORRUPT;
                    break;
                }
                if (i > 0) {
                    const lentry *y = &pg->e[i - 1];
                    if (y->node > x->node || (y->node == x->node && y->end > x->begin)) {
                        rc = LPG_ECORRUPT;
                        break;
                    }
                }
                nended += x->end != LPG_LSN_INF;
            }
            nver += pg->n;
        }
        if (rc == LPG_OK && (nver != s->nver || nended != s->nended))
            rc = LPG_ECORRUPT;
    }
    pthread_rwlock_unlock(&l->lock);
    return rc;
}
