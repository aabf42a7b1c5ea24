/*
 * lpgdb.h -- the C API of lpgdb's native core.
 *
 * The block between the cffi:begin and cffi:end markers is, verbatim, the cdef handed to cffi by
 * native/build_ffi.py: it is the single source of truth for the binding.  Keep it to plain
 * declarations and integer #defines that both a C compiler and cffi's parser accept.
 *
 * Conventions (STYLE.md §D):
 *   - every function that can fail returns an int status: LPG_OK (0) or a negative LPG_E* code;
 *     results go through out-parameters; lpg_strerror(code) gives the text;
 *   - every pointer/length pair and every id handed in is checked; nothing here aborts or prints;
 *   - long-lived structures come from lpg_<area>_new() and are released by lpg_<area>_free();
 *   - the GIL is released around these calls, so each structure does its own locking.
 */
#ifndef LPGDB_H
#define LPGDB_H

#include <stddef.h>
#include <stdint.h>

/* cffi:begin */
#define LPG_OK 0
#define LPG_EINVAL -1
#define LPG_EBOUNDS -2
#define LPG_ENOMEM -3
#define LPG_ECORRUPT -4
#define LPG_ETOOSMALL -5
#define LPG_ENOTFOUND -6
#define LPG_EEXIST -7

/* Text of a status code; never NULL, static storage. */
const char *lpg_strerror(int code);

/* CRC32C (Castagnoli), as in iSCSI/ext4/LevelDB.  crc32c("123456789") == 0xE3069283.
 * [in] crc: running value (0 to start); [in] buf/len: bytes (buf may be NULL iff len == 0).
 * Uses SSE4.2 when the CPU has it, else a slicing-by-8 table.  O(len).  Thread-safe. */
uint32_t lpg_crc32c(uint32_t crc, const uint8_t *buf, size_t len);
/* cffi:end */

#endif /* LPGDB_H */
