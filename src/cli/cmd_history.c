/* `uatrun history`: every recorded run and decision of the playbook, newest
 * first, one line each; --release narrows it to one release, --limit N. */
#include "cli/cli.h"
#include "cli/context.h"
#include "gate/gate.h"
#include "ledger/ledger.h"
#include "cli/cmd_gate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Column widths so the lines read as a table. */
struct widths {
  int release, commit, item;
};

#define COMMIT_SHOWN 12

static struct widths measure(const struct uat_history *h) {
  struct widths w = {7, 7, 4};
  for (size_t i = 0; i < h->count; i++) {
    const struct uat_history_entry *e = &h->entries[i];
    const char *release = e->is_run ? e->run.release : e->decision.release;
    const char *commit = e->is_run ? e->run.commit : e->decision.commit;
    size_t len = release ? strlen(release) : 0;
    if ((int)len > w.release)
      w.release = (int)len;
    len = commit ? strlen(commit) : 0;
    if (len > COMMIT_SHOWN)
      len = COMMIT_SHOWN;
    if ((int)len > w.commit)
      w.commit = (int)len;
    if (!e->is_run && e->decision.item && (int)strlen(e->decision.item) > w.item)
      w.item = (int)strlen(e->decision.item);
  }
  return w;
}

/* "passed (all 14 checks)", "failed (8 of 14 checks did not pass: a, b)", in the gate's
 * words: "failed 6/14" read as six failures when it meant six passes. */
static void print_run(FILE *out, const struct uat_run_record *r) {
  size_t total = r->npassed + r->nfailed + r->nerrored;
  const char *checks = total == 1 ? "check" : "checks";
  if (r->passed)
    fprintf(out, total == 1 ? "passed (%zu %s)" : "passed (all %zu %s)", total, checks);
  else
    fprintf(out, "failed (%zu of %zu %s did not pass", total - r->npassed, total, checks);
  for (size_t i = 0; !r->passed && i < r->nfailed_ids; i++)
    fprintf(out, "%s%s", i ? ", " : ": ", r->failed_ids[i]);
  if (!r->passed)
    fputc(')', out);
}

static int print_entry(const struct uat_cli_options *o, const struct uat_context *ctx,
                       const struct uat_history_entry *e, struct widths w) {
  char when[32];
  const struct uat_decision *d = &e->decision;
  const char *release = e->is_run ? e->run.release : d->release;
  const char *commit = e->is_run ? e->run.commit : d->commit;
  fprintf(o->out, "#%-5lld %s  %-7s  %-*s  %-*.*s  ", (long long)e->seq,
          uat_gate_format_time(e->time, when, sizeof when),
          e->is_run    ? "run"
          : d->approve ? "approve"
                       : "reject",
          w.release, release ? release : "?", w.commit, COMMIT_SHOWN, commit ? commit : "?");
  if (e->is_run) {
    print_run(o->out, &e->run);
  } else {
    fprintf(o->out, "%-*s  %s  by %s", w.item, d->item, d->role, d->signer);
    if (d->note && *d->note) {
      char *note = uat_gate_shown_note(ctx, d->note);
      if (!note)
        return -1;
      fprintf(o->out, "  \"%s\"", note);
      free(note);
    }
  }
  fputc('\n', o->out);
  return 0;
}

/* --quiet keeps what went wrong, as run keeps only failures: failed runs and rejections. */
static bool shown(const struct uat_cli_options *o, const struct uat_history_entry *e) {
  if (!o->quiet)
    return true;
  return e->is_run ? !e->run.passed : !e->decision.approve;
}

int uat_cmd_history(const struct uat_cli_options *opts) {
  struct uat_context ctx;
  struct uat_error err;
  if (uat_context_open(&ctx, opts, 0, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  /* Only an explicit --release filters: UATRUN_RELEASE in a CI job should not hide rows. */
  const char *release = opts->release;
  if (!uat_ledger_exists(ctx.ledger_path)) {
    if (!opts->quiet)
      fprintf(opts->out, "nothing recorded yet: no ledger at %s\n", ctx.ledger_shown);
    uat_context_close(&ctx);
    return UAT_EXIT_OK;
  }
  struct uat_ledger *ledger;
  struct uat_history h;
  if (uat_ledger_open(ctx.ledger_path, UAT_LEDGER_READ, &ledger, &err) != 0 ||
      uat_ledger_history(ledger, ctx.playbook->name, release, opts->limit, &h, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    uat_ledger_close(ledger);
    uat_context_close(&ctx);
    return UAT_EXIT_LEDGER;
  }
  /* The rows are shown either way (whoever investigates needs them), but a broken chain
   * is said, as gate and status say it: an edited row must not read as the record. */
  struct uat_error broken;
  bool intact = uat_ledger_verify(ledger, NULL, NULL, NULL, &broken) == 0;
  uat_ledger_close(ledger);
  int rc = UAT_EXIT_OK;
  if (h.count == 0 && !opts->quiet)
    fprintf(opts->out, "nothing recorded yet for '%s'%s%s\n", ctx.playbook->name,
            release ? " release " : "", release ? release : "");
  struct widths w = measure(&h);
  for (size_t i = 0; i < h.count && rc == UAT_EXIT_OK; i++)
    if (shown(opts, &h.entries[i]) && print_entry(opts, &ctx, &h.entries[i], w) != 0) {
      uat_cli_error(opts, "cannot print the history: out of memory");
      rc = UAT_EXIT_USAGE;
    }
  if (!intact) {
    uat_cli_error(opts, "%s", broken.text);
    uat_cli_error(opts, "the history above cannot be trusted: the ledger's hash chain is broken");
    if (rc == UAT_EXIT_OK)
      rc = UAT_EXIT_LEDGER;
  }
  uat_history_free(&h);
  uat_context_close(&ctx);
  return rc;
}
