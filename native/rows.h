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

#endif /* LPGDB_ROWS_H */
