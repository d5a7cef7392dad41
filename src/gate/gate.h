/* The gate's decision as a pure function: a recorded run + recorded decisions
 * + the playbook's policy + the current time → open / failed / waiting, item by
 * item, with the reason. No I/O here: the ledger supplies the records, the CLI
 * prints the verdict.
 * Ownership: decisions and run records are owned by whoever filled them
 * (ledger.c allocates, uat_decision_list_free / uat_run_record_clear release);
 * a verdict borrows from its input and owns only its items array. */
#ifndef UAT_GATE_H
#define UAT_GATE_H

#include "playbook/playbook.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sign-off decision as recorded in the ledger. */
struct uat_decision {
  int64_t seq;    /* ledger row number: later rows are later decisions */
  int64_t time;   /* unix seconds */
  char *playbook; /* playbook name */
  char *digest;   /* playbook digest the signer approved */
  char *release;
  char *commit;
  char *role;
  char *item;
  char *signer;
  bool approve; /* false: reject */
  char *note;
  int64_t run_seq; /* the run the signer saw (0: none) */
  char *signature; /* armored SSH signature of the canonical decision bytes (NULL: unsigned) */
};

struct uat_decision_list {
  struct uat_decision *items;
  size_t count;
};

/* One check of a recorded run, as the ledger keeps it (the sign-off page lists them). */
struct uat_run_check {
  char *id;
  char *outcome; /* "pass" "fail" "error" "skip" */
  int attempts;
  double duration_s;
  char *error; /* redacted when recorded; NULL when none */
};

/* The latest recorded run of a release and commit. */
struct uat_run_record {
  bool found;
  int64_t seq;
  int64_t time; /* when it finished, unix seconds */
  char *digest;
  char *release;
  char *commit;
  char *fingerprint; /* what was checked: base URL, headers, vars, with: (NULL: not recorded) */
  bool passed;
  size_t npassed, nfailed, nerrored;
  char **failed_ids; /* checks that did not pass */
  size_t nfailed_ids;
  struct uat_run_check *checks; /* every check of the run, in run order */
  size_t nchecks;
  /* target.build: what staging served before the checks ran (has_build false: no wait) */
  bool has_build;
  char *build_url;
  char *build_json; /* NULL: the whole body */
  char *build_expected;
  char *build_served;
  double build_waited_s;
  int build_polls;
};

void uat_decision_list_free(struct uat_decision_list *list);
void uat_run_record_clear(struct uat_run_record *run);

/* How far in the future (seconds) a decision may be dated and still count: clocks of
 * the signer's machine and the gate's differ a little; more means one of them is wrong. */
#define UAT_GATE_CLOCK_SKEW_S 300

/* How one sign-off item stands. Every state but APPROVED keeps the gate closed. */
enum uat_item_state {
  UAT_ITEM_APPROVED,
  UAT_ITEM_MISSING,      /* nobody decided for this release, commit and playbook */
  UAT_ITEM_REJECTED,     /* the latest decision, of any digest, rejects: the gate fails */
  UAT_ITEM_EXPIRED,      /* approved longer ago than signoff_max_age, or dated in the future */
  UAT_ITEM_STALE_DIGEST, /* approved, but for another version of the playbook */
  UAT_ITEM_SIGNER_NOT_ALLOWED, /* approved by someone not (or no longer) listed under the role */
  UAT_ITEM_SIGNER_REUSED,      /* distinct_signers: this person already satisfies another role */
};

enum uat_run_state {
  UAT_RUN_PASSED,
  UAT_RUN_FAILED,
  UAT_RUN_MISSING, /* no run recorded for this release and commit */
  UAT_RUN_STALE,   /* the run used another version of the playbook, target or vars */
  UAT_RUN_PARTIAL, /* the run left checks out (--only): the gate needs all of them */
};

enum uat_gate_state {
  UAT_GATE_OPEN,    /* exit 0 */
  UAT_GATE_FAILED,  /* exit 1: the checks did not pass, or a sign-off was rejected */
  UAT_GATE_WAITING, /* exit 3: checks passed, sign-offs missing or no longer valid */
};

struct uat_gate_item {
  const struct uat_signoff_item *item; /* borrowed from the playbook */
  enum uat_item_state state;
  const struct uat_decision *decision; /* the decision behind the state; NULL when none */
  char reason[300];                    /* plain words, no note text (notes may be long) */
};

struct uat_gate_input {
  const struct uat_playbook *playbook; /* items, roles and the gate policy */
  const char *digest;                  /* the playbook's digest now */
  const char *release;
  const char *commit;
  const char *fingerprint;              /* base URL, headers, vars, with: of this invocation */
  const struct uat_run_record *run;     /* the latest run of release+commit; NULL: none */
  const struct uat_decision *decisions; /* any order; other releases/commits are ignored */
  size_t ndecisions;
  int64_t now; /* unix seconds */
};

struct uat_gate_verdict {
  enum uat_gate_state state;
  enum uat_run_state run_state;
  char run_reason[300];
  struct uat_gate_item *items; /* one per playbook sign-off item, in playbook order; owned */
  size_t nitems;
  size_t napproved, nrejected, nwaiting; /* nwaiting: neither approved nor rejected */
};

/* Decides the gate. Returns 0, or -1 only when out of memory or the input lacks a
 * playbook, digest, release, commit or fingerprint (verdict then holds nothing to release). */
int uat_gate_evaluate(const struct uat_gate_input *in, struct uat_gate_verdict *out);
void uat_gate_verdict_release(struct uat_gate_verdict *v);
/* 0 open, 1 failed, 3 waiting: the contract's exit codes. */
int uat_gate_exit_code(const struct uat_gate_verdict *v);

/* Stable names for reports: "approved" "missing" "rejected" "expired" "stale_digest"
 * "signer_not_allowed" "signer_reused"; "passed" "failed" "missing" "stale"
 * "partial";
 * "open" "failed" "waiting". */
const char *uat_item_state_name(enum uat_item_state s);
const char *uat_run_state_name(enum uat_run_state s);
const char *uat_gate_state_name(enum uat_gate_state s);

/* "2026-11-22 14:03 UTC" into buf (at least 24 bytes). */
const char *uat_gate_format_time(int64_t t, char *buf, size_t size);

#endif
