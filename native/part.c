/*
 * part.c -- decoded, bounds-checked views of partition, edge-locator and key sub-index files.
 *
 * Formats: docs/storage.md ("On-disk format 2").  A view holds packed-column descriptors into the
 * mapping, nothing else: parsing reads (and so verifies) only the blocks holding section headers.
 * Every function returns LPG_ECORRUPT (with the file and offset recorded for the thread, see
 * lpg_last_corrupt) for anything out of bounds or inconsistent, never reads outside a section.
 */
#include <stdlib.h>
#include <string.h>
#include "part.h"

/* A cursor over one section: reads verify their block first and never pass `end`. */
typedef struct {
    lpg_file *f;
    uint64_t off, end;
} cur;

static int cur_u64(cur *c, uint64_t *v)
{
    if (c->end - c->off < 8)
        return file_corrupt(c->f, c->off);
    int rc = file_touch(c->f, c->off, 8);
    if (rc)
        return rc;
    *v = rd64(c->f->data + c->off);
    c->off += 8;
    return LPG_OK;
}

static int cur_pcol(cur *c, pcol *p)
{
    uint64_t used;
    int rc = pcol_open(c->f, c->off, c->end - c->off, p, &used);
    if (rc)
        return rc;
    c->off += used;
    return LPG_OK;
}


static cur sec_cur(lpg_file *f, const fsec *s)
{
    cur c = {f, s->off, s->off + s->len};
    return c;
}

/* ---- property columns ------------------------------------------------------------------------- */
static int prop_parse(lpg_file *f, const fsec *s, uint64_t rows, pprop *pp)
{
    cur c = sec_cur(f, s);
    uint64_t head;
    int rc = cur_u64(&c, &head);
    if (rc)
        return rc;
    memset(pp, 0, sizeof(*pp));
    pp->vkind = (uint32_t)(head & 0xff);
    pp->rows = rows;
    if ((rc = cur_pcol(&c, &pp->present)))
        return rc;
    if (pp->present.count != rows || pp->present.width > 1)
        return file_corrupt(f, s->off);
    switch (pp->vkind) {
    case V_INT:
    case V_BOOL:
        if ((rc = cur_pcol(&c, &pp->vals)))
            return rc;
        if (pp->vals.count != rows || (pp->vkind == V_BOOL && pp->vals.width > 1))
            return file_corrupt(f, s->off);
        return LPG_OK;
    case V_FLOAT: {
        uint64_t n;
        if ((rc = cur_u64(&c, &n)))
            return rc;
        if (n != rows || n > (c.end - c.off) / 8)
            return file_corrupt(f, s->off);
        pp->f64_off = c.off;
        return LPG_OK;
    }
    case V_STR:
    case V_BYTES:
    case V_MSGPACK: {
        if ((rc = cur_pcol(&c, &pp->vals)))
            return rc;
        if (pp->vals.count != rows + 1)
            return file_corrupt(f, s->off);
        if ((rc = cur_u64(&c, &pp->heap_len)))
            return rc;
        if (pp->heap_len > c.end - c.off)
            return file_corrupt(f, s->off);
        pp->heap_off = c.off;
        return LPG_OK;
    }
    default:
        return file_corrupt(f, s->off);
    }
}

int prop_get(const pprop *pp, uint64_t row, int *present, mval *v)
{
    lpg_file *f = pp->present.f;
    if (row >= pp->rows)
        return file_corrupt(f, pp->present.bits_off);
    uint64_t x;
    int rc = pcol_get(&pp->present, row, &x);
    if (rc)
        return rc;
    *present = x != 0;
    if (!*present)
        return LPG_OK;
    memset(v, 0, sizeof(*v));
    v->kind = (int)pp->vkind;
    switch (pp->vkind) {
    case V_INT:
        if ((rc = pcol_get(&pp->vals, row, &x)))
            return rc;
        v->i = (int64_t)x;
        return LPG_OK;
    case V_BOOL:
        if ((rc = pcol_get(&pp->vals, row, &x)))
            return rc;
        if (x > 1)
            return file_corrupt(f, pp->vals.bits_off);
        v->i = (int64_t)x;
        return LPG_OK;
    case V_FLOAT: {
        uint64_t off = pp->f64_off + 8 * row;
        if ((rc = file_touch(f, off, 8)))
            return rc;
        uint64_t u = rd64(f->data + off);
        memcpy(&v->d, &u, 8);
        return LPG_OK;
    }
    default: {
        uint64_t a, b;
        if ((rc = pcol_get(&pp->vals, row, &a)) || (rc = pcol_get(&pp->vals, row + 1, &b)))
            return rc;
        if (a > b || b > pp->heap_len)
            return file_corrupt(f, pp->vals.bits_off);
        if ((rc = file_touch(f, pp->heap_off + a, b - a)))
            return rc;
        v->p = f->data + pp->heap_off + a;
        v->n = (size_t)(b - a);
        if (pp->vkind == V_MSGPACK) {   /* exactly one well-formed value */
            const uint8_t *next;
            if (mp_skip(v->p, v->p + v->n, &next) || next != v->p + v->n)
                return file_corrupt(f, pp->heap_off + a);
        }
        return LPG_OK;
    }
    }
}

/* ---- partitions ------------------------------------------------------------------------------- */
void part_release(part *pt)
{
    if (!pt)
        return;
    for (uint32_t i = 0; i < pt->ncsr; i++) {
        free(pt->csr[i].props);
        free(pt->csr[i].prop_keys);
    }
    free(pt->csr);
    free(pt->nprops);
    free(pt->nprop_keys);
    free(pt->lbits);
    free(pt->lbl);
    memset(pt, 0, sizeof(*pt));
}

int part_parse(lpg_file *f, part *pt)
{
    memset(pt, 0, sizeof(*pt));
    pt->f = f;
    if (f->kind != KIND_PART)
        return file_corrupt(f, 12);
    uint32_t ncsr = 0, nnp = 0, nep = 0, nlbl = 0;
    const fsec *ls = NULL, *fl = NULL;
    for (uint32_t i = 0; i < f->nsec; i++) {
        const fsec *s = &f->sec[i];
        switch (s->kind) {
        case S_LABELSET: if (ls) return file_corrupt(f, s->off); ls = s; break;
        case S_FLAGS: if (fl) return file_corrupt(f, s->off); fl = s; break;
        case S_CSR: ncsr++; break;
        case S_NPROP: nnp++; break;
        case S_EPROP: nep++; break;
        case S_LABEL: nlbl++; break;
        case S_STATS: break;
        default: return file_corrupt(f, s->off);
        }
    }
    if (!ls || !fl)
        return file_corrupt(f, FILE_HDR);
    int rc;
    cur c = sec_cur(f, ls);
    if ((rc = cur_pcol(&c, &pt->labelset)))
        return rc;
    pt->n = pt->labelset.count;
    c = sec_cur(f, fl);
    if ((rc = cur_pcol(&c, &pt->flags)))
        return rc;
    if (pt->n > PART_SLOTS || pt->flags.count != pt->n)
        return file_corrupt(f, fl->off);
    pt->csr = calloc(ncsr ? ncsr : 1, sizeof(pcsr));
    pt->nprops = calloc(nnp ? nnp : 1, sizeof(pprop));
    pt->nprop_keys = calloc(nnp ? nnp : 1, sizeof(uint32_t));
    pt->lbits = calloc(nlbl ? nlbl : 1, sizeof(pcol));
    pt->lbl = calloc(nlbl ? nlbl : 1, sizeof(uint32_t));
    if (!pt->csr || !pt->nprops || !pt->nprop_keys || !pt->lbits || !pt->lbl) {
        part_release(pt);
        return LPG_ENOMEM;
    }
    for (uint32_t i = 0; i < f->nsec; i++) {
        const fsec *s = &f->sec[i];
        c = sec_cur(f, s);
        if (s->kind == S_CSR) {
            if (s->b > 1 || part_csr(pt, s->a, s->b)) {
                rc = file_corrupt(f, s->off);
                goto fail;
            }
            pcsr *x = &pt->csr[pt->ncsr];
            x->type = s->a;
            x->dir = s->b;
            if ((rc = cur_pcol(&c, &x->eoff)) || (rc = cur_pcol(&c, &x->eid)) || (rc = cur_pcol(&c, &x->nbr)))
                goto fail;
            x->nent = x->eid.count;
            if (x->eoff.count != pt->n + 1 || x->nbr.count != x->nent) {
                rc = file_corrupt(f, s->off);
                goto fail;
            }
            pt->ncsr++;
        } else if (s->kind == S_NPROP) {
            for (uint32_t j = 0; j < pt->nnprops; j++)
                if (pt->nprop_keys[j] == s->a) {
                    rc = file_corrupt(f, s->off);
                    goto fail;
                }
            if ((rc = prop_parse(f, s, pt->n, &pt->nprops[pt->nnprops])))
                goto fail;
            pt->nprop_keys[pt->nnprops++] = s->a;
        } else if (s->kind == S_LABEL) {
            pcol *b = &pt->lbits[pt->nlbl];
            if ((rc = cur_pcol(&c, b)))
                goto fail;
            if (b->count != pt->n || b->width > 1) {
                rc = file_corrupt(f, s->off);
                goto fail;
            }
            pt->lbl[pt->nlbl++] = s->a;
        }
    }
    for (uint32_t i = 0; i < f->nsec; i++) {   /* edge properties, once every CSR is known */
        const fsec *s = &f->sec[i];
        if (s->kind != S_EPROP)
            continue;
        pcsr *x = (pcsr *)part_csr(pt, s->a, 0);
        if (!x) {
            rc = file_corrupt(f, s->off);
            goto fail;
        }
        for (uint32_t j = 0; j < x->nprops; j++)
            if (x->prop_keys[j] == s->b) {
                rc = file_corrupt(f, s->off);
                goto fail;
            }
        pprop *np = realloc(x->props, (x->nprops + 1) * sizeof(pprop));
        if (!np) {
            rc = LPG_ENOMEM;
            goto fail;
        }
        x->props = np;
        uint32_t *nk = realloc(x->prop_keys, (x->nprops + 1) * sizeof(uint32_t));
        if (!nk) {
            rc = LPG_ENOMEM;
            goto fail;
        }
        x->prop_keys = nk;
        if ((rc = prop_parse(f, s, x->nent, &x->props[x->nprops])))
            goto fail;
        x->prop_keys[x->nprops++] = s->b;
    }
    return LPG_OK;
fail:
    part_release(pt);
    return rc;
}

const pcsr *part_csr(const part *pt, uint32_t type, uint32_t dir)
{
    for (uint32_t i = 0; i < pt->ncsr; i++)
        if (pt->csr[i].type == type && pt->csr[i].dir == dir)
            return &pt->csr[i];
    return NULL;
}

int csr_range(const pcsr *c, uint64_t i, uint64_t *lo, uint64_t *hi)
{
    int rc = pcol_get(&c->eoff, i, lo);
    if (!rc)
        rc = pcol_get(&c->eoff, i + 1, hi);
    if (rc)
        return rc;
    if (*lo > *hi || *hi > c->nent)
        return file_corrupt(c->eoff.f, c->eoff.bits_off);
    return LPG_OK;
}

int csr_find(const pcsr *c, uint64_t lo, uint64_t hi, uint64_t eid, int64_t *pos)
{
    *pos = -1;
    int rc = pcol_touch(&c->eid, lo, hi);
    if (rc)
        return rc;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2, v = pcol_get_raw(&c->eid, mid);
        if (v < eid)
            lo = mid + 1;
        else if (v > eid)
            hi = mid;
        else {
            *pos = (int64_t)mid;
            return LPG_OK;
        }
    }
    return LPG_OK;
}

int part_node(const part *pt, uint64_t i, int *exists, uint32_t *lset)
{
    uint64_t fl, ls;
    int rc = pcol_get(&pt->flags, i, &fl);
    if (!rc)
        rc = pcol_get(&pt->labelset, i, &ls);
    if (rc)
        return rc;
    if (ls > UINT32_MAX - 1)
        return file_corrupt(pt->f, pt->labelset.bits_off);
    *exists = (int)(fl & 1);
    *lset = (uint32_t)ls;
    return LPG_OK;
}

static int emit_props(const pprop *props, const uint32_t *keys, uint32_t n, uint64_t row,
                      const keynames *kn, buf *out, lpg_file *f)
{
    uint32_t stack[64];
    uint32_t *idx = n <= 64 ? stack : malloc(n * sizeof(uint32_t));
    if (!idx)
        return LPG_ENOMEM;
    uint32_t k = 0;
    int rc = LPG_OK;
    for (uint32_t j = 0; j < n; j++) {
        uint64_t x;
        if ((rc = pcol_get(&props[j].present, row, &x)))
            goto out;
        if (x)
            idx[k++] = j;
    }
    if (k == 0)
        goto out;
    if ((rc = mp_put_map(out, k)))
        goto out;
    for (uint32_t t = 0; t < k; t++) {
        uint32_t j = idx[t], key = keys[j];
        if (key >= kn->n) {
            rc = file_corrupt(f, FILE_HDR);
            goto out;
        }
        int present;
        mval v;
        if ((rc = prop_get(&props[j], row, &present, &v)))
            goto out;
        if ((rc = mp_put_str(out, kn->name[key], kn->len[key])) || (rc = mp_put_value(out, &v)))
            goto out;
    }
out:
    if (idx != stack)
        free(idx);
    return rc;
}

int part_emit_node_props(const part *pt, uint64_t i, const keynames *kn, buf *out)
{
    return emit_props(pt->nprops, pt->nprop_keys, pt->nnprops, i, kn, out, pt->f);
}

int csr_emit_edge_props(const pcsr *c, uint64_t entry, const keynames *kn, buf *out)
{
    return emit_props(c->props, c->prop_keys, c->nprops, entry, kn, out, c->eid.f);
}

/* ---- edge locators ---------------------------------------------------------------------------- */
int eloc_parse(lpg_file *f, eloc *e)
{
    memset(e, 0, sizeof(*e));
    e->f = f;
    if (f->kind != KIND_ELOC)
        return file_corrupt(f, 12);
    const fsec *s = file_section(f, S_ESRC, 0, 0), *t = file_section(f, S_ETYPE, 0, 0);
    if (!s || !t)
        return file_corrupt(f, FILE_HDR);
    cur c = sec_cur(f, s);
    int rc = cur_pcol(&c, &e->src);
    if (rc)
        return rc;
    c = sec_cur(f, t);
    if ((rc = cur_pcol(&c, &e->type)))
        return rc;
    if (e->src.count > ELOC_SLOTS || e->type.count != e->src.count)
        return file_corrupt(f, s->off);
    return LPG_OK;
}

/* ---- key sub-indexes -------------------------------------------------------------------------- */
int ksub_parse(lpg_file *f, ksub *k)
{
    memset(k, 0, sizeof(*k));
    k->f = f;
    if (f->kind != KIND_KEYS)
        return file_corrupt(f, 12);
    k->nsub_log = (uint32_t)(f->key2 >> 32);
    k->sub = (uint32_t)f->key2;
    if (k->nsub_log > 16 || k->sub >= (1u << k->nsub_log))
        return file_corrupt(f, 40);
    const fsec *sh = file_section(f, S_KHASH, 0, 0), *sn = file_section(f, S_KNODE, 0, 0),
               *so = file_section(f, S_KOFF, 0, 0), *sk = file_section(f, S_KHEAP, 0, 0),
               *sd = file_section(f, S_KDIR, 0, 0);
    if (!sh || !sn || !so || !sk || !sd)
        return file_corrupt(f, FILE_HDR);
    cur c = sec_cur(f, sh);
    int rc = cur_u64(&c, &k->count);
    if (rc)
        return rc;
    if (k->count > (c.end - c.off) / 8)
        return file_corrupt(f, sh->off);
    k->hash_off = c.off;
    c = sec_cur(f, sn);
    if ((rc = cur_pcol(&c, &k->node)))
        return rc;
    c = sec_cur(f, so);
    if ((rc = cur_pcol(&c, &k->koff)))
        return rc;
    if (k->node.count != k->count || k->koff.count != k->count + 1)
        return file_corrupt(f, sn->off);
    k->heap_off = sk->off;
    k->heap_len = sk->len;
    c = sec_cur(f, sd);
    uint64_t head;
    if ((rc = cur_u64(&c, &head)))
        return rc;
    k->dbits = (uint32_t)head;
    if (k->dbits > 24 || ((1ULL << k->dbits) + 1) > (c.end - c.off) / 4)
        return file_corrupt(f, sd->off);
    k->dir_off = c.off;
    return LPG_OK;
}

int ksub_lookup(const ksub *k, uint64_t h, const uint8_t *key, size_t klen,
                int (*cb)(void *ctx, uint64_t node), void *ctx)
{
    lpg_file *f = k->f;
    uint64_t rest = k->nsub_log ? h << k->nsub_log : h;
    uint64_t b = k->dbits ? rest >> (64 - k->dbits) : 0;
    int rc = file_touch(f, k->dir_off + 4 * b, 8);
    if (rc)
        return rc;
    uint64_t lo = rd32(f->data + k->dir_off + 4 * b), hi = rd32(f->data + k->dir_off + 4 * b + 4);
    if (lo > hi || hi > k->count)
        return file_corrupt(f, k->dir_off + 4 * b);
    for (uint64_t i = lo; i < hi; i++) {
        uint64_t off = k->hash_off + 8 * i;
        if ((rc = file_touch(f, off, 8)))
            return rc;
        uint64_t x = rd64(f->data + off);
        if (x < h)
            continue;
        if (x > h)
            break;
        uint64_t a, e, node;
        if ((rc = pcol_get(&k->koff, i, &a)) || (rc = pcol_get(&k->koff, i + 1, &e)))
            return rc;
        if (a > e || e > k->heap_len)
            return file_corrupt(f, k->koff.bits_off);
        if (e - a != klen)
            continue;
        if ((rc = file_touch(f, k->heap_off + a, klen)))
            return rc;
        if (klen && memcmp(f->data + k->heap_off + a, key, klen) != 0)
            continue;
        if ((rc = pcol_get(&k->node, i, &node)))
            return rc;
        if ((rc = cb(ctx, node)))
            return rc;
    }
    return LPG_OK;
}
