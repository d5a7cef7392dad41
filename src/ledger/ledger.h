/* The ledger: an append-only SQLite file holding every run and every sign-off
 * decision, each row chained to the previous one by SHA-256 so edits, inserts
 * and deletions are detected. The only file that speaks SQL.
 * Every write is one IMMEDIATE transaction (concurrent writers queue on the
 * SQLite lock, so the chain never forks) and returns the new chain head.
 * Ownership: uat_ledger_open's result is the caller's (uat_ledger_close);
 * filled records are the caller's (see gate.h for their release functions). */
#ifndef UAT_LEDGER_H
#define UAT_LEDGER_H

#include "util/error.h"
#include "gate/gate.h"
#include "util/result.h"

#include <stdbool.h>
#include <stdint.h>

#define UAT_HASH_HEX 65 /* 64 hex digits + NUL */

struct uat_ledger;

enum uat_ledger_mode {
  UAT_LEDGER_READ,  /* the file must exist and be a uatrun ledger; never created or changed */
  UAT_LEDGER_WRITE, /* created (with its folder) when missing; migrated to the current schema */
};

/* Returns 0, or -1 with err naming the file and what to do (the CLI exits 4).
 * A file that is not SQLite, not a uatrun ledger, or of a newer schema is refused untouched. */
int uat_ledger_open(const char *path, enum uat_ledger_mode mode, struct uat_ledger **out,
                    struct uat_error *err);
void uat_ledger_close(struct uat_ledger *ledger);

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
