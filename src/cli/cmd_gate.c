/* `uatrun gate` and `uatrun status`: run the checks (gate only), load the
 * recorded run and decisions, let gate.c decide, and say in words a release
 * manager understands what is missing, who may give it and the command to run. */
#include "cli/cmd_gate.h"

#include "cli/gate_view.h"
#include "util/fsutil.h"
#include "report/report.h"
#include "report/report_text.h"
#include "check/sandbox.h"
#include "ledger/sshsig.h"
#include "util/duration.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GREEN "\033[32m"
#define RED "\033[31m"
#define YELLOW "\033[33m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

/* Everything one invocation prints and reports, built once. */
struct view {
  const struct uat_context *ctx;
  const struct uat_gate_snapshot *snap;
  bool ran; /* the checks ran in this invocation */
  bool color;
  bool quiet; /* --quiet: the headline and what is missing, not what is already met */
  FILE *out;
};

static const char *paint(const struct view *v, const char *code) {
  return v->color ? code : "";
}

static const char *iso_time(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, size, "%lld", (long long)t);
  return buf;
}

static char *who_may_sign(const struct view *v, const char *role_name) {
  return uat_gate_who_may_sign(v->ctx, &v->snap->verdict, role_name);
}

static char *redacted(const struct view *v, const char *text) {
  return uat_redact(&v->ctx->redactor, text ? text : "");
}

static const char *item_mark(const struct view *v, enum uat_item_state s, const char **colour) {
  if (s == UAT_ITEM_APPROVED) {
    *colour = paint(v, GREEN);
    return "✓";
  }
  if (s == UAT_ITEM_REJECTED) {
    *colour = paint(v, RED);
    return "✗";
  }
  *colour = paint(v, YELLOW);
  return "…";
}

static size_t id_width(const struct uat_gate_verdict *verdict) {
  size_t w = strlen("checks");
  for (size_t i = 0; i < verdict->nitems; i++)
    if (strlen(verdict->items[i].item->id) > w)
      w = strlen(verdict->items[i].item->id);
  return w;
}

static int print_run_line(const struct view *v, int width) {
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  bool ok = verdict->run_state == UAT_RUN_PASSED;
  fprintf(v->out, "  %s%s%s %-*s  %s%s\n", paint(v, ok ? GREEN : RED), ok ? "✓" : "✗",
          paint(v, RESET), width, "checks", verdict->run_reason,
          v->ran || verdict->run_state == UAT_RUN_MISSING ? "" : " — recorded, not run now");
  return 0;
}

/* What staging served before the recorded run's checks (target.build): which build they saw. */
static int print_build_line(const struct view *v, int width) {
  const struct uat_run_record *run = &v->snap->run;
  if (!run->found || !run->has_build)
    return 0;
  char *served = uat_gate_shown_note(v->ctx, run->build_served);
  char *url = uat_gate_shown_note(v->ctx, run->build_url);
  if (!served || !url) {
    free(served);
    free(url);
    return -1;
  }
  char took[32];
  fprintf(v->out, "  %s✓%s %-*s  staging served \"%s\" (%s%s%s)", paint(v, GREEN), paint(v, RESET),
          width, "build", served, url, run->build_json ? ", field " : "",
          run->build_json ? run->build_json : "");
  if (run->build_polls > 1)
    fprintf(v->out, " after waiting %s",
            uat_duration_format(run->build_waited_s, took, sizeof took));
  fputc('\n', v->out);
  free(served);
  free(url);
  return 0;
}

static int print_item(const struct view *v, const struct uat_gate_item *gi, int width) {
  const char *colour;
  const char *mark = item_mark(v, gi->state, &colour);
  fprintf(v->out, "  %s%s%s %-*s  %s: %s", colour, mark, paint(v, RESET), width, gi->item->id,
          gi->item->role, gi->reason);
  if (gi->state == UAT_ITEM_REJECTED && gi->decision->note && *gi->decision->note) {
    char *note = uat_gate_shown_note(v->ctx, gi->decision->note);
    if (!note)
      return -1;
    fprintf(v->out, ": \"%s\"", note);
    free(note);
  }
  fputc('\n', v->out);
  if (gi->state == UAT_ITEM_APPROVED)
    return 0;
  char *who = who_may_sign(v, gi->item->role);
  if (!who)
    return -1;
  fprintf(v->out, "    %*s  may sign: %s\n", width, "", who);
  free(who);
  return 0;
}

static bool role_needs_signing(const struct uat_gate_verdict *verdict, const char *role) {
  for (size_t i = 0; i < verdict->nitems; i++)
    if (verdict->items[i].state != UAT_ITEM_APPROVED &&
        strcmp(verdict->items[i].item->role, role) == 0)
      return true;
  return false;
}

static bool role_seen_before(const struct uat_gate_verdict *verdict, size_t upto) {
  for (size_t i = 0; i < upto; i++)
    if (strcmp(verdict->items[i].item->role, verdict->items[upto].item->role) == 0)
      return true;
  return false;
}

static char *signoff_command(const struct view *v, const char *role, const char *item) {
  return uat_gate_signoff_command(v->ctx, role, item);
}

static char *item_command(const struct view *v, const struct uat_gate_item *gi) {
  return signoff_command(v, gi->item->role, gi->item->id);
}

static char *role_command(const struct view *v, const char *role) {
  return signoff_command(v, role, NULL);
}

static int print_sign_commands(const struct view *v) {
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  if (verdict->napproved == verdict->nitems)
    return 0;
  /* signoff refuses while the latest run failed: say so, not offer commands that fail. */
  fputs(verdict->run_state == UAT_RUN_FAILED
            ? "\nTo sign, once the checks pass (signing is refused while they fail):\n"
            : "\nTo sign:\n",
        v->out);
  for (size_t i = 0; i < verdict->nitems; i++) {
    const char *role = verdict->items[i].item->role;
    if (!role_needs_signing(verdict, role) || role_seen_before(verdict, i))
      continue;
    char *cmd = role_command(v, role);
    if (!cmd)
      return -1;
    fprintf(v->out, "  %s, on a terminal (asks item by item):\n    %s\n", role, cmd);
    free(cmd);
    fputs("  or one item at a time, from a script or chat bot:\n", v->out);
    for (size_t j = 0; j < verdict->nitems; j++) {
      const struct uat_gate_item *gi = &verdict->items[j];
      if (gi->state == UAT_ITEM_APPROVED || strcmp(gi->item->role, role) != 0)
        continue;
      char *one = item_command(v, gi);
      if (!one)
        return -1;
      fprintf(v->out, "    %s\n", one);
      free(one);
    }
  }
  return 0;
}

/* What to run so the checks count again; NULL when they passed. */
static char *run_fix(const struct view *v) {
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  if (verdict->run_state == UAT_RUN_PASSED)
    return NULL;
  char *cmd = uat_gate_command_for(v->ctx, "run");
  if (!cmd)
    return NULL;
  static const char *const advice[] = {
      [UAT_RUN_FAILED] = "fix what failed, then run the checks again",
      [UAT_RUN_MISSING] = "run the checks",
      [UAT_RUN_STALE] = "run the checks again with this version of the playbook",
      [UAT_RUN_PARTIAL] = "run every check (without --only)",
  };
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  const char *what = advice[verdict->run_state];
  if (verdict->run_state == UAT_RUN_STALE && uat_gate_playbook_unchanged(v->snap))
    what = "run the checks again against this target and vars";
  int rc = uat_strbuf_addf(&sb, "%s: %s", what, cmd);
  if (rc == 0 && !v->ran)
    rc = uat_strbuf_adds(&sb, v->ctx->opts->no_run
                                  ? "\n    (or drop --no-run to let the gate run them)"
                                  : "\n    (or `uatrun gate`, which runs them first)");
  free(cmd);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

static int print_view(const struct view *v, const char *head) {
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  const struct uat_context *ctx = v->ctx;
  const char *colour = verdict->state == UAT_GATE_OPEN      ? GREEN
                       : verdict->state == UAT_GATE_WAITING ? YELLOW
                                                            : RED;
  fprintf(v->out, "%s%s%s%s%s\n", v->quiet ? "" : "\n", paint(v, BOLD), paint(v, colour), head,
          paint(v, RESET));
  if (!v->quiet)
    fprintf(v->out, "%s — release %s, commit %s\n\n", ctx->playbook->name, ctx->release,
            ctx->commit);
  int width = (int)id_width(verdict);
  if (!v->quiet || verdict->run_state != UAT_RUN_PASSED)
    print_run_line(v, width);
  if (!v->quiet && print_build_line(v, width) != 0)
    return -1;
  for (size_t i = 0; i < verdict->nitems; i++)
    if ((!v->quiet || verdict->items[i].state != UAT_ITEM_APPROVED) &&
        print_item(v, &verdict->items[i], width) != 0)
      return -1;
  if (verdict->run_state != UAT_RUN_PASSED) {
    char *fix = run_fix(v);
    if (!fix)
      return -1;
    fprintf(v->out, "\nTo fix the checks:\n  %s\n", fix);
    free(fix);
  }
  return print_sign_commands(v);
}

/* ---------- the same picture as data ---------- */

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *build_json(const struct uat_run_record *run) {
  if (!run->has_build)
    return json_null();
  /* Milliseconds, as the run's own report gives them. */
  double waited = (double)(long long)(run->build_waited_s * 1000 + 0.5) / 1000;
  return json_pack("{s:s, s:o, s:s, s:s, s:f, s:i}", "url", run->build_url, "json",
                   str_or_null(run->build_json), "expected", run->build_expected, "served",
                   run->build_served, "waited_s", waited, "polls", run->build_polls);
}

static json_t *run_json(const struct view *v) {
  const struct uat_run_record *run = &v->snap->run;
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  json_t *o = json_pack("{s:s, s:s, s:b}", "state", uat_run_state_name(verdict->run_state),
                        "reason", verdict->run_reason, "ran_now", v->ran);
  if (!o || !run->found)
    return o;
  char when[40];
  json_t *failed = json_array();
  for (size_t i = 0; failed && i < run->nfailed_ids; i++)
    if (json_array_append_new(failed, json_string(run->failed_ids[i])) != 0) {
      json_decref(failed);
      failed = NULL;
    }
  if (!failed ||
      json_object_update_new(
          o, json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:o, s:o}", "seq", (json_int_t)run->seq,
                       "finished_at", iso_time(run->time, when, sizeof when), "digest",
                       str_or_null(run->digest), "passed", (json_int_t)run->npassed, "failed",
                       (json_int_t)run->nfailed, "errored", (json_int_t)run->nerrored,
                       "failed_checks", failed, "build", build_json(run))) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *signers_json(const struct uat_playbook *pb, const char *role_name) {
  json_t *a = json_array();
  const struct uat_role *role = uat_playbook_find_role(pb, role_name);
  for (size_t i = 0; a && role && i < role->nmembers; i++)
    if (json_array_append_new(a, json_string(role->members[i])) != 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

/* Sets each key; a value that could not be built (NULL) fails the whole object. */
static int set_all(json_t *o, const char *const *keys, json_t **values, size_t n) {
  int rc = o ? 0 : -1;
  for (size_t i = 0; i < n; i++)
    if (json_object_set_new(o, keys[i], values[i]) != 0)
      rc = -1;
  return rc;
}

static json_t *item_json(const struct view *v, const struct uat_gate_item *gi) {
  const struct uat_decision *d = gi->decision;
  bool approved = gi->state == UAT_ITEM_APPROVED;
  char when[40];
  char *note = d && d->note && *d->note ? redacted(v, d->note) : NULL;
  char *cmd = approved ? NULL : item_command(v, gi);
  char *interactive = approved ? NULL : role_command(v, gi->item->role);
  static const char *const keys[] = {
      "id",         "role", "text", "state",           "reason",  "decision",           "signer",
      "decided_at", "seq",  "note", "allowed_signers", "command", "interactive_command"};
  json_t *values[] = {
      json_string(gi->item->id),
      json_string(gi->item->role),
      str_or_null(gi->item->text),
      json_string(uat_item_state_name(gi->state)),
      json_string(gi->reason),
      d ? json_string(d->approve ? "approve" : "reject") : json_null(),
      str_or_null(d ? d->signer : NULL),
      d ? json_string(iso_time(d->time, when, sizeof when)) : json_null(),
      d ? json_integer(d->seq) : json_null(),
      str_or_null(note),
      signers_json(v->ctx->playbook, gi->item->role),
      str_or_null(cmd),
      str_or_null(interactive),
  };
  json_t *o = json_object();
  bool complete = (!d || !d->note || !*d->note || note) && (approved || (cmd && interactive));
  if (set_all(o, keys, values, sizeof values / sizeof values[0]) != 0 || !complete) {
    json_decref(o);
    o = NULL;
  }
  free(note);
  free(cmd);
  free(interactive);
  return o;
}

static char *gate_json_text(const struct view *v, const char *head) {
  const struct uat_context *ctx = v->ctx;
  const struct uat_gate_verdict *verdict = &v->snap->verdict;
  char now[40];
  json_t *items = json_array();
  for (size_t i = 0; items && i < verdict->nitems; i++)
    if (json_array_append_new(items, item_json(v, &verdict->items[i])) != 0) {
      json_decref(items);
      items = NULL;
    }
  if (!items)
    return NULL;
  json_t *gate = json_pack(
      "{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:o*, s:o}", "state",
      verdict->state == UAT_GATE_OPEN ? "open" : "closed", "verdict",
      uat_gate_state_name(verdict->state), "exit_code", uat_gate_exit_code(verdict), "reason", head,
      "playbook", ctx->playbook->name, "release", ctx->release, "commit", ctx->commit, "digest",
      v->snap->digest, "evaluated_at", iso_time((int64_t)time(NULL), now, sizeof now),
      "signoff_max_age_s", (json_int_t)ctx->playbook->signoff_max_age_s, "distinct_signers",
      ctx->playbook->distinct_signers, "approved", (json_int_t)verdict->napproved, "rejected",
      (json_int_t)verdict->nrejected, "waiting", (json_int_t)verdict->nwaiting, "run", run_json(v),
      "items", items);
  json_t *root = gate ? json_pack("{s:o}", "gate", gate) : NULL;
  char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  return text;
}

/* With a run: the run's report plus "gate". Without: {"gate": ...} alone (its "run" holds the
 * recorded run's summary). */
static int write_json(const struct view *v, const struct uat_run_result *run, const char *head,
                      struct uat_error *err) {
  const char *path = v->ctx->opts->report_json;
  char *text = gate_json_text(v, head);
  if (!text)
    return uat_error_set(err, "cannot write the JSON report '%s': out of memory", path);
  int rc = run ? uat_report_json_write(run, text, path, err)
               : uat_file_write_atomic(path, text, strlen(text), err);
  free(text);
  return rc;
}

/* --report-html with the sign-offs, then notify: (gate only: status is a look, not an event).
 * Returns 0, 2 when the HTML report could not be written, -1 when out of memory. */
static int tell_people(const struct uat_context *ctx, const struct uat_run_result *run,
                       const struct uat_gate_snapshot *snap, const char *head) {
  const struct uat_cli_options *o = ctx->opts;
  bool notify = strcmp(o->command, "gate") == 0 && ctx->playbook->notify.nwebhooks > 0;
  if (!o->report_html && !notify)
    return 0;
  struct uat_gate_view_owned gv;
  if (uat_gate_view_build(ctx, snap, head, &gv) != 0)
    return -1;
  struct uat_error err;
  int rc = 0;
  if (o->report_html && uat_report_html_write(run, &gv.view, o->report_html, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    rc = UAT_EXIT_USAGE;
  }
  /* Told even when a report failed: the verdict is what people wait for. */
  if (notify)
    uat_gate_notify(ctx, &gv.view);
  uat_gate_view_release(&gv);
  return rc;
}

static int open_ledger_if_any(const struct uat_context *ctx, struct uat_ledger **ledger,
                              struct uat_error *err) {
  *ledger = NULL;
  if (!uat_ledger_exists(ctx->ledger_path))
    return 0; /* nothing recorded yet: the gate reports the missing run */
  return uat_ledger_open(ctx->ledger_path, UAT_LEDGER_READ, ledger, err);
}

/* Evaluates and prints; returns the gate's exit code, 2 for an unwritable report, 4 for
 * the ledger. */
static int show_verdict(const struct uat_context *ctx, const struct uat_run_result *run,
                        const char *digest) {
  const struct uat_cli_options *o = ctx->opts;
  struct uat_error err;
  struct uat_ledger *ledger;
  struct uat_gate_snapshot snap;
  if (open_ledger_if_any(ctx, &ledger, &err) != 0 ||
      uat_gate_snapshot_load(ctx, ledger, digest, (int64_t)time(NULL), &snap, &err) != 0) {
    uat_ledger_close(ledger);
    uat_cli_error(o, "%s", err.text);
    return UAT_EXIT_LEDGER;
  }
  uat_ledger_close(ledger);
  struct view v = {.ctx = ctx,
                   .snap = &snap,
                   .ran = run != NULL,
                   .color = o->color,
                   .quiet = o->quiet,
                   .out = o->out};
  char *head = uat_gate_headline(ctx, &snap);
  int rc = head && print_view(&v, head) == 0 ? uat_gate_exit_code(&snap.verdict) : -1;
  if (rc >= 0 && o->report_json && write_json(&v, run, head, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    rc = UAT_EXIT_USAGE;
  }
  int told = rc >= 0 ? tell_people(ctx, run, &snap, head) : 0;
  if (told != 0)
    rc = told == UAT_EXIT_USAGE ? UAT_EXIT_USAGE : -1;
  if (rc < 0) {
    uat_cli_error(o, "cannot describe the gate: out of memory");
    rc = UAT_EXIT_USAGE;
  }
  free(head);
  uat_gate_snapshot_release(&snap);
  return rc;
}

int uat_gate_show(const struct uat_cli_options *opts, bool run_checks) {
  struct uat_error err;
  if (!run_checks && opts->report_junit) {
    uat_cli_error(opts,
                  "--report-junit reports checks that run now, and %s runs none; drop "
                  "--report-junit, or let the gate run the checks (without --no-run)",
                  strcmp(opts->command, "gate") == 0 ? "`uatrun gate --no-run`" : "this command");
    return UAT_EXIT_USAGE;
  }
  /* The run itself writes no JSON report here: this command writes it with the verdict. */
  struct uat_cli_options run_opts = *opts;
  run_opts.report_json = NULL;
  run_opts.report_html = NULL; /* nor the HTML one, which shows the sign-offs too */
  struct uat_context ctx;
  unsigned flags = UAT_CTX_NEED_RELEASE | (run_checks ? UAT_CTX_SECRETS : 0);
  if (uat_context_open(&ctx, &run_opts, flags, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  ctx.opts = opts; /* commands suggested from here name the playbook as the user gave it */
  if (uat_context_check_all_reports(&ctx, opts, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    uat_context_close(&ctx);
    return UAT_EXIT_USAGE;
  }
  char digest[UAT_DIGEST_HEX];
  if (uat_gate_digest(&ctx, digest, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    uat_context_close(&ctx);
    return UAT_EXIT_USAGE;
  }
  struct uat_run_result *run = NULL;
  int run_rc = UAT_EXIT_OK;
  if (run_checks) {
    ctx.opts = &run_opts;
    run_rc = uat_execute_run(&ctx, &run);
    ctx.opts = opts;
    /* Nothing ran, or the run could not be recorded: there is nothing to decide on. */
    if (run && run->abandoned && run_rc == UAT_EXIT_LEDGER)
      uat_execute_run_stop(&ctx, false, run_rc);
    if (!run || run_rc == UAT_EXIT_LEDGER) {
      uat_run_result_free(run);
      uat_context_close(&ctx);
      return run_rc;
    }
  }
  int rc = show_verdict(&ctx, run, digest);
  /* A report that did not reach the disk fails the command even when the gate is open. */
  if (run_rc == UAT_EXIT_USAGE && rc != UAT_EXIT_LEDGER)
    rc = UAT_EXIT_USAGE;
  /* A check stuck in a C call still reads ctx: stop once the verdict and its report are out.
   * The run it is in errored, so the gate cannot be open. */
  if (run && run->abandoned)
    uat_execute_run_stop(&ctx, true, rc == UAT_EXIT_OK ? UAT_EXIT_FAILED : rc);
  uat_run_result_free(run);
  uat_context_close(&ctx);
  return rc;
}

int uat_cmd_gate(const struct uat_cli_options *opts) {
  return uat_gate_show(opts, !opts->no_run);
}
