/* The ledger: an append-only store of every run and every sign-off decision, each row
 * chained to the previous one by SHA-256 so edits, inserts and deletions are detected.
 * Two backends behind this one interface: a SQLite file (the default, one machine) and a
 * PostgreSQL database (a postgresql:// URL, the team ledger). src/ledger is the only layer
 * that speaks SQL. Every write is one transaction that holds the chain head's lock
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock), so the chain never forks,
 * and returns the new chain head.
 * Ownership: uat_ledger_open's result is the caller's (uat_ledger_close);
 * filled records are the caller's (see gate.h for their release functions). */
#ifndef UAT_LEDGER_H
#define UAT_LEDGER_H

#include "ledger/ledger_types.h"
#include "util/error.h"
#include "gate/gate.h"
#include "util/result.h"

#include <stdbool.h>
#include <stdint.h>

struct uat_ledger;

/* path: a SQLite file, or a postgresql:// (postgres://) URL; libpq's PG* variables and
 * ~/.pgpass fill in what the URL leaves out. Returns 0, or -1 with err naming the ledger
 * (password redacted) and what to do (the CLI exits 4). A file that is not SQLite, not a
 * uatrun ledger, or of a newer schema is refused untouched; a database without the schema
 * is refused with the `uatrun ledger init` command to run. */
int uat_ledger_open(const char *path, enum uat_ledger_mode mode, struct uat_ledger **out,
                    struct uat_error *err);
void uat_ledger_close(struct uat_ledger *ledger);

/* False only for a file that does not exist (a URL may always exist). */
bool uat_ledger_exists(const char *where);
/* The ledger's name as shown to people: a URL with its password replaced by ***. The
 * caller's; NULL when memory ran out. */
char *uat_ledger_shown_name(const char *where);
/* The password a URL carries (the caller's: to add to a redactor), else NULL. */
char *uat_ledger_url_password(const char *where);
/* A postgresql:// URL that connects as user (the sign-off page signs each decision through
 * the signer's own database user, as `uatrun signoff` does); the caller's, NULL when out of
 * memory. The password comes from PGPASSFILE / ~/.pgpass (or another libpq method). */
char *uat_ledger_url_as(const char *url, const char *user);
/* The shown name of an open ledger (borrowed). */
const char *uat_ledger_name(const struct uat_ledger *ledger);
/* Who the ledger knows the writer to be: PostgreSQL's session_user (*user, the caller's);
 * *user NULL for a file, which has no users. */
int uat_ledger_identity(struct uat_ledger *ledger, char **user, struct uat_error *err);

/* PostgreSQL: creates (or migrates) the schema, and the group roles ci_role (may insert runs)
 * and signer_role (may insert decisions signed as themselves); both may read. Nobody may
 * UPDATE, DELETE or TRUNCATE (grants, and triggers that refuse it even for the owner).
 * Needs a user that may create roles. Safe to run again. */
int uat_ledger_init(const char *url, const char *ci_role, const char *signer_role,
                    struct uat_error *err);

/* Copies every row of from (verified first) into to, which must be empty, with the same
 * numbers and hashes, in one transaction; then verifies to against from's head. */
int uat_ledger_copy(struct uat_ledger *from, struct uat_ledger *to, int64_t *rows,
                    char head[UAT_HASH_HEX], struct uat_error *err);

/* Appends a run (its per-check outcomes, times, digest, uatrun version). head receives the
 * new chain head; *seq the row number. */
int uat_ledger_record_run(struct uat_ledger *ledger, const struct uat_run_result *run,
                          const char *uatrun_version, int64_t *seq, char head[UAT_HASH_HEX],
                          struct uat_error *err);

/* Appends a decision (d->seq is ignored and set on return). */
int uat_ledger_record_decision(struct uat_ledger *ledger, struct uat_decision *d,
                               char head[UAT_HASH_HEX], struct uat_error *err);
/* Appends ds[0..n) in one transaction: every decision is recorded, or none is. */
int uat_ledger_record_decisions(struct uat_ledger *ledger, struct uat_decision *ds, size_t n,
                                char head[UAT_HASH_HEX], struct uat_error *err);

/* The latest run of this playbook name, release and commit (out->found false when none). */
int uat_ledger_latest_run(struct uat_ledger *ledger, const char *playbook, const char *release,
                          const char *commit, struct uat_run_record *out, struct uat_error *err);

/* When commit looks like a git SHA: the commit of the latest run of this playbook and
 * release that names the same commit in another form (shorter, longer, other case), in *out
 * (the caller's), else NULL. A sign-off given in one form does not count for the other. */
int uat_ledger_run_commit_like(struct uat_ledger *ledger, const char *playbook, const char *release,
                               const char *commit, char **out, struct uat_error *err);

/* Every decision for this playbook name, release and commit, oldest first. */
int uat_ledger_decisions(struct uat_ledger *ledger, const char *playbook, const char *release,
                         const char *commit, struct uat_decision_list *out, struct uat_error *err);

/* Every decision of this playbook name, any release, newest first (signature checks). */
int uat_ledger_all_decisions(struct uat_ledger *ledger, const char *playbook,
                             struct uat_decision_list *out, struct uat_error *err);

/* One row of `history`: a run or a decision. */
struct uat_history_entry {
  int64_t seq;
  int64_t time;
  bool is_run;
  struct uat_run_record run;    /* when is_run */
  struct uat_decision decision; /* when !is_run */
};
struct uat_history {
  struct uat_history_entry *entries; /* newest first */
  size_t count;
};
/* release NULL: every release. limit 0: all rows. */
int uat_ledger_history(struct uat_ledger *ledger, const char *playbook, const char *release,
                       int limit, struct uat_history *out, struct uat_error *err);
void uat_history_free(struct uat_history *h);

/* 0 when head can name a row (64 hex digits, not the genesis value); else -1 with err set
 * (a bad option: the CLI exits 2 before opening the ledger). */
int uat_ledger_check_head(const char *head, struct uat_error *err);

/* Re-checks the whole chain. Returns 0 when intact (and, if expected_head is not NULL,
 * when it is in the chain — the newest rows after it were not cut off); otherwise -1 with
 * err naming the first bad row and what is wrong. rows/head describe what was checked. */
int uat_ledger_verify(struct uat_ledger *ledger, const char *expected_head, int64_t *rows,
                      char head[UAT_HASH_HEX], struct uat_error *err);

#endif
