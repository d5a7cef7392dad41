/* What running checks produces, independent of any output format.
 * Ownership: a result owns all its strings (already redacted when recorded);
 * uat_check_result_clear / uat_run_result_free release them. */
#ifndef UAT_RESULT_H
#define UAT_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum uat_outcome {
  UAT_OUTCOME_PASS,
  UAT_OUTCOME_FAIL,  /* an expectation failed, or none was recorded */
  UAT_OUTCOME_ERROR, /* the script raised an error: Lua, network, timeout, memory cap */
  UAT_OUTCOME_SKIP,  /* not selected; never produced by the sandbox */
};

const char *uat_outcome_name(enum uat_outcome o); /* "pass" "fail" "error" "skip" */

struct uat_expectation {
  bool ok;
  char
      *kind; /* "status", "eq", "truthy", "match", "header", "xpath", "no_xpath", "count", "fail" */
  char *message;  /* the script's msg, or a generated description */
  char *actual;   /* may be NULL */
  char *expected; /* may be NULL */
  char *where;    /* "script.lua:12", may be NULL */
};

struct uat_check_result {
  char *id;
  char *title;
  enum uat_outcome outcome;
  struct uat_expectation *expectations;
  size_t nexpectations;
  char *error;     /* why it errored or failed without a failed expectation; NULL on pass */
  char *traceback; /* Lua traceback for --verbose; may be NULL */
  char **logs;     /* log(...) lines and, with --verbose, request dumps */
  size_t nlogs;
  char **artifacts; /* files saved under --artifacts (browser screenshots, page HTML) */
  size_t nartifacts;
  double duration_s; /* of the last attempt */
  int attempts;      /* 1 + retries used */
};

/* What target.build found before the checks ran: staging served the expected value. */
struct uat_build_record {
  char *url;       /* absolute, secrets redacted */
  char *json;      /* the field read, or NULL: the whole body */
  char *expected;  /* what staging had to serve */
  char *served;    /* what it served (equal to expected in a recorded run) */
  double waited_s; /* from the first poll to the one that served it */
  int polls;
};

struct uat_run_result {
  char *playbook_name;
  char *playbook_path;
  char *release; /* "unknown" when not given */
  char *commit;
  char *digest;
  char *fingerprint;  /* SHA-256 hex of the effective base URL, headers, vars and with: values */
  char *base_url;     /* as shown: secrets redacted */
  int64_t started_at; /* unix seconds */
  int64_t finished_at;
  double duration_s;
  struct uat_check_result *checks; /* in playbook order, selected checks only */
  size_t nchecks;
  size_t passed, failed, errored;
  size_t abandoned;               /* checks stuck in a C call past their deadline (see runner.c) */
  struct uat_build_record *build; /* NULL: the playbook has no target.build */
};

/* Adds an expectation (copies every string; NULL allowed for actual/expected/where). */
int uat_check_result_add_expectation(struct uat_check_result *r, bool ok, const char *kind,
                                     const char *message, const char *actual, const char *expected,
                                     const char *where);
int uat_check_result_add_log(struct uat_check_result *r, const char *line);
/* Adds a copy of path to the check's artifacts; -1 when memory ran out. */
int uat_check_result_add_artifact(struct uat_check_result *r, const char *path);
size_t uat_check_result_failed_expectations(const struct uat_check_result *r);
void uat_check_result_clear(struct uat_check_result *r);
void uat_build_record_free(struct uat_build_record *b);
void uat_run_result_free(struct uat_run_result *run);
/* true when every check passed (and at least one ran). */
bool uat_run_result_passed(const struct uat_run_result *run);

#endif
