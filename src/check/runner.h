/* Runs the selected checks of a playbook and collects their results. Knows no
 * output format: it reports progress through callbacks. With jobs > 1, checks
 * run on worker threads, each with its own Lua state and curl handles; the
 * callbacks are then called one at a time (under the runner's lock). */
#ifndef UAT_RUNNER_H
#define UAT_RUNNER_H

#include "util/error.h"
#include "playbook/playbook.h"
#include "util/redact.h"
#include "util/result.h"

struct uat_runner_options {
  const struct uat_playbook *playbook;
  const struct uat_redactor *redactor;
  const char *base_url;
  const char *const *only; /* ids or tags; none: every check */
  size_t nonly;
  int jobs;
  int browsers; /* --browsers: browser checks at once, within jobs; 0: one per CPU */
  bool verbose;
  const char *artifacts_dir; /* --artifacts; NULL: browser checks save nothing */
  void (*on_start)(const struct uat_check *check, void *ctx);
  void (*on_done)(const struct uat_check_result *result, size_t done, size_t total, void *ctx);
  void *ctx;
};

/* Which checks --only selects, in playbook order: fills selected[] (size nchecks) with
 * true/false. Returns the count, or -1 with err set when a selector matches nothing. */
long uat_runner_select(const struct uat_playbook *pb, const char *const *only, size_t nonly,
                       bool *selected, struct uat_error *err);

/* Runs them. Returns the run (caller frees with uat_run_result_free) or NULL with err set. */
struct uat_run_result *uat_runner_run(const struct uat_runner_options *opts, struct uat_error *err);

#endif
