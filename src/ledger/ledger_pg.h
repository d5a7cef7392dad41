/* The PostgreSQL backend's extras that ledger.c needs besides the backend table.
 * Internal to src/ledger. */
#ifndef UAT_LEDGER_PG_H
#define UAT_LEDGER_PG_H

#include "util/error.h"

/* The password a connection URL carries (parsed by libpq), the caller's; NULL when none. */
char *uat_ledger_pg_password(const char *url);
/* The URL as shown to people: its password replaced by ***. The caller's; NULL when memory
 * ran out. */
char *uat_ledger_pg_shown_name(const char *url);
/* `uatrun ledger init` on a postgresql:// URL (see ledger.h's uat_ledger_init). */
int uat_ledger_pg_init(const char *url, const char *ci_role, const char *signer_role,
                       struct uat_error *err);

#endif
