/* The few names every part of src/ledger shares, the interface (ledger.h) and the backends
 * alike, kept apart so that a backend needs nothing from ledger.c. */
#ifndef UAT_LEDGER_TYPES_H
#define UAT_LEDGER_TYPES_H

#include <stdbool.h>
#include <strings.h>

#define UAT_HASH_HEX 65 /* 64 hex digits + NUL */

enum uat_ledger_mode {
  UAT_LEDGER_READ,  /* the file must exist and be a uatrun ledger; never created or changed */
  UAT_LEDGER_WRITE, /* created (with its folder) when missing; migrated to the current schema */
};

/* True for a postgresql:// or postgres:// URL. */
static inline bool uat_ledger_is_url(const char *where) {
  return where && (strncasecmp(where, "postgresql://", 13) == 0 ||
                   strncasecmp(where, "postgres://", 11) == 0);
}

#endif
