/* Reports of a run: terminal (streaming, as checks finish), JUnit XML, JSON and HTML.
 * The run result's strings are already redacted; reports add no secrets.
 * File reports are written all-or-nothing; a failure returns -1 with err set. */
#ifndef UAT_REPORT_H
#define UAT_REPORT_H

#include "util/error.h"
#include "util/result.h"

#include <stdbool.h>
#include <stdio.h>

struct uat_term {
  FILE *out;
  bool color;      /* ANSI colours */
  bool progress;   /* a transient "[3/12] running check-id" line (TTY only) */
  bool quiet;      /* only failures and the summary */
  bool verbose;    /* logs, request dumps and tracebacks of every check */
  size_t id_width; /* check ids are padded to this width (capped), so titles line up; 0: none */
  int columns;     /* terminal width the progress line must fit in; 0: unknown (80) */
};

/* Before any check runs: the playbook name, target, release and commit. */
void uat_term_begin(const struct uat_term *t, const struct uat_run_result *run, size_t total);
/* target.build, before the checks: the wait starts ("waiting for staging to serve ..."),
 * staging's answer changed (what: 'serves "v4.6.2"', 'answers HTTP 502', ...; already
 * redacted), staging serves the expected value. Nothing with quiet. */
void uat_term_build_begin(const struct uat_term *t, const char *url, const char *json,
                          const char *expect, double wait_s, double interval_s);
void uat_term_build_poll(const struct uat_term *t, const char *what, double elapsed_s);
void uat_term_build_served(const struct uat_term *t, const char *served, double waited_s,
                           int polls);
/* A check is starting (progress line only). */
void uat_term_check_started(const struct uat_term *t, const char *id, size_t done, size_t total);
/* A check finished: "✓ id  120ms" or "✗ id  1.2s" with its failed expectations
 * (actual vs expected), error and, when verbose, logs and traceback. */
void uat_term_check_done(const struct uat_term *t, const struct uat_check_result *r);
/* "3 passed, 1 failed, 0 errors in 2.1s" plus the failing ids. */
void uat_term_summary(const struct uat_term *t, const struct uat_run_result *run);

/* JUnit XML (libxml2 xmlwriter): one testsuite per playbook, one testcase per check. */
int uat_report_junit_write(const struct uat_run_result *run, const char *path,
                           struct uat_error *err);

/* JSON (jansson) with the field names documented in README.md. extra, when not NULL,
 * is a JSON object text merged at the top level (the gate adds its verdict this way). */
int uat_report_json_write(const struct uat_run_result *run, const char *extra_json,
                          const char *path, struct uat_error *err);

/* The gate's verdict in words, for the HTML report and the notifications: the CLI builds it
 * from gate.c's verdict, so neither needs the ledger. Every string is borrowed and already
 * redacted; NULL where it does not apply. */
struct uat_gate_view_item {
  const char *id, *role, *text;
  const char *state;  /* uat_item_state_name: "approved" "missing" "rejected" ... */
  const char *reason; /* plain words from gate.c */
  const char *signer, *decided_at, *note; /* the decision behind the state */
  const char *may_sign; /* who may still sign ("nesserine, myriam"): items not approved */
  const char *command;  /* the `uatrun signoff ...` that approves it: items not approved */
};

struct uat_gate_view {
  const char *verdict; /* "open" "failed" "waiting" */
  int exit_code;       /* 0, 1 or 3 */
  const char *headline;
  const char *playbook, *release, *commit;
  const char *run_state, *run_reason; /* "passed" "failed" "missing" "stale" "partial" */
  size_t passed, failed, errored;     /* of the run the gate judged (0 when none) */
  const struct uat_gate_view_item *items;
  size_t nitems;
  const char *page_url;     /* the sign-off page (notify.page_url), or NULL */
  const char *gate_command; /* `uatrun gate ...` to ask again */
};

/* One self-contained HTML page (libxml2's HTML tree, so all text is escaped by
 * construction): summary, each check with its expectations, attempts, timings and artifacts
 * (images embedded as data: URIs), and with gate not NULL the sign-off state. run may be NULL
 * (gate --no-run: the gate alone). Written all-or-nothing. */
int uat_report_html_write(const struct uat_run_result *run, const struct uat_gate_view *gate,
                          const char *path, struct uat_error *err);

#endif
