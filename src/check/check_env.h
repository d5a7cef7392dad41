/* What one attempt of a check runs with: shared by the sandbox that runs it and the
 * bindings scripts see, so neither has to include the other. */
#ifndef UAT_CHECK_ENV_H
#define UAT_CHECK_ENV_H

#include "playbook/playbook.h"
#include "util/redact.h"

#include <stdbool.h>
#include <stddef.h>

struct uat_run_share;

#define UAT_DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)

/* Everything one attempt of a check needs; all borrowed, shared read-only between threads. */
struct uat_check_env {
  const struct uat_playbook *playbook;
  const struct uat_check *check;
  const struct uat_redactor *redactor;
  const char *base_url;           /* effective: --base-url, else target.base_url */
  const char *bundled_checklists; /* NULL: $UATRUN_CHECKLISTS, else the build-time folder */
  bool verbose;                   /* record request/response dumps (redacted) in the logs */
  size_t max_body;                /* response body cap in bytes; 0: UAT_DEFAULT_MAX_BODY */
  const char *artifacts_dir;      /* --artifacts: where browser checks save screenshots; NULL */
  struct uat_run_share *share;    /* caches shared by the run's checks; NULL: none (lint, tests) */
  /* The attempts of a check share its timeout (the runner sets these per attempt). */
  double deadline;  /* CLOCK_MONOTONIC seconds the attempt must stop by; 0: now + timeout */
  int attempt;      /* 1-based number of this attempt; 0: a lone run (tests, lint) */
  int max_attempts; /* 1 + the check's retries; 0 or 1: no retry */
};

#endif
