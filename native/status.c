/* status.c -- text for the LPG_E* status codes shared by every native file. */
#include "lpgdb.h"

const char *lpg_strerror(int code)
{
    switch (code) {
    case LPG_OK:        return "ok";
    case LPG_EINVAL:    return "invalid argument";
    case LPG_EBOUNDS:   return "id or length out of bounds";
    case LPG_ENOMEM:    return "out of memory";
    case LPG_ECORRUPT:  return "corrupt input (checksum or format mismatch)";
    case LPG_ETOOSMALL: return "output buffer too small";
    case LPG_ENOTFOUND: return "not found";
    case LPG_EEXIST:    return "already exists";
    default:            return "unknown status code";
    }
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

/* Give freed heap memory back to the operating system (glibc keeps it otherwise): called after
 * a checkpoint dropped a generation's overlay.  A no-op elsewhere. */
void lpg_release_memory(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
