/* What gate, status, signoff and the sign-off page say about one release: the snapshot the
 * gate decides from (the playbook's digest, the latest run, the decisions, the verdict,
 * signatures checked), and the words and commands shown to people about it (who may sign,
 * the signoff command, the one-line headline). Below cmd_gate.c and gate_view.c, which both
 * use it. */
#include "cli/gate_snapshot.h"

#include "check/sandbox.h"
#include "ledger/sshsig.h"
#include "report/report_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int uat_gate_digest(const struct uat_context *ctx, char out[UAT_DIGEST_HEX],
                    struct uat_error *err) {
  return uat_playbook_digest(ctx->playbook, uat_sandbox_bundled_dir(NULL), out, err);
}

/* gate.require_signatures: a decision whose signature is missing or not its signer's is
 * what someone with write access to the ledger could forge, so it stops the gate. */
int uat_gate_check_signatures(const struct uat_playbook *pb, const struct uat_decision_list *ds,
                              struct uat_error *err) {
  for (size_t i = 0; pb->require_signatures && i < ds->count; i++)
    if (uat_sshsig_verify_decision(pb->allowed_signers, &ds->items[i], err) != 0)
      return -1;
  return 0;
}

int uat_gate_snapshot_load(const struct uat_context *ctx, struct uat_ledger *ledger,
                           const char *digest, int64_t now, struct uat_gate_snapshot *s,
                           struct uat_error *err) {
  memset(s, 0, sizeof *s);
  snprintf(s->digest, sizeof s->digest, "%s", digest);
  const char *name = ctx->playbook->name;
  /* An edited, inserted or deleted row must not open the gate: check the chain first. */
  if (ledger &&
      (uat_ledger_verify(ledger, NULL, NULL, NULL, err) != 0 ||
       uat_ledger_latest_run(ledger, name, ctx->release, ctx->commit, &s->run, err) != 0 ||
       uat_ledger_decisions(ledger, name, ctx->release, ctx->commit, &s->decisions, err) != 0 ||
       uat_gate_check_signatures(ctx->playbook, &s->decisions, err) != 0)) {
    uat_gate_snapshot_release(s);
    return -1;
  }
  struct uat_gate_input in = {
      .playbook = ctx->playbook,
      .digest = s->digest,
      .release = ctx->release,
      .commit = ctx->commit,
      .fingerprint = ctx->fingerprint,
      .run = &s->run,
      .decisions = s->decisions.items,
      .ndecisions = s->decisions.count,
      .now = now,
  };
  if (uat_gate_evaluate(&in, &s->verdict) != 0) {
    uat_gate_snapshot_release(s);
    return uat_error_set(err, "cannot evaluate the gate: out of memory");
  }
  return 0;
}

void uat_gate_snapshot_release(struct uat_gate_snapshot *s) {
  uat_gate_verdict_release(&s->verdict);
  uat_decision_list_free(&s->decisions);
  uat_run_record_clear(&s->run);
}

/* Characters a POSIX shell leaves alone outside quotes. */
static bool shell_safe(const char *w) {
  if (!*w)
    return false;
  for (; *w; w++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:@%+=,-", *w))
      return false;
  return true;
}

int uat_gate_add_word(struct uat_strbuf *sb, const char *word) {
  if (shell_safe(word))
    return uat_strbuf_addf(sb, " %s", word);
  if (uat_strbuf_adds(sb, " '") != 0)
    return -1;
  for (const char *p = word; *p; p++)
    if ((*p == '\'' ? uat_strbuf_adds(sb, "'\\''") : uat_strbuf_add(sb, p, 1)) != 0)
      return -1;
  return uat_strbuf_adds(sb, "'");
}

/* " --option VALUE", the value redacted: a command is printed, and secrets never are. */
static int add_option(struct uat_strbuf *sb, const struct uat_context *ctx, const char *option,
                      const char *value) {
  char *shown = uat_redact(&ctx->redactor, value);
  int rc = shown ? uat_strbuf_adds(sb, option) : -1;
  rc = rc ? rc : uat_gate_add_word(sb, shown);
  free(shown);
  return rc;
}

char *uat_gate_command_for(const struct uat_context *ctx, const char *verb) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_addf(&sb, "uatrun %s", verb);
  rc = rc ? rc : uat_gate_add_word(&sb, ctx->opts->playbook);
  rc = rc ? rc : uat_strbuf_adds(&sb, " --release");
  rc = rc ? rc : uat_gate_add_word(&sb, ctx->release);
  rc = rc ? rc : uat_strbuf_adds(&sb, " --commit");
  rc = rc ? rc : uat_gate_add_word(&sb, ctx->commit);
  /* A run stands for the gate only with the same target and vars: repeat them. */
  if (strcmp(verb, "signoff") != 0) {
    if (rc == 0 && ctx->opts->base_url)
      rc = add_option(&sb, ctx, " --base-url", ctx->opts->base_url);
    for (size_t i = 0; rc == 0 && i < ctx->opts->nvars; i++)
      rc = add_option(&sb, ctx, " --var", ctx->opts->vars[i]);
  }
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

const struct uat_gate_item *uat_gate_other_role_signed_by(const struct uat_gate_verdict *v,
                                                          const char *role, const char *person) {
  for (size_t i = 0; i < v->nitems; i++) {
    const struct uat_gate_item *gi = &v->items[i];
    if (gi->state == UAT_ITEM_APPROVED && strcmp(gi->item->role, role) != 0 &&
        strcmp(gi->decision->signer, person) == 0)
      return gi;
  }
  return NULL;
}

char *uat_gate_who_may_sign(const struct uat_context *ctx, const struct uat_gate_verdict *verdict,
                            const char *role_name) {
  const struct uat_playbook *pb = ctx->playbook;
  const struct uat_role *role = uat_playbook_find_role(pb, role_name);
  struct uat_strbuf may, ruled_out;
  uat_strbuf_init(&may, 0);
  uat_strbuf_init(&ruled_out, 0);
  int rc = 0;
  if (!role || role->nmembers == 0)
    rc = uat_strbuf_addf(&may, "nobody yet: list people under roles.%s in the playbook", role_name);
  for (size_t i = 0; role && i < role->nmembers && rc == 0; i++) {
    const char *person = role->members[i];
    const struct uat_gate_item *other =
        pb->distinct_signers ? uat_gate_other_role_signed_by(verdict, role_name, person) : NULL;
    if (other)
      rc = uat_strbuf_addf(&ruled_out, "%s%s, who signed for %s", ruled_out.len ? "; " : "", person,
                           other->item->role);
    else
      rc = uat_strbuf_addf(&may, "%s%s", may.len ? ", " : "", person);
  }
  if (rc == 0 && may.len == 0)
    rc = uat_strbuf_adds(&may, "nobody left");
  if (rc == 0 && ruled_out.len)
    rc = uat_strbuf_addf(&may, " (not %s; each role needs a different person)", ruled_out.buf);
  uat_strbuf_release(&ruled_out);
  if (rc != 0) {
    uat_strbuf_release(&may);
    return NULL;
  }
  return uat_strbuf_take(&may);
}

char *uat_gate_shown_note(const struct uat_context *ctx, const char *note) {
  char *redacted = uat_redact(&ctx->redactor, note ? note : "");
  char *clean = uat_report_text_clean(redacted, UAT_TEXT_TERMINAL);
  free(redacted);
  return clean;
}

static const struct uat_gate_item *first_rejection(const struct uat_gate_verdict *verdict) {
  for (size_t i = 0; i < verdict->nitems; i++)
    if (verdict->items[i].state == UAT_ITEM_REJECTED)
      return &verdict->items[i];
  return NULL;
}

/* The recorded run used this playbook: a stale run then checked another target or vars. */
bool uat_gate_playbook_unchanged(const struct uat_gate_snapshot *snap) {
  const char *digest = snap->run.digest;
  return digest && strcmp(digest, snap->digest) == 0;
}

/* The one line that says what the gate decided and the main reason why. */
char *uat_gate_headline(const struct uat_context *ctx, const struct uat_gate_snapshot *snap) {
  const struct uat_gate_verdict *verdict = &snap->verdict;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = 0;
  if (verdict->state == UAT_GATE_OPEN) {
    rc = uat_strbuf_addf(&sb, "GATE OPEN — release %s (commit %.12s) may be deployed", ctx->release,
                         ctx->commit);
  } else if (verdict->run_state != UAT_RUN_PASSED) {
    static const char *const why[] = {
        [UAT_RUN_FAILED] = "checks failed",
        [UAT_RUN_MISSING] = "the checks have not run for this release and commit",
        [UAT_RUN_STALE] = "the playbook changed since the checks last ran: run them again",
        [UAT_RUN_PARTIAL] = "not every check ran",
    };
    const char *reason = why[verdict->run_state];
    if (verdict->run_state == UAT_RUN_STALE && uat_gate_playbook_unchanged(snap))
      reason = "the checks last ran against another target or with other values (--var, ${VAR}): "
               "run them again";
    rc = uat_strbuf_addf(&sb, "GATE CLOSED — %s", reason);
  } else if (verdict->nrejected) {
    const struct uat_gate_item *r = first_rejection(verdict);
    char *note = uat_gate_shown_note(ctx, r->decision->note);
    rc = !note ? -1
               : uat_strbuf_addf(&sb, "GATE CLOSED — rejected by %s (%s)%s%s", r->decision->signer,
                                 r->item->role, *note ? ": " : "", note);
    if (rc == 0 && verdict->nrejected > 1)
      rc = uat_strbuf_addf(&sb, " (and %zu more rejection%s)", verdict->nrejected - 1,
                           verdict->nrejected > 2 ? "s" : "");
    free(note);
  } else {
    size_t n = verdict->nwaiting;
    rc = uat_strbuf_addf(&sb, "GATE CLOSED — waiting for %zu sign-off%s", n, n == 1 ? "" : "s");
  }
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}


char *uat_gate_signoff_command(const struct uat_context *ctx, const char *role, const char *item) {
  char *base = uat_gate_command_for(ctx, "signoff");
  if (!base)
    return NULL;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_adds(&sb, base);
  rc = rc ? rc : uat_strbuf_adds(&sb, " --role");
  rc = rc ? rc : uat_gate_add_word(&sb, role);
  if (item) {
    rc = rc ? rc : uat_strbuf_adds(&sb, " --item");
    rc = rc ? rc : uat_gate_add_word(&sb, item);
    /* On a PostgreSQL ledger the signer is whoever connects: there is no name to give. */
    bool team = uat_ledger_is_url(ctx->ledger_path);
    rc = rc ? rc : uat_strbuf_adds(&sb, team ? " --approve" : " --approve --by NAME");
  }
  free(base);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

