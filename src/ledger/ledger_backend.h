/* What a ledger backend implements (ledger_sqlite.c, ledger_pg.c): open, append chained
 * rows under a lock that serialises writers on the chain head, copy rows verbatim, and read
 * rows back by a few fixed queries. ledger.c picks the backend by the ledger's name
 * (postgresql:// or postgres:// URL, else a SQLite file) and does everything else.
 * Internal to src/ledger. Ownership: a backend handle is freed by its close. */
#ifndef UAT_LEDGER_BACKEND_H
#define UAT_LEDGER_BACKEND_H

#include "ledger/ledger_rows.h"
#include "ledger/ledger_types.h"

#include <jansson.h>
#include <stdint.h>

enum uat_ledger_query {
  UAT_LEDGER_Q_LATEST_RUN,   /* the newest run of playbook, release, commit (at most one row) */
  UAT_LEDGER_Q_RELEASE_RUNS, /* runs of playbook and release, newest first */
  UAT_LEDGER_Q_DECISIONS,    /* decisions of playbook, release, commit, oldest first */
  UAT_LEDGER_Q_HISTORY,      /* rows of playbook (release NULL: any), newest first, limit */
  UAT_LEDGER_Q_CHAIN,        /* every row, oldest first, from one snapshot */
};

struct uat_ledger_filter {
  const char *playbook;
  const char *release;
  const char *commit;
  int limit; /* 0: all */
};

/* Called for each row a query yields; non-zero stops the query and is returned. */
typedef int (*uat_ledger_row_fn)(const struct uat_ledger_row *row, void *ctx,
                                 struct uat_error *err);

struct uat_ledger_backend {
  const char *name; /* "SQLite", "PostgreSQL" */
  /* shown: the ledger's name for messages (a URL with its password redacted). */
  int (*open)(const char *where, const char *shown, enum uat_ledger_mode mode, void **out,
              struct uat_error *err);
  void (*close)(void *b);
  /* Chains fields[0..n) (complete, without seq) after the tail in one transaction. */
  int (*append)(void *b, json_t *const *fields, size_t n, int64_t *seqs, char head[UAT_HASH_HEX],
                struct uat_error *err);
  /* Inserts rows with their own seq and hashes, in one transaction (ledger copy). */
  int (*insert_verbatim)(void *b, const struct uat_ledger_row *rows, size_t n,
                         struct uat_error *err);
  int (*select)(void *b, enum uat_ledger_query q, const struct uat_ledger_filter *f,
                uat_ledger_row_fn fn, void *ctx, struct uat_error *err);
  /* The storage's own integrity check before the chain is walked (0: fine). */
  int (*check)(void *b, struct uat_error *err);
  /* The authenticated database user (*user the caller's), or *user NULL when the backend
   * has no notion of one (a file). */
  int (*identity)(void *b, char **user, struct uat_error *err);
};

extern const struct uat_ledger_backend uat_ledger_sqlite_backend;
extern const struct uat_ledger_backend uat_ledger_pg_backend;

#endif
