/* The rules every sign-off passes, whoever records it: `uatrun signoff` on a terminal or
 * with --item, and the sign-off page (`uatrun serve`). Each check returns 0 or the exit code
 * `signoff` ends with (err says why, in words for the person signing); nothing here prints.
 * Ownership: returned char * are the caller's; everything passed in is borrowed. */
#ifndef UAT_SIGNOFF_RULES_H
#define UAT_SIGNOFF_RULES_H

#include "cli/gate_snapshot.h"

#include <stdbool.h>

#define UAT_SIGNOFF_NOTE_MAX 2000

/* One decision a person asks to record. */
struct uat_signoff_choice {
  const struct uat_signoff_item *item;
  bool approve;
  const char *note; /* NULL or "" when none */
};

/* When no run is recorded: a commit given in another form than the checks ran for (short
 * SHA, other case) would never count at the gate. Returns 0, UAT_EXIT_USAGE (refused) or
 * UAT_EXIT_LEDGER. */
int uat_signoff_check_commit_form(const struct uat_context *ctx, struct uat_ledger *ledger,
                                  struct uat_error *err);

/* Signing is refused (UAT_EXIT_FAILED) while the latest run of this release and commit
 * failed. *note receives an advisory sentence (no run yet, a run of an earlier playbook) or
 * NULL. */
int uat_signoff_check_run(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                          char **note, struct uat_error *err);

/* gate.distinct_signers: the approved item of another role this signer already satisfies
 * (then they may not approve for role), else NULL. */
const struct uat_gate_item *uat_signoff_distinct_conflict(const struct uat_context *ctx,
                                                          const struct uat_gate_snapshot *snap,
                                                          const char *role, const char *signer);
/* "'myriam' already signed for 'product' (product-ok) of release v1, and this playbook needs
 * a different person for each role (gate.distinct_signers)". */
char *uat_signoff_explain_distinct(const struct uat_context *ctx, const char *signer,
                                   const struct uat_gate_item *other);

/* A note as the ledger takes it: one line of UTF-8 text without control characters, at most
 * UAT_SIGNOFF_NOTE_MAX bytes, not empty when required (a rejection). Returns 0 or
 * UAT_EXIT_USAGE. */
int uat_signoff_check_note(const char *note, bool required, struct uat_error *err);

/* Appends the decisions of choices[0..n) by signer in one transaction (all or none), each
 * note redacted, bound to the snapshot's digest and run; with sign_key each is signed first.
 * Returns 0, UAT_EXIT_USAGE (signing failed) or UAT_EXIT_LEDGER. */
int uat_signoff_record(const struct uat_context *ctx, struct uat_ledger *ledger,
                       const struct uat_gate_snapshot *snap, const char *signer,
                       const struct uat_signoff_choice *choices, size_t n, const char *sign_key,
                       char head[UAT_HASH_HEX], struct uat_error *err);

#endif
