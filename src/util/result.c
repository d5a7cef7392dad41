#include "util/result.h"

#include "util/strbuf.h"

#include <stdlib.h>
#include <string.h>

const char *uat_outcome_name(enum uat_outcome o) {
  switch (o) {
  case UAT_OUTCOME_PASS:
    return "pass";
  case UAT_OUTCOME_FAIL:
    return "fail";
  case UAT_OUTCOME_ERROR:
    return "error";
  case UAT_OUTCOME_SKIP:
    return "skip";
  }
  return "unknown";
}

int uat_check_result_add_expectation(struct uat_check_result *r, bool ok, const char *kind,
                                     const char *message, const char *actual,
                                     const char *expected, const char *where) {
  struct uat_expectation *grown =
      realloc(r->expectations, (r->nexpectations + 1) * sizeof *grown);
  if (!grown)
    return -1;
  r->expectations = grown;
  struct uat_expectation *e = &grown[r->nexpectations];
  e->ok = ok;
  e->kind = uat_strdup0(kind ? kind : "");
  e->message = uat_strdup0(message ? message : "");
  e->actual = uat_strdup0(actual);
  e->expected = uat_strdup0(expected);
  e->where = uat_strdup0(where);
  r->nexpectations++;
  return 0;
}

int uat_check_result_add_log(struct uat_check_result *r, const char *line) {
  char **grown = realloc(r->logs, (r->nlogs + 1) * sizeof *grown);
  if (!grown)
    return -1;
  r->logs = grown;
  r->logs[r->nlogs] = strdup(line ? line : "");
  if (!r->logs[r->nlogs])
    return -1;
  r->nlogs++;
  return 0;
}

int uat_check_result_add_artifact(struct uat_check_result *r, const char *path) {
  if (!r)
    return -1;
  char **grown = realloc(r->artifacts, (r->nartifacts + 1) * sizeof *grown);
  if (!grown)
    return -1;
  r->artifacts = grown;
  if (!(r->artifacts[r->nartifacts] = strdup(path)))
    return -1;
  r->nartifacts++;
  return 0;
}

size_t uat_check_result_failed_expectations(const struct uat_check_result *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->nexpectations; i++)
    n += !r->expectations[i].ok;
  return n;
}

void uat_check_result_clear(struct uat_check_result *r) {
  free(r->id);
  free(r->title);
  for (size_t i = 0; i < r->nexpectations; i++) {
    struct uat_expectation *e = &r->expectations[i];
    free(e->kind);
    free(e->message);
    free(e->actual);
    free(e->expected);
    free(e->where);
  }
  free(r->expectations);
  free(r->error);
  free(r->traceback);
  for (size_t i = 0; i < r->nlogs; i++)
    free(r->logs[i]);
  free(r->logs);
  for (size_t i = 0; i < r->nartifacts; i++)
    free(r->artifacts[i]);
  free(r->artifacts);
  memset(r, 0, sizeof *r);
}

void uat_build_record_free(struct uat_build_record *b) {
  if (!b)
    return;
  free(b->url);
  free(b->json);
  free(b->expected);
  free(b->served);
  free(b);
}

void uat_run_result_free(struct uat_run_result *run) {
  if (!run)
    return;
  uat_build_record_free(run->build);
  for (size_t i = 0; i < run->nchecks; i++)
    uat_check_result_clear(&run->checks[i]);
  free(run->checks);
  free(run->playbook_name);
  free(run->playbook_path);
  free(run->release);
  free(run->commit);
  free(run->digest);
  free(run->fingerprint);
  free(run->base_url);
  free(run);
}

bool uat_run_result_passed(const struct uat_run_result *run) {
  if (!run || run->nchecks == 0)
    return false;
  for (size_t i = 0; i < run->nchecks; i++)
    if (run->checks[i].outcome != UAT_OUTCOME_PASS)
      return false;
  return true;
}
