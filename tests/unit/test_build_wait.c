/* target.build's wait against the loopback test server: served at once, after a rollout
 * (counted in requests, so no test depends on the machine's speed), never, unreachable,
 * and each answer that is no version; a line per change, not per poll; secrets hidden. */
#include "check/build_wait.h"
#include "testserver.h"
#include "util/redact.h"

#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static struct uat_testserver *server;

static int setup(void **state) {
  (void)state;
  char err[256];
  server = uat_testserver_start(0, err, sizeof err);
  if (!server)
    fprintf(stderr, "test server: %s\n", err);
  return server ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  uat_testserver_stop(server);
  return 0;
}

static char *url_for(const char *path) {
  static char buf[512];
  snprintf(buf, sizeof buf, "http://127.0.0.1:%u%s", uat_testserver_port(server), path);
  return buf;
}

/* What the callback heard: one entry per change of staging's answer. */
struct heard {
  int calls;
  char what[8][512];
};

static void on_change(const struct uat_build_poll *p, void *ctx) {
  struct heard *h = ctx;
  if (h->calls < 8)
    snprintf(h->what[h->calls], sizeof h->what[0], "%s", p->what);
  h->calls++;
}

static struct uat_build_wait base_wait(const char *url, const char *json, const char *expect,
                                       struct heard *h) {
  return (struct uat_build_wait){.url = url,
                                 .json = json,
                                 .expect = expect,
                                 .wait_s = 30,
                                 .interval_s = 0.05,
                                 .timeout_s = 5,
                                 .on_change = on_change,
                                 .ctx = h};
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_served_at_once(void **state) {
  (void)state;
  struct heard h = {0};
  struct uat_build_wait w = base_wait(url_for("/deploy?key=once&to=v2"), "version", "v2", &h);
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 1);
  assert_true(last.matched);
  assert_int_equal(last.polls, 1);
  assert_string_equal(last.served, "v2");
  assert_int_equal(h.calls, 1); /* the first poll is always told */
  assert_string_equal(h.what[0], "serves \"v2\"");
  uat_build_poll_clear(&last);
}

static void test_served_after_rollout(void **state) {
  (void)state;
  struct heard h = {0};
  struct uat_build_wait w =
      base_wait(url_for("/deploy?key=roll&old=4&from=v1&to=v2"), "/release/version", "v2", &h);
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 1);
  assert_int_equal(last.polls, 5);
  assert_true(last.elapsed_s >= 4 * 0.05); /* four pauses at least */
  /* Five polls, two answers: v1 (told once, not four times), then v2. */
  assert_int_equal(h.calls, 2);
  assert_string_equal(h.what[0], "serves \"v1\"");
  assert_string_equal(h.what[1], "serves \"v2\"");
  uat_build_poll_clear(&last);
}

static void test_never_served_within_wait(void **state) {
  (void)state;
  struct heard h = {0};
  struct uat_build_wait w =
      base_wait(url_for("/deploy?key=never&old=100000&from=v1&to=v2"), "version", "v2", &h);
  w.wait_s = 0.4;
  w.interval_s = 0.1;
  struct uat_build_poll last;
  struct uat_error err;
  double start = now_s();
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
  double took = now_s() - start;
  assert_true(took >= 0.4);
  assert_true(took < 0.4 + 20); /* generous: the machine may be busy */
  assert_false(last.matched);
  assert_int_equal(last.state, UAT_BUILD_SERVED);
  assert_string_equal(last.served, "v1");
  assert_true(last.polls >= 2);
  assert_int_equal(h.calls, 1);
  uat_build_poll_clear(&last);
}

static void test_no_wait_is_one_poll(void **state) {
  (void)state;
  struct heard h = {0};
  struct uat_build_wait w =
      base_wait(url_for("/deploy?key=nowait&old=5&from=v1&to=v2"), "version", "v2", &h);
  w.wait_s = 0;
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
  assert_int_equal(last.polls, 1);
  uat_build_poll_clear(&last);
}

static void test_unreachable(void **state) {
  (void)state;
  struct heard h = {0};
  /* Port 9 (discard) is not served on the test machines (as the e2e cases assume). */
  struct uat_build_wait w = base_wait("http://127.0.0.1:9/api/version", "version", "v2", &h);
  w.wait_s = 0.2;
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
  assert_int_equal(last.state, UAT_BUILD_UNREACHABLE);
  assert_null(last.served);
  assert_non_null(strstr(last.what, "cannot be reached: "));
  assert_non_null(strstr(last.what, "refused"));
  /* The URL is named where the wait is described, not again in each answer. */
  assert_null(strstr(last.what, "127.0.0.1:9"));
  uat_build_poll_clear(&last);
}

struct answer_case {
  const char *path;
  const char *json;
  enum uat_build_poll_state state;
  const char *what;
};

/* Answers that name no version: each is its own state, in words. */
static void test_answers_without_a_version(void **state) {
  (void)state;
  static const struct answer_case cases[] = {
      {"/status/502", "version", UAT_BUILD_HTTP_STATUS, "answers HTTP 502"},
      {"/deploy?key=deploying&old=100000&to=v2", "version", UAT_BUILD_HTTP_STATUS,
       "answers HTTP 503"},
      {"/notjson", "version", UAT_BUILD_NOT_JSON, "answers something that is not JSON (line 1"},
      {"/json", "missing", UAT_BUILD_NO_FIELD, "answers JSON without \"missing\""},
      {"/json", "nested", UAT_BUILD_NO_FIELD, "\"nested\" is an object, not a version"},
      {"/json", "nothing", UAT_BUILD_NO_FIELD, "\"nothing\" is null, not a version"},
      {"/json", "items.7", UAT_BUILD_NO_FIELD, "answers JSON without \"items.7\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct heard h = {0};
    struct uat_build_wait w = base_wait(url_for(cases[i].path), cases[i].json, "v2", &h);
    w.wait_s = 0;
    struct uat_build_poll last;
    struct uat_error err;
    assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
    assert_int_equal(last.state, cases[i].state);
    if (!strstr(last.what, cases[i].what))
      fail_msg("%s: expected \"%s\" in: %s", cases[i].path, cases[i].what, last.what);
    uat_build_poll_clear(&last);
  }
}

/* Numbers and booleans compare as JSON writes them; array items by their index. */
static void test_values_as_text(void **state) {
  (void)state;
  static const struct {
    const char *json, *expect;
  } cases[] = {{"version", "1"},      {"items.2", "3"},       {"/items/0", "1"},
               {"nested.ok", "true"}, {"/nested/ok", "true"}, {"name", "uatrun"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct heard h = {0};
    struct uat_build_wait w = base_wait(url_for("/json"), cases[i].json, cases[i].expect, &h);
    w.wait_s = 0;
    struct uat_build_poll last;
    struct uat_error err;
    if (uat_build_wait_run(&w, &last, &err) != 1)
      fail_msg("%s: expected \"%s\", got: %s", cases[i].json, cases[i].expect, last.what);
    uat_build_poll_clear(&last);
  }
}

/* Without json:, the body is the version (white space around it trimmed); target.headers
 * are sent with each poll. */
static void test_text_body_and_headers(void **state) {
  (void)state;
  struct heard h = {0};
  struct uat_http_header_field auth = {.name = "Authorization", .value = "Token secret-token"};
  struct uat_build_wait w = base_wait(url_for("/auth"), NULL, "authorized", &h);
  w.wait_s = 0;
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0); /* without the header: 401 */
  assert_string_equal(last.what, "answers HTTP 401");
  uat_build_poll_clear(&last);
  w.headers = &auth;
  w.nheaders = 1;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 1);
  uat_build_poll_clear(&last);
  w = base_wait(url_for("/status/200"), NULL, "status 200", &h);
  w.wait_s = 0;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 1);
  uat_build_poll_clear(&last);
}

/* A secret in the URL or in what staging serves never reaches what a poll says. */
static void test_secrets_redacted(void **state) {
  (void)state;
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "hunter22"), 0);
  struct heard h = {0};
  struct uat_build_wait w =
      base_wait(url_for("/deploy?key=secret&to=v-hunter22"), "version", "v2", &h);
  w.wait_s = 0;
  w.redactor = &r;
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
  assert_string_equal(last.served, "v-***");
  assert_null(strstr(last.what, "hunter22"));
  uat_build_poll_clear(&last);
  w = base_wait("http://127.0.0.1:9/v?token=hunter22", "version", "v2", &h);
  w.wait_s = 0;
  w.redactor = &r;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 0);
  assert_null(strstr(last.what, "hunter22"));
  uat_build_poll_clear(&last);
  uat_redactor_release(&r);
}

/* A long served value is cut for showing (on a character boundary), compared whole. */
static void test_long_value_cut(void **state) {
  (void)state;
  char path[512], expect[300];
  memset(expect, 'a', 250);
  memcpy(expect + 199, "é", 2); /* a two-byte character across the cut */
  expect[250] = '\0';
  snprintf(path, sizeof path, "/deploy?key=long&to=%.199s%%C3%%A9%s", expect, expect + 201);
  struct heard h = {0};
  struct uat_build_wait w = base_wait(url_for(path), "version", expect, &h);
  w.wait_s = 0;
  struct uat_build_poll last;
  struct uat_error err;
  assert_int_equal(uat_build_wait_run(&w, &last, &err), 1);
  assert_int_equal(strlen(last.served), 199 + strlen("…"));
  assert_string_equal(last.served + 199, "…");
  uat_build_poll_clear(&last);
}

static void test_json_at(void **state) {
  (void)state;
  json_t *doc = json_loads("{\"a\":{\"b/c\":1,\"d~e\":2,\"l\":[10,20]},\"x.y\":3}", 0, NULL);
  assert_non_null(doc);
  assert_int_equal(json_integer_value(uat_build_json_at(doc, "/a/b~1c")), 1);
  assert_int_equal(json_integer_value(uat_build_json_at(doc, "/a/d~0e")), 2);
  assert_int_equal(json_integer_value(uat_build_json_at(doc, "a.l.1")), 20);
  assert_int_equal(json_integer_value(uat_build_json_at(doc, "/x.y")), 3);
  assert_null(uat_build_json_at(doc, "x.y")); /* a dotted path splits at the dot */
  assert_null(uat_build_json_at(doc, "a.l.01"));
  assert_null(uat_build_json_at(doc, "a.l.-1"));
  assert_null(uat_build_json_at(doc, "a.l.2"));
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_served_at_once),
      cmocka_unit_test(test_served_after_rollout),
      cmocka_unit_test(test_never_served_within_wait),
      cmocka_unit_test(test_no_wait_is_one_poll),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_answers_without_a_version),
      cmocka_unit_test(test_values_as_text),
      cmocka_unit_test(test_text_body_and_headers),
      cmocka_unit_test(test_secrets_redacted),
      cmocka_unit_test(test_long_value_cut),
      cmocka_unit_test(test_json_at),
  };
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  curl_global_cleanup();
  return failed;
}
