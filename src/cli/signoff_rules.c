/* The sign-off rules shared by `uatrun signoff` and the sign-off page, so a decision given
 * on the web is refused or recorded exactly as one given on a terminal. */
#include "cli/signoff_rules.h"

#include "ledger/sshsig.h"
#include "report/report_text.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMMIT_SHOWN 12

int uat_signoff_check_commit_form(const struct uat_context *ctx, struct uat_ledger *ledger,
                                  struct uat_error *err) {
  char *other = NULL;
  if (uat_ledger_run_commit_like(ledger, ctx->playbook->name, ctx->release, ctx->commit, &other,
                                 err) != 0)
    return UAT_EXIT_LEDGER;
  if (!other)
    return 0;
  uat_error_set(err,
                "the checks of release %s ran for commit %s, and you sign for '%s': the gate "
                "compares commits exactly, so this sign-off would not count; sign with "
                "--commit %s (or run the checks for '%s' first)",
                ctx->release, other, ctx->commit, other, ctx->commit);
  free(other);
  return UAT_EXIT_USAGE;
}

int uat_signoff_check_run(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                          char **note, struct uat_error *err) {
  const struct uat_run_record *run = &snap->run;
  *note = NULL;
  char *cmd = uat_gate_command_for(ctx, "run");
  if (!cmd) {
    uat_error_set(err, "out of memory");
    return UAT_EXIT_USAGE;
  }
  int rc = 0;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (!run->found) {
    uat_strbuf_addf(&sb,
                    "no automated run recorded yet for release %s commit %.*s; the gate will "
                    "need one: %s",
                    ctx->release, COMMIT_SHOWN, ctx->commit, cmd);
    *note = uat_strbuf_take(&sb);
  } else if (!run->passed) {
    char when[32];
    char *ids = uat_strbuf_join(run->failed_ids, run->nfailed_ids, ", ");
    uat_error_set(err,
                  "the latest run of release %s commit %.*s failed%s%s%s at %s; fix it and "
                  "run the checks again before signing: %s",
                  ctx->release, COMMIT_SHOWN, ctx->commit, ids && *ids ? " (checks: " : "",
                  ids ? ids : "", ids && *ids ? ")" : "",
                  uat_gate_format_time(run->time, when, sizeof when), cmd);
    free(ids);
    rc = UAT_EXIT_FAILED;
  } else if (!run->digest || strcmp(run->digest, snap->digest) != 0) {
    /* Only the playbook version: signoff takes no --base-url or --var, so a run against the
     * gate's own target would otherwise be called "an earlier version" here. */
    uat_strbuf_addf(&sb,
                    "the latest run used an earlier version of the playbook; the gate will "
                    "need a new one: %s",
                    cmd);
    *note = uat_strbuf_take(&sb);
  }
  uat_strbuf_release(&sb);
  free(cmd);
  return rc;
}

const struct uat_gate_item *uat_signoff_distinct_conflict(const struct uat_context *ctx,
                                                          const struct uat_gate_snapshot *snap,
                                                          const char *role, const char *signer) {
  if (!ctx->playbook->distinct_signers)
    return NULL;
  return uat_gate_other_role_signed_by(&snap->verdict, role, signer);
}

char *uat_signoff_explain_distinct(const struct uat_context *ctx, const char *signer,
                                   const struct uat_gate_item *other) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (uat_strbuf_addf(&sb,
                      "'%s' already signed for '%s' (%s) of release %s, and this playbook needs "
                      "a different person for each role (gate.distinct_signers)",
                      signer, other->item->role, other->item->id, ctx->release) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

int uat_signoff_check_note(const char *note, bool required, struct uat_error *err) {
  size_t len = note ? strlen(note) : 0;
  if (len > UAT_SIGNOFF_NOTE_MAX) {
    uat_error_set(err, "the note is %zu characters long; keep it under %d", len,
                  UAT_SIGNOFF_NOTE_MAX);
    return UAT_EXIT_USAGE;
  }
  if (note && !uat_report_text_is_line(note)) {
    uat_error_set(err, "the note must be one line of UTF-8 text without control characters");
    return UAT_EXIT_USAGE;
  }
  if (required && len == 0) {
    uat_error_set(err, "a rejection needs a reason, so the team knows what to fix");
    return UAT_EXIT_USAGE;
  }
  return 0;
}

/* The ledger record of choice c, its note redacted (*note holds it: the caller frees). */
static int make_decision(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                         const char *signer, const struct uat_signoff_choice *c,
                         struct uat_decision *d, char **note, struct uat_error *err) {
  bool has_note = c->note && *c->note;
  *note = has_note ? uat_redact(&ctx->redactor, c->note) : NULL;
  if (has_note && !*note)
    return uat_error_set(err, "cannot record the decision: out of memory");
  *d = (struct uat_decision){
      .time = (int64_t)time(NULL),
      .playbook = ctx->playbook->name,
      .digest = (char *)snap->digest,
      .release = ctx->release,
      .commit = ctx->commit,
      .role = c->item->role,
      .item = c->item->id,
      .signer = (char *)signer,
      .approve = c->approve,
      .note = *note,
      .run_seq = snap->run.found ? snap->run.seq : 0,
  };
  return 0;
}

int uat_signoff_record(const struct uat_context *ctx, struct uat_ledger *ledger,
                       const struct uat_gate_snapshot *snap, const char *signer,
                       const struct uat_signoff_choice *choices, size_t n, const char *sign_key,
                       char head[UAT_HASH_HEX], struct uat_error *err) {
  struct uat_decision *ds = calloc(n ? n : 1, sizeof *ds);
  char **notes = calloc(n ? n : 1, sizeof *notes);
  size_t nd = 0;
  int rc = ds && notes ? 0 : UAT_EXIT_LEDGER;
  if (rc)
    uat_error_set(err, "cannot record the decisions: out of memory");
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (make_decision(ctx, snap, signer, &choices[i], &ds[nd], &notes[nd], err) != 0)
      rc = UAT_EXIT_LEDGER;
    nd++;
  }
  for (size_t i = 0; rc == 0 && sign_key && i < nd; i++)
    if (uat_sshsig_sign_decision(sign_key, &ds[i], err) != 0)
      rc = UAT_EXIT_USAGE;
  if (rc == 0 && uat_ledger_record_decisions(ledger, ds, nd, head, err) != 0)
    rc = UAT_EXIT_LEDGER;
  for (size_t i = 0; notes && i < nd; i++) {
    free(notes[i]);
    free(ds[i].signature);
  }
  free(notes);
  free(ds);
  return rc;
}
