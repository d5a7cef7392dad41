/* The PostgreSQL backend's extras that ledger.c needs besides the backend table.
 * Internal to src/ledger. */
#ifndef UAT_LEDGER_PG_H
#define UAT_LEDGER_PG_H

/* The password a connection URL carries (parsed by libpq), the caller's; NULL when none. */
char *uat_ledger_pg_password(const char *url);

#endif
