/* The runner: results in playbook order with the right counts at every --jobs, attempts
 * and the notes of earlier attempts under retries, --only selecting each check once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/runner.h"
#include "testserver.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct fixture {
  char dir[64];
  char path[128];
  struct uat_testserver *srv;
  char base[64];
  struct uat_redactor red;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-runner-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/playbook.yml", f->dir);
  char msg[256];
  f->srv = uat_testserver_start(0, msg, sizeof msg);
  if (!f->srv)
    fail_msg("test server: %s", msg);
  snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", uat_testserver_port(f->srv));
  uat_redactor_init(&f->red);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_testserver_stop(f->srv);
  uat_redactor_release(&f->red);
  unlink(f->path);
  rmdir(f->dir);
  free(f);
  return 0;
}

/* Writes the playbook: a header with the server's URL, then the checks (YAML text, with
 * %1$s standing for a key unique to this load, so /flaky counts start afresh). */
static struct uat_playbook *load(struct fixture *f, const char *checks, const char *key) {
  FILE *out = fopen(f->path, "w");
  assert_non_null(out);
  fprintf(out, "name: runner test\ntarget: { base_url: \"%s\" }\nchecks:\n", f->base);
  fprintf(out, checks, key);
  assert_int_equal(fclose(out), 0);
  struct uat_playbook_options opts = {0};
  struct uat_error err;
  struct uat_playbook *pb = uat_playbook_load(f->path, &opts, &err);
  if (!pb)
    fail_msg("playbook: %s", err.text);
  return pb;
}

struct progress {
  size_t calls;
  size_t last_done;
  bool in_order; /* done counts 1, 2, 3… */
};

static void on_done(const struct uat_check_result *r, size_t done, size_t total, void *ctx) {
  struct progress *p = ctx;
  (void)r;
  (void)total;
  p->calls++;
  p->in_order = p->in_order && done == p->last_done + 1;
  p->last_done = done;
}

static struct uat_run_result *run(struct fixture *f, const struct uat_playbook *pb, int jobs,
                                  const char *const *only, size_t nonly, struct progress *p) {
  *p = (struct progress){.in_order = true};
  struct uat_runner_options o = {.playbook = pb,
                                 .redactor = &f->red,
                                 .base_url = f->base,
                                 .only = only,
                                 .nonly = nonly,
                                 .jobs = jobs,
                                 .on_done = on_done,
                                 .ctx = p};
  struct uat_error err;
  struct uat_run_result *r = uat_runner_run(&o, &err);
  if (!r)
    fail_msg("run: %s", err.text);
  return r;
}

static void assert_starts(const char *s, const char *prefix) {
  if (!s || strncmp(s, prefix, strlen(prefix)) != 0)
    fail_msg("expected \"%s\" to start with \"%s\"", s ? s : "(null)", prefix);
}

static const char mixed[] =
    "  - { id: pass-http, run: 'expect.status(http.get(\"/slow?ms=100\"), 200)' }\n"
    "  - { id: fails, run: 'expect.status(http.get(\"/status/404\"), 200)' }\n"
    "  - { id: raises, run: 'error(\"boom\")' }\n"
    "  - { id: loops, timeout: 300ms, run: 'while true do end' }\n"
    "  - { id: hog, memory: 1MiB, run: 'local t = {} for i = 1, 1e7 do t[i] = (\"x\"):rep(64) .. "
    "i end' }\n"
    "  - { id: silent, run: 'log(\"no expectation\")' }\n"
    "  - { id: pass-fast, run: 'expect.truthy(true)' }\n"
    "  - { id: pass-json, run: 'expect.eq(http.get(\"/json\"):json().name, \"uatrun\")' }\n";

static const struct {
  const char *id;
  enum uat_outcome outcome;
} mixed_expected[] = {
    {"pass-http", UAT_OUTCOME_PASS}, {"fails", UAT_OUTCOME_FAIL},     {"raises", UAT_OUTCOME_ERROR},
    {"loops", UAT_OUTCOME_ERROR},    {"hog", UAT_OUTCOME_ERROR},      {"silent", UAT_OUTCOME_FAIL},
    {"pass-fast", UAT_OUTCOME_PASS}, {"pass-json", UAT_OUTCOME_PASS},
};

/* Whatever order checks finish in, results are in playbook order, counted once each. */
static void test_order_and_counts(void **state) {
  struct fixture *f = *state;
  struct uat_playbook *pb = load(f, mixed, "");
  const int jobs[] = {1, 2, 8, 64};
  for (size_t j = 0; j < sizeof jobs / sizeof *jobs; j++) {
    struct progress p;
    struct uat_run_result *r = run(f, pb, jobs[j], NULL, 0, &p);
    assert_int_equal(r->nchecks, 8);
    for (size_t i = 0; i < r->nchecks; i++) {
      assert_string_equal(r->checks[i].id, mixed_expected[i].id);
      if (r->checks[i].outcome != mixed_expected[i].outcome)
        fail_msg("--jobs %d: %s is %s", jobs[j], r->checks[i].id,
                 uat_outcome_name(r->checks[i].outcome));
      assert_int_equal(r->checks[i].attempts, 1);
      assert_true(r->checks[i].duration_s >= 0 && r->checks[i].duration_s < 60);
    }
    assert_true(r->checks[0].duration_s >= 0.1);  /* the slow request */
    assert_true(r->checks[3].duration_s >= 0.29); /* its timeout */
    assert_int_equal(r->passed, 3);
    assert_int_equal(r->failed, 2);
    assert_int_equal(r->errored, 3);
    assert_int_equal(r->abandoned, 0);
    assert_int_equal(p.calls, 8);
    assert_true(p.in_order);
    uat_run_result_free(r);
  }
  uat_playbook_free(pb);
}

static const char retried[] =
    "  - { id: recovers, retries: 2, run: 'expect.status(http.get(\"/flaky?key=r%1$s&fail=1\"), "
    "200)' }\n"
    "  - { id: never, retries: 3, run: 'expect.status(http.get(\"/flaky?key=n%1$s&fail=99\"), "
    "200, \"up\"); expect.fail(\"second\")' }\n"
    "  - { id: errs-then-passes, retries: 1, run: 'if http.get(\"/flaky?key=e%1$s\").status ~= "
    "200 then error(\"down\") end; expect.truthy(true)' }\n"
    "  - { id: no-retry, run: 'expect.fail(\"once\")' }\n"
    "  - { id: first-time, retries: 10, run: 'log(\"mine\"); expect.truthy(true)' }\n";

/* attempts = 1 + the retries used; each earlier attempt leaves a note first in the log. */
static void test_retries(void **state) {
  struct fixture *f = *state;
  const int jobs[] = {1, 4};
  for (size_t j = 0; j < sizeof jobs / sizeof *jobs; j++) {
    char key[32];
    snprintf(key, sizeof key, "unit-runner-%d", jobs[j]);
    struct uat_playbook *pb = load(f, retried, key);
    struct progress p;
    struct uat_run_result *r = run(f, pb, jobs[j], NULL, 0, &p);
    assert_int_equal(r->nchecks, 5);
    assert_int_equal(p.calls, 5);

    const struct uat_check_result *c = &r->checks[0];
    assert_int_equal(c->outcome, UAT_OUTCOME_PASS);
    assert_int_equal(c->attempts, 2);
    assert_int_equal(c->nlogs, 1);
    assert_starts(c->logs[0], "attempt 1 failed: status is 200 (");
    assert_non_null(strstr(c->logs[0], ": expected 200, actual 503 from GET http://127.0.0.1:"));

    c = &r->checks[1];
    assert_int_equal(c->outcome, UAT_OUTCOME_FAIL);
    assert_int_equal(c->attempts, 4);
    assert_int_equal(c->nlogs, 3);
    assert_starts(c->logs[0], "attempt 1 failed: up (");
    assert_non_null(strstr(c->logs[0], "(and 1 more failed expectation)"));
    assert_starts(c->logs[2], "attempt 3 failed: up (");
    assert_int_equal(c->nexpectations, 2); /* the last attempt's own */

    c = &r->checks[2];
    assert_int_equal(c->outcome, UAT_OUTCOME_PASS);
    assert_int_equal(c->attempts, 2);
    assert_int_equal(c->nlogs, 1);
    assert_starts(c->logs[0], "attempt 1 errored: ");
    assert_non_null(strstr(c->logs[0], ": down"));

    c = &r->checks[3];
    assert_int_equal(c->attempts, 1);
    assert_int_equal(c->nlogs, 0);

    c = &r->checks[4];
    assert_int_equal(c->outcome, UAT_OUTCOME_PASS);
    assert_int_equal(c->attempts, 1);
    assert_int_equal(c->nlogs, 1);
    assert_string_equal(c->logs[0], "mine");

    assert_int_equal(r->passed, 3);
    assert_int_equal(r->failed, 2);
    uat_run_result_free(r);
    uat_playbook_free(pb);
  }
}

static const char budgeted[] =
    "  - { id: loops, timeout: 3s, retries: 4, run: 'while true do end' }\n"
    "  - { id: late, timeout: 3s, retries: 2, run: 'if http.get(\"/flaky?key=l%1$s&fail=1\")"
    ".status ~= 200 then http.get(\"/slow?ms=300\") expect.fail(\"first\") else "
    "while true do end end' }\n";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The attempts of a check share its timeout: retries never make a check take longer, and the
 * notes say which attempt was cut short or never started. */
static void test_retries_share_timeout(void **state) {
  struct fixture *f = *state;
  struct uat_playbook *pb = load(f, budgeted, "budget");
  struct progress p;
  double t0 = now_s();
  struct uat_run_result *r = run(f, pb, 2, NULL, 0, &p);
  double elapsed = now_s() - t0;
  /* Run side by side, both checks end near 3 s; a timeout per attempt would take 15 s.
   * (3 s, not 1: on a loaded machine late's first attempt, two requests and a 300 ms wait,
   * must still end well inside the budget so that a second attempt starts.) */
  if (elapsed >= 12.0)
    fail_msg("two 3 s checks with retries took %.1fs", elapsed);

  const struct uat_check_result *c = &r->checks[0];
  assert_int_equal(c->outcome, UAT_OUTCOME_ERROR);
  assert_int_equal(c->attempts, 1);
  assert_non_null(c->error);
  assert_starts(c->error, "check timed out after 3.0s, which is shared by its 5 attempts: no "
                          "time is left to retry; raise the check's timeout");
  assert_int_equal(c->nlogs, 1);
  assert_string_equal(c->logs[0], "attempt 2 of 5 not started: the check's 3.0s timeout is "
                                  "shared by its attempts and no time was left; raise the "
                                  "check's timeout to give retries time");

  c = &r->checks[1];
  assert_int_equal(c->outcome, UAT_OUTCOME_ERROR);
  assert_int_equal(c->attempts, 2);
  assert_non_null(c->error);
  assert_starts(c->error, "attempt 2 of 3 stopped: the check's 3.0s timeout is shared by its "
                          "attempts, ");
  assert_non_null(strstr(c->error, "s were left; raise the check's timeout to give retries more "
                                   "time"));
  assert_int_equal(c->nlogs, 2);
  assert_starts(c->logs[0], "attempt 1 failed: first (");
  assert_starts(c->logs[1], "attempt 3 of 3 not started: ");
  uat_run_result_free(r);
  uat_playbook_free(pb);
}

static const char tagged[] = "  - { id: a, tags: [x, y], run: 'expect.truthy(true)' }\n"
                             "  - { id: b, tags: [y], run: 'expect.truthy(true)' }\n"
                             "  - { id: c, tags: [z], run: 'expect.truthy(true)' }\n"
                             "  - { id: x, run: 'expect.truthy(true)' }\n";

/* Selectors overlap (an id and its tag, a tag twice): each check runs once, in order. */
static void test_only(void **state) {
  struct fixture *f = *state;
  struct uat_playbook *pb = load(f, tagged, "");
  const char *only[] = {"y", "a", "x", "y"};
  struct progress p;
  struct uat_run_result *r = run(f, pb, 8, only, 4, &p);
  assert_int_equal(r->nchecks, 3);
  assert_string_equal(r->checks[0].id, "a");
  assert_string_equal(r->checks[1].id, "b");
  assert_string_equal(r->checks[2].id, "x");
  assert_int_equal(p.calls, 3);
  uat_run_result_free(r);

  const char *none[] = {"c", "nope"};
  struct uat_runner_options o = {.playbook = pb,
                                 .redactor = &f->red,
                                 .base_url = f->base,
                                 .only = none,
                                 .nonly = 2,
                                 .jobs = 2};
  struct uat_error err;
  assert_null(uat_runner_run(&o, &err));
  assert_non_null(strstr(err.text, "--only 'nope' matches no check id or tag"));
  uat_playbook_free(pb);
}

/* Checks that mention browser.open count as browser checks (a text scan: these never open
 * one, so the test needs no Chromium). */
static const char browsers[] =
    "  - { id: b1, run: 'if false then browser.open() end expect.status(http.get(\"/slow?ms=1000\"), 200)' }\n"
    "  - { id: b2, run: 'if false then browser.open() end expect.status(http.get(\"/slow?ms=100\"), 200)' }\n"
    "  - { id: b3, run: 'if false then browser.open() end expect.status(http.get(\"/slow?ms=100\"), 200)' }\n"
    "  - { id: h1, run: 'expect.status(http.get(\"/slow?ms=100\"), 200)' }\n"
    "  - { id: h2, run: 'expect.status(http.get(\"/slow?ms=100\"), 200)' }\n";

struct slots {
  int busy, max_busy; /* browser checks running now, and at most */
  char order[16];     /* ids' first letters+digits in start order: "b1h1h2b2b3" */
};

static void slots_start(const struct uat_check *check, void *ctx) {
  struct slots *s = ctx;
  if (check->id[0] == 'b' && ++s->busy > s->max_busy)
    s->max_busy = s->busy;
  strncat(s->order, check->id, sizeof s->order - strlen(s->order) - 1);
}

static void slots_done(const struct uat_check_result *r, size_t done, size_t total, void *ctx) {
  struct slots *s = ctx;
  (void)done;
  (void)total;
  s->busy -= r->id[0] == 'b';
}

/* --browsers 1 with --jobs 4: one browser check at a time, and the HTTP checks do not queue
 * behind them (h1 and h2 start while b1 holds the only slot). */
static void test_browser_slots(void **state) {
  struct fixture *f = *state;
  struct uat_playbook *pb = load(f, browsers, "");
  struct slots s = {0};
  struct uat_runner_options o = {.playbook = pb,
                                 .redactor = &f->red,
                                 .base_url = f->base,
                                 .jobs = 4,
                                 .browsers = 1,
                                 .on_start = slots_start,
                                 .on_done = slots_done,
                                 .ctx = &s};
  struct uat_error err;
  struct uat_run_result *r = uat_runner_run(&o, &err);
  if (!r)
    fail_msg("run: %s", err.text);
  assert_int_equal(r->passed, 5);
  assert_int_equal(s.max_busy, 1);
  assert_string_equal(s.order, "b1h1h2b2b3");
  uat_run_result_free(r);
  uat_playbook_free(pb);
}

/* A module every check requires: compiled once per run, but each check gets its own fresh
 * copy (a change one check makes is not seen by the next), its errors still name the file
 * and line, and scripts still cannot load binary chunks themselves. */
static const char shared_module[] = "local m = { value = 42 }\n"
                                    "function m.boom()\n"
                                    "  error(\"boom\")\n"
                                    "end\n"
                                    "return m\n";

static const char shared_checks[] =
    "  - { id: a, run: 'local m = require(\"shared_mod\"); expect.eq(m.value, 42); m.value = 7' }\n"
    "  - { id: b, run: 'local m = require(\"shared_mod\"); expect.eq(m.value, 42); m.value = 8' }\n"
    "  - { id: c, run: 'require(\"shared_mod\").boom()' }\n"
    "  - { id: d, run: 'require(\"shared_mod\").boom()' }\n"
    "  - { id: e, run: 'local f, why = load(\"\\27Lua\"); expect.eq(f, nil); "
    "expect.match(why, \"binary chunk\")' }\n";

static void write_module(struct fixture *f, char *dir, size_t dir_size, char *file,
                         size_t file_size) {
  snprintf(dir, dir_size, "%s/checklists", f->dir);
  snprintf(file, file_size, "%s/shared_mod.lua", dir);
  assert_int_equal(mkdir(dir, 0700), 0);
  FILE *out = fopen(file, "w");
  assert_non_null(out);
  fputs(shared_module, out);
  assert_int_equal(fclose(out), 0);
}

static void test_shared_modules(void **state) {
  struct fixture *f = *state;
  char dir[128], file[160];
  write_module(f, dir, sizeof dir, file, sizeof file);
  struct uat_playbook *pb = load(f, shared_checks, "");
  const int jobs[] = {1, 4};
  for (size_t j = 0; j < sizeof jobs / sizeof *jobs; j++) {
    struct progress p;
    struct uat_run_result *r = run(f, pb, jobs[j], NULL, 0, &p);
    assert_int_equal(r->nchecks, 5);
    assert_int_equal(r->checks[0].outcome, UAT_OUTCOME_PASS);
    assert_int_equal(r->checks[1].outcome, UAT_OUTCOME_PASS);
    for (size_t i = 2; i < 4; i++) {
      assert_int_equal(r->checks[i].outcome, UAT_OUTCOME_ERROR);
      assert_string_equal(r->checks[i].error, "checklists/shared_mod.lua:3: boom");
      assert_non_null(strstr(r->checks[i].traceback, "checklists/shared_mod.lua:3"));
    }
    if (r->checks[4].outcome != UAT_OUTCOME_PASS)
      fail_msg("binary chunk check: %s", r->checks[4].error ? r->checks[4].error : "failed");
    uat_run_result_free(r);
  }
  uat_playbook_free(pb);
  unlink(file);
  rmdir(dir);
}

/* The run shares curl's DNS and TLS session caches between checks, never cookies: a
 * session of one check does not send what another check's session was given. */
static const char cookie_checks[] =
    "  - { id: sets, run: 'local s = http.session(); s:get(\"/cookie/set?a=1\"); "
    "expect.eq(s:get(\"/cookie/get\").body, \"a=1\")' }\n"
    "  - { id: fresh, run: 'local s = http.session(); expect.eq(s:get(\"/cookie/get\").body, "
    "\"\")' }\n"
    "  - { id: plain, run: 'expect.eq(http.get(\"/cookie/get\").body, \"\")' }\n";

static void test_cookies_not_shared(void **state) {
  struct fixture *f = *state;
  struct uat_playbook *pb = load(f, cookie_checks, "");
  const int jobs[] = {1, 3};
  for (size_t j = 0; j < sizeof jobs / sizeof *jobs; j++) {
    struct progress p;
    struct uat_run_result *r = run(f, pb, jobs[j], NULL, 0, &p);
    for (size_t i = 0; i < r->nchecks; i++)
      if (r->checks[i].outcome != UAT_OUTCOME_PASS)
        fail_msg("--jobs %d: %s: %s", jobs[j], r->checks[i].id,
                 r->checks[i].error ? r->checks[i].error : "failed");
    uat_run_result_free(r);
  }
  uat_playbook_free(pb);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_order_and_counts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retries_share_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_browser_slots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_modules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cookies_not_shared, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  curl_global_cleanup();
  return failed;
}
