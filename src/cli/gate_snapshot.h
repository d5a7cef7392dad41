/* What `gate`, `status`, `signoff` and the sign-off page share: the picture the gate
 * decides from (digest, latest run, decisions, verdict), loaded from the ledger, and the
 * command lines and words they show people.
 * Ownership: a snapshot owns its run record, decisions and verdict
 * (uat_gate_snapshot_release); returned char * are the caller's. */
#ifndef UAT_GATE_SNAPSHOT_H
#define UAT_GATE_SNAPSHOT_H

#include "cli/context.h"
#include "gate/gate.h"
#include "ledger/digest.h"
#include "ledger/ledger.h"
#include "util/strbuf.h"

#include <stdbool.h>
#include <stdint.h>

struct uat_gate_snapshot {
  char digest[UAT_DIGEST_HEX];
  struct uat_run_record run;
  struct uat_decision_list decisions;
  struct uat_gate_verdict verdict;
};

/* Verifies the ledger's hash chain, reads the latest run and the decisions of ctx's release
 * and commit (ledger NULL: nothing recorded yet) and evaluates the gate at time now.
 * Returns 0, or -1 with err set (exit 4), a broken chain included. */
/* gate.require_signatures: 0 when every decision in ds carries a valid signature by its
 * signer (gate.allowed_signers); else -1 with err naming the first that does not. */
int uat_gate_check_signatures(const struct uat_playbook *pb, const struct uat_decision_list *ds,
                              struct uat_error *err);
int uat_gate_snapshot_load(const struct uat_context *ctx, struct uat_ledger *ledger,
                           const char *digest, int64_t now, struct uat_gate_snapshot *s,
                           struct uat_error *err);
void uat_gate_snapshot_release(struct uat_gate_snapshot *s);

/* The playbook's digest as runs record it. Returns 0, or -1 with err set (exit 2). */
int uat_gate_digest(const struct uat_context *ctx, char out[UAT_DIGEST_HEX], struct uat_error *err);

/* The approved item of another role that person already satisfies (what distinct_signers
 * forbids), or NULL. */
const struct uat_gate_item *uat_gate_other_role_signed_by(const struct uat_gate_verdict *v,
                                                          const char *role, const char *person);

/* Who may still sign for role: "nesserine, myriam", leaving out (and naming) people
 * distinct_signers rules out. NULL (out of memory) or the caller's. */
char *uat_gate_who_may_sign(const struct uat_context *ctx, const struct uat_gate_verdict *verdict,
                            const char *role);
/* The signoff command for a role: interactive (item NULL), or the non-interactive form for one
 * item, as chat bots and scripts use it. NULL (out of memory) or the caller's. */
char *uat_gate_signoff_command(const struct uat_context *ctx, const char *role, const char *item);

/* Appends " WORD", single-quoted when the shell would split or expand it. */
int uat_gate_add_word(struct uat_strbuf *sb, const char *word);
/* "uatrun VERB PLAYBOOK --release R --commit C" for ctx, quoted for a shell, followed (but for
 * signoff) by this invocation's --base-url and --var, redacted; caller frees. */
char *uat_gate_command_for(const struct uat_context *ctx, const char *verb);

/* A recorded note as a terminal may show it: redacted, and a control character recorded by
 * an older uatrun (whose prompt let one through) escaped, so it cannot rewrite the lines
 * around it. NULL (out of memory) or the caller's. */
char *uat_gate_shown_note(const struct uat_context *ctx, const char *note);

/* The gate's one-line verdict ("GATE CLOSED — waiting for 2 sign-offs"); caller frees. */
char *uat_gate_headline(const struct uat_context *ctx, const struct uat_gate_snapshot *snap);

/* The recorded run used this playbook (its digest matches): a stale run then checked another
 * target or vars. */
bool uat_gate_playbook_unchanged(const struct uat_gate_snapshot *snap);

#endif
