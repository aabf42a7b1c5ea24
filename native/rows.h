/*
 * rows.h -- internal: lpg_rows, many msgpack property maps in one blob with offsets (row i is
 * blob[offs[i] .. offs[i+1]), empty for no properties).  Made by ingest.c (packing typed
 * columns, index keys) and scan.c (many nodes or edges read from the store); handed to Python
 * through lpg_rows_get and freed by lpg_rows_free.
 */
#ifndef LPGDB_ROWS_H
#define LPGDB_ROWS_H

#include "fmt.h"

struct lpg_rows {
    buf blob;
    uint64_t *offs;     /* n + 1 */
    size_t n;
};

/* lpg_rows_key of rows whose offsets the caller checked (offsets_ok): each masked map is read
 * within its row's bounds up to the key; with `whole`, every row is checked to be empty or
 * exactly one map as lpg_rows_check (in the same pass), else only what is read.  LPG_ECORRUPT
 * for a malformed map met on the way.  O(bytes read). */
int rows_key(const uint8_t *blob, const uint64_t *offs, size_t n, const uint32_t *lset, const uint8_t *mask,
             size_t nmask, const uint8_t *name, size_t nlen, int whole, uint8_t *flags, lpg_rows **out);

#endif /* LPGDB_ROWS_H */
