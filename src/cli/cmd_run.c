/* `uatrun run`: run the checks, report them, record the run in the ledger. */
#include "cli/cli.h"
#include "cli/context.h"
#include "ledger/digest.h"
#include "util/fsutil.h"
#include "ledger/ledger.h"
#include "report/report.h"
#include "report/report_text.h"
#include "check/build_wait.h"
#include "check/runner.h"
#include "check/browser_proc.h"
#include "check/sandbox.h"

#include "util/duration.h"

#include <errno.h>
#include <sys/stat.h>
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
    /* a browser check without Chromium: say so before anything runs, not check by check */
    if (rc == 0 && selected[i] && uat_sandbox_uses_browser(&env))
      rc = uat_browser_check_installed(err);
  }
  free(selected);
  return rc;
}

/* --artifacts DIR: made when missing (one level, like a report's file), refused when it is
 * not a writable folder, before anything runs. */
static int prepare_artifacts(const char *dir, struct uat_error *err) {
  if (!dir)
    return 0;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return uat_error_set(err, "--artifacts '%s': cannot make the folder: %s", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0)
    return uat_error_set(err, "--artifacts '%s' is not a folder uatrun can write to", dir);
  return 0;
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
  if (o->report_html && uat_report_html_write(run, NULL, o->report_html, &err) != 0) {
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

/* ---- target.build ---- */

/* In target.build.expect, ${UATRUN_RELEASE} and ${UATRUN_COMMIT} are the release and commit
 * under test however they were given (--release, UATRUN_*, CI variables). */
static const char *identity_env(const char *name, void *data) {
  const struct uat_context *ctx = data;
  if (strcmp(name, "UATRUN_RELEASE") == 0)
    return ctx->release;
  if (strcmp(name, "UATRUN_COMMIT") == 0)
    return ctx->commit;
  return getenv(name);
}

/* What staging must serve: expect: expanded now, else the release under test. NULL with
 * err set (an input error: exit 2, nothing run) when it cannot be known. */
static char *build_expectation(const struct uat_context *ctx, struct uat_error *err) {
  const struct uat_playbook *pb = ctx->playbook;
  const struct uat_build_target *b = &pb->build;
  if (!b->expect_raw) {
    if (ctx->release)
      return strdup(ctx->release);
    uat_error_set(err,
                  "%s:%d:%d: target.build waits for the release under test, which is unknown; "
                  "pass --release VERSION (or set UATRUN_RELEASE), or write expect: under "
                  "target.build",
                  pb->path, b->line, b->col);
    return NULL;
  }
  bool names_identity =
      strstr(b->expect_raw, "UATRUN_RELEASE") || strstr(b->expect_raw, "UATRUN_COMMIT");
  char *v = uat_playbook_build_expect(pb, identity_env, (void *)ctx, err);
  if (!v && names_identity && (!ctx->release || !ctx->commit) && strstr(err->text, "not set"))
    uat_error_set(err,
                  "%s:%d:%d: target.build.expect names the release or commit under test, which "
                  "is unknown; pass --release VERSION --commit SHA (or set UATRUN_RELEASE and "
                  "UATRUN_COMMIT)",
                  pb->path, b->expect_line, b->expect_col);
  return v;
}

struct build_view {
  const struct uat_term *term;
};

static void build_changed(const struct uat_build_poll *p, void *data) {
  const struct build_view *v = data;
  if (!p->matched) /* the served line says it: no line for the poll that ends the wait */
    uat_term_build_poll(v->term, p->what, p->elapsed_s);
}

/* "staging did not serve ..." for the user: where it looked, what it found last, what to do. */
static void build_failure(const struct uat_context *ctx, const char *url_shown, const char *expect,
                          const struct uat_build_poll *last, struct uat_error *err) {
  const struct uat_build_target *b = &ctx->playbook->build;
  char took[32], within[48];
  char *expect_shown = uat_redact(&ctx->redactor, expect);
  if (b->wait_s > 0)
    snprintf(within, sizeof within, "within %s", uat_duration_format(b->wait_s, took, sizeof took));
  else
    snprintf(within, sizeof within, "at its only poll (target.build has no wait:)");
  /* An unreachable URL's cause carries its own advice. */
  const char *advice = last->state == UAT_BUILD_SERVED
                           ? "; deploy it there (or check --release), or give the deploy longer "
                             "with target.build.wait"
                       : last->state == UAT_BUILD_UNREACHABLE
                           ? ""
                           : "; check target.build's url: and json:, or give the deploy longer "
                             "with target.build.wait";
  uat_error_set(err, "staging did not serve \"%s\" %s (%d poll%s of %s%s%s): it %s%s%s",
                expect_shown ? expect_shown : "the release", within, last->polls,
                last->polls == 1 ? "" : "s", url_shown, b->json ? ", field " : "",
                b->json ? b->json : "", last->what ? last->what : "gave no answer", advice,
                strcmp(ctx->opts->command, "gate") == 0 ? "; the gate stays closed" : "");
  free(expect_shown);
}

/* The pb's target.headers as the HTTP layer takes them (borrowed strings). */
static struct uat_http_header_field *build_headers(const struct uat_playbook *pb) {
  struct uat_http_header_field *h = calloc(pb->nheaders ? pb->nheaders : 1, sizeof *h);
  for (size_t i = 0; h && i < pb->nheaders; i++)
    h[i] =
        (struct uat_http_header_field){.name = pb->headers[i].name, .value = pb->headers[i].value};
  return h;
}

static struct uat_build_record *build_record(const struct uat_context *ctx, const char *url_shown,
                                             const char *expect,
                                             const struct uat_build_poll *last) {
  struct uat_build_record *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  const char *json = ctx->playbook->build.json;
  r->url = strdup(url_shown);
  r->json = json ? strdup(json) : NULL;
  r->expected = uat_redact(&ctx->redactor, expect);
  r->served = strdup(last->served ? last->served : "");
  r->waited_s = last->elapsed_s;
  r->polls = last->polls;
  if (!r->url || (json && !r->json) || !r->expected || !r->served) {
    uat_build_record_free(r);
    return NULL;
  }
  return r;
}

/* Polls target.build until staging serves expect. Returns 0 with *out set (the caller's),
 * 1 with err saying what staging served when the wait ran out, 2 with err on anything else. */
static int wait_for_build(const struct uat_context *ctx, const struct uat_term *term,
                          const char *expect, struct uat_build_record **out,
                          struct uat_error *err) {
  const struct uat_playbook *pb = ctx->playbook;
  *out = NULL;
  char *url_shown = uat_redact(&ctx->redactor, ctx->build_url);
  char *expect_shown = uat_redact(&ctx->redactor, expect);
  struct uat_http_header_field *headers = build_headers(pb);
  if (!url_shown || !expect_shown || !headers) {
    free(url_shown);
    free(expect_shown);
    free(headers);
    uat_error_set(err, "out of memory");
    return 2;
  }
  uat_term_build_begin(term, url_shown, pb->build.json, expect_shown, pb->build.wait_s,
                       pb->build.interval_s);
  struct build_view view = {.term = term};
  struct uat_build_wait w = {.url = ctx->build_url,
                             .json = pb->build.json,
                             .expect = expect,
                             .wait_s = pb->build.wait_s,
                             .interval_s = pb->build.interval_s,
                             .timeout_s = pb->timeout_s,
                             .headers = headers,
                             .nheaders = pb->nheaders,
                             .redactor = &ctx->redactor,
                             .on_change = build_changed,
                             .ctx = &view};
  struct uat_build_poll last;
  int served = uat_build_wait_run(&w, &last, err);
  int rc = served < 0 ? 2 : served == 0 ? 1 : 0;
  if (served == 0)
    build_failure(ctx, url_shown, expect, &last, err);
  if (served == 1) {
    uat_term_build_served(term, expect_shown, last.elapsed_s, last.polls);
    if (!(*out = build_record(ctx, url_shown, expect, &last))) {
      uat_error_set(err, "out of memory");
      rc = 2;
    }
  }
  if (served >= 0)
    uat_build_poll_clear(&last);
  free(url_shown);
  free(expect_shown);
  free(headers);
  return rc;
}

/* ---- the run ---- */

/* Runs the checks (after target.build, when the playbook has one). NULL with err set and
 * *rc the exit code when nothing ran: 1 staging never served the release, 2 otherwise. */
static struct uat_run_result *run_checks(struct uat_context *ctx, const char *digest,
                                         const char *expect, int *rc, struct uat_error *err) {
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
  struct uat_build_record *build = NULL;
  if (ctx->playbook->build.enabled && (*rc = wait_for_build(ctx, &term, expect, &build, err)) != 0)
    return NULL;
  *rc = UAT_EXIT_USAGE;
  struct progress p = {.term = &term, .total = (size_t)total};
  struct uat_runner_options ro = {
      .playbook = ctx->playbook,
      .redactor = &ctx->redactor,
      .base_url = ctx->base_url,
      .only = o->only,
      .nonly = o->nonly,
      .jobs = o->jobs,
      .browsers = o->browsers,
      .verbose = o->verbose,
      .artifacts_dir = o->artifacts,
      .on_start = progress_start,
      .on_done = progress_done,
      .ctx = &p,
  };
  struct uat_run_result *run = uat_runner_run(&ro, err);
  if (!run) {
    uat_build_record_free(build);
    return NULL;
  }
  run->build = build;
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
  if (uat_context_check_all_reports(ctx, o, &err) != 0 ||
      prepare_artifacts(o->artifacts, &err) != 0 || compile_selected(ctx, &err) != 0 ||
      uat_playbook_digest(ctx->playbook, uat_sandbox_bundled_dir(NULL), digest, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  char *expect = NULL;
  if (ctx->playbook->build.enabled && !(expect = build_expectation(ctx, &err))) {
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  /* Open the ledger first: a run that cannot be recorded is not started (nor waited for). */
  struct uat_ledger *ledger;
  if (uat_ledger_open(ctx->ledger_path, UAT_LEDGER_WRITE, &ledger, &err) != 0) {
    free(expect);
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_LEDGER;
  }
  int run_rc = UAT_EXIT_USAGE;
  struct uat_run_result *run = run_checks(ctx, digest, expect, &run_rc, &err);
  free(expect);
  if (!run) {
    uat_ledger_close(ledger);
    fflush(o->out); /* after the wait's lines, where both streams share a CI log */
    uat_cli_error(o, "%s", err.text);
    return run_rc;
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
