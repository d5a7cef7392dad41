/* `uatrun run`: run the checks, report them, record the run in the ledger. */
#include "cli/cli.h"
#include "cli/context.h"
#include "ledger/digest.h"
#include "util/fsutil.h"
#include "ledger/ledger.h"
#include "report/report.h"
#include "report/report_text.h"
#include "check/runner.h"
#include "check/sandbox.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef UATRUN_VERSION
#define UATRUN_VERSION "0.0.0"
#endif

struct progress {
  const struct uat_term *term;
  size_t started;
  size_t total;
};

static void progress_start(const struct uat_check *check, void *ctx) {
  struct progress *p = ctx;
  p->started++;
  uat_term_check_started(p->term, check->id, p->started - 1, p->total);
}

static void progress_done(const struct uat_check_result *r, size_t done, size_t total, void *ctx) {
  struct progress *p = ctx;
  (void)done;
  (void)total;
  uat_term_check_done(p->term, r);
}

/* A syntax error in any selected script is an input error: nothing runs. */
static int compile_selected(struct uat_context *ctx, struct uat_error *err) {
  const struct uat_playbook *pb = ctx->playbook;
  bool *selected = calloc(pb->nchecks, sizeof *selected);
  if (!selected)
    return uat_error_set(err, "out of memory");
  int rc = uat_runner_select(pb, ctx->opts->only, ctx->opts->nonly, selected, err) < 0 ? -1 : 0;
  for (size_t i = 0; rc == 0 && i < pb->nchecks; i++) {
    struct uat_check_env env = {.playbook = pb,
                                .check = &pb->checks[i],
                                .redactor = &ctx->redactor,
                                .base_url = ctx->base_url};
    if (selected[i])
      rc = uat_sandbox_compile(&env, err);
  }
  free(selected);
  return rc;
}

/* A dumb terminal cannot clear a line: the progress line's escape sequences would show raw. */
static bool term_is_dumb(void) {
  const char *term = getenv("TERM");
  return term && strcmp(term, "dumb") == 0;
}

static void term_from_options(const struct uat_cli_options *o, struct uat_term *t) {
  *t = (struct uat_term){0};
  t->out = o->out;
  t->color = o->color;
  t->progress = o->stdout_tty && !o->quiet && !term_is_dumb();
  t->quiet = o->quiet;
  t->verbose = o->verbose;
  /* The progress line must fit in one row of the terminal it is drawn on. */
  t->columns = t->progress && o->out == stdout ? uat_cli_terminal_columns() : 0;
}

static int write_reports(struct uat_context *ctx, const struct uat_run_result *run) {
  const struct uat_cli_options *o = ctx->opts;
  struct uat_error err;
  int rc = UAT_EXIT_OK;
  fflush(o->out); /* a report's error then follows the run's lines in a shared CI log */
  if (o->report_junit && uat_report_junit_write(run, o->report_junit, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    rc = UAT_EXIT_USAGE;
  }
  if (o->report_json && uat_report_json_write(run, NULL, o->report_json, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    rc = UAT_EXIT_USAGE;
  }
  return rc;
}

static int record_run(struct uat_context *ctx, struct uat_ledger *ledger,
                      const struct uat_run_result *run) {
  struct uat_error err;
  char head[UAT_HASH_HEX];
  int64_t seq;
  if (uat_ledger_record_run(ledger, run, UATRUN_VERSION, &seq, head, &err) != 0) {
    uat_cli_error(ctx->opts, "%s", err.text);
    return UAT_EXIT_LEDGER;
  }
  if (!ctx->opts->quiet)
    fprintf(ctx->opts->out, "recorded run #%lld in %s\n", (long long)seq, ctx->ledger_shown);
  /* Even with --quiet: the head is what a log elsewhere keeps to catch cut-off rows. */
  fprintf(ctx->opts->out, "ledger head: %s\n", head);
  return UAT_EXIT_OK;
}

/* The ledger keeps each check's error inside JSON, which must be UTF-8, and a script can
 * raise any bytes (a response body quoted in error()): repair them as the reports do, so
 * such a check is recorded as the error it is instead of failing the ledger write. */
static int repair_errors(struct uat_run_result *run) {
  for (size_t i = 0; i < run->nchecks; i++) {
    struct uat_check_result *c = &run->checks[i];
    if (!c->error)
      continue;
    char *clean = uat_report_text_clean(c->error, UAT_TEXT_UTF8);
    if (!clean)
      return -1;
    free(c->error);
    c->error = clean;
  }
  return 0;
}

static struct uat_run_result *run_checks(struct uat_context *ctx, const char *digest,
                                         struct uat_error *err) {
  const struct uat_cli_options *o = ctx->opts;
  struct uat_term term;
  term_from_options(o, &term);
  bool *selected = calloc(ctx->playbook->nchecks, sizeof *selected);
  if (!selected) {
    uat_error_set(err, "out of memory");
    return NULL;
  }
  long total = uat_runner_select(ctx->playbook, o->only, o->nonly, selected, err);
  for (size_t i = 0; total > 0 && i < ctx->playbook->nchecks; i++)
    if (selected[i] && strlen(ctx->playbook->checks[i].id) > term.id_width)
      term.id_width = strlen(ctx->playbook->checks[i].id);
  free(selected);
  if (total < 0)
    return NULL;
  struct uat_run_result header = {
      .playbook_name = ctx->playbook->name,
      .playbook_path = ctx->playbook->path,
      .release = ctx->release,
      .commit = ctx->commit,
      .base_url = ctx->base_url_shown,
      .digest = (char *)digest,
  };
  uat_term_begin(&term, &header, (size_t)total);
  struct progress p = {.term = &term, .total = (size_t)total};
  struct uat_runner_options ro = {
      .playbook = ctx->playbook,
      .redactor = &ctx->redactor,
      .base_url = ctx->base_url,
      .only = o->only,
      .nonly = o->nonly,
      .jobs = o->jobs,
      .verbose = o->verbose,
      .on_start = progress_start,
      .on_done = progress_done,
      .ctx = &p,
  };
  struct uat_run_result *run = uat_runner_run(&ro, err);
  if (!run)
    return NULL;
  run->release = strdup(ctx->release ? ctx->release : "unknown");
  run->commit = strdup(ctx->commit ? ctx->commit : "unknown");
  run->digest = strdup(digest);
  run->fingerprint = strdup(ctx->fingerprint);
  /* Reports print the base URL: only ever its redacted form. */
  free(run->base_url);
  run->base_url = strdup(ctx->base_url_shown);
  if (!run->release || !run->commit || !run->digest || !run->fingerprint || !run->base_url ||
      repair_errors(run) != 0) {
    uat_run_result_free(run);
    uat_error_set(err, "out of memory");
    return NULL;
  }
  uat_term_summary(&term, run);
  return run;
}

void uat_execute_run_stop(const struct uat_context *ctx, bool recorded, int rc) {
  fflush(ctx->opts->out); /* after the run's own lines, where both streams share a CI log */
  uat_cli_error(ctx->opts,
                "a check did not stop at its timeout (see above); %s and uatrun stops here "
                "with exit %d%s",
                !recorded ? "the run could not be recorded" : "the run is recorded", rc,
                strcmp(ctx->opts->command, "gate") == 0 ? ": the gate stays closed" : "");
  fflush(NULL);
  _exit(rc);
}

int uat_execute_run(struct uat_context *ctx, struct uat_run_result **out) {
  const struct uat_cli_options *o = ctx->opts;
  struct uat_error err;
  char digest[UAT_DIGEST_HEX];
  *out = NULL;
  if (uat_context_check_reports(ctx, o->report_junit, o->report_json, &err) != 0 ||
      compile_selected(ctx, &err) != 0 ||
      uat_playbook_digest(ctx->playbook, uat_sandbox_bundled_dir(NULL), digest, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  /* Open the ledger first: a run that cannot be recorded is not started. */
  struct uat_ledger *ledger;
  if (uat_ledger_open(ctx->ledger_path, UAT_LEDGER_WRITE, &ledger, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_LEDGER;
  }
  struct uat_run_result *run = run_checks(ctx, digest, &err);
  if (!run) {
    uat_ledger_close(ledger);
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  int rc = record_run(ctx, ledger, run);
  uat_ledger_close(ledger);
  int report_rc = write_reports(ctx, run);
  *out = run;
  if (rc == UAT_EXIT_OK)
    rc = report_rc != UAT_EXIT_OK     ? report_rc
         : uat_run_result_passed(run) ? UAT_EXIT_OK
                                      : UAT_EXIT_FAILED;
  return rc;
}

int uat_cmd_run(const struct uat_cli_options *opts) {
  struct uat_context ctx;
  struct uat_error err;
  if (uat_context_open(&ctx, opts, UAT_CTX_SECRETS, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  struct uat_run_result *run = NULL;
  int rc = uat_execute_run(&ctx, &run);
  if (run && run->abandoned)
    uat_execute_run_stop(&ctx, rc != UAT_EXIT_LEDGER, rc);
  uat_run_result_free(run);
  uat_context_close(&ctx);
  return rc;
}
