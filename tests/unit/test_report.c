/* Reports: terminal lines and summary, JUnit XML read back with libxml2, JSON read
 * back with jansson, and the text cleaning that keeps each of them valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/report.h"
#include "report/report_text.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building results by hand ---- */

static struct uat_run_result *new_run(const char *name) {
  struct uat_run_result *run = calloc(1, sizeof *run);
  assert_non_null(run);
  run->playbook_name = strdup(name);
  run->playbook_path = strdup("examples/tm-staging.yml");
  run->release = strdup("v4.6.2");
  run->commit = strdup("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d");
  run->digest = strdup("sha256:abc123");
  run->base_url = strdup("http://127.0.0.1:8080");
  run->started_at = 1714564800; /* 2024-05-01T12:00:00Z */
  run->finished_at = 1714564802;
  run->duration_s = 2.1;
  return run;
}

static struct uat_check_result *add_check(struct uat_run_result *run, const char *id,
                                          const char *title, enum uat_outcome outcome,
                                          double duration_s) {
  struct uat_check_result *grown = realloc(run->checks, (run->nchecks + 1) * sizeof *grown);
  assert_non_null(grown);
  run->checks = grown;
  struct uat_check_result *r = &run->checks[run->nchecks++];
  memset(r, 0, sizeof *r);
  r->id = strdup(id);
  r->title = title ? strdup(title) : NULL;
  r->outcome = outcome;
  r->duration_s = duration_s;
  r->attempts = 1;
  run->passed += outcome == UAT_OUTCOME_PASS;
  run->failed += outcome == UAT_OUTCOME_FAIL;
  run->errored += outcome == UAT_OUTCOME_ERROR;
  return r;
}

static void expect_ok(struct uat_check_result *r, const char *message) {
  assert_int_equal(
      uat_check_result_add_expectation(r, true, "truthy", message, NULL, NULL, "login.lua:3"), 0);
}

static void expect_failed(struct uat_check_result *r, const char *message, const char *actual,
                          const char *expected, const char *where) {
  assert_int_equal(
      uat_check_result_add_expectation(r, false, "eq", message, actual, expected, where), 0);
}

/* Three passes, one failure, one error: the run most tests report on. */
static struct uat_run_result *mixed_run(void) {
  struct uat_run_result *run = new_run("Tasking Manager staging UAT");
  struct uat_check_result *r = add_check(run, "home", "Home page loads", UAT_OUTCOME_PASS, 0.12);
  expect_ok(r, "home returns 200");
  assert_int_equal(uat_check_result_add_log(r, "GET / took 12ms"), 0);
  /* no title in the playbook: the title is the id */
  add_check(run, "projects", "projects", UAT_OUTCOME_PASS, 0.3);
  r = add_check(run, "login", "Log in works", UAT_OUTCOME_FAIL, 1.234);
  expect_ok(r, "login form present");
  expect_failed(r, "status is 200", "500", "200", "login.lua:12");
  expect_failed(r, "welcome shown", "nil", NULL, NULL);
  r->attempts = 2;
  assert_int_equal(uat_check_result_add_log(r, "POST /login -> 500"), 0);
  r = add_check(run, "api", "API answers", UAT_OUTCOME_ERROR, 5);
  r->error = strdup("GET http://127.0.0.1:8080/api: connection refused");
  r->traceback = strdup("stack traceback:\n\tapi.lua:4: in main chunk");
  add_check(run, "about", NULL, UAT_OUTCOME_PASS, 0.05);
  return run;
}

/* ---- terminal capture ---- */

struct capture {
  char *buf;
  size_t len;
  struct uat_term t;
};

static void capture_open(struct capture *c, bool color) {
  memset(c, 0, sizeof *c);
  c->t.out = open_memstream(&c->buf, &c->len);
  assert_non_null(c->t.out);
  c->t.color = color;
}

static const char *capture_text(struct capture *c) {
  fflush(c->t.out);
  return c->buf;
}

static void capture_close(struct capture *c) {
  fclose(c->t.out);
  free(c->buf);
}

static void report_all(const struct uat_term *t, const struct uat_run_result *run) {
  uat_term_begin(t, run, run->nchecks);
  for (size_t i = 0; i < run->nchecks; i++) {
    uat_term_check_started(t, run->checks[i].id, i, run->nchecks);
    uat_term_check_done(t, &run->checks[i]);
  }
  uat_term_summary(t, run);
}

#define assert_contains(haystack, needle)                                                          \
  do {                                                                                             \
    if (!strstr((haystack), (needle)))                                                             \
      fail_msg("expected to find \"%s\" in:\n%s", (needle), (haystack));                           \
  } while (0)

#define assert_lacks(haystack, needle)                                                             \
  do {                                                                                             \
    if (strstr((haystack), (needle)))                                                              \
      fail_msg("did not expect \"%s\" in:\n%s", (needle), (haystack));                             \
  } while (0)

static void term_header_names_target_release_commit(void **state) {
  struct uat_run_result *run = mixed_run();
  struct capture c;
  capture_open(&c, false);
  uat_term_begin(&c.t, run, 12);
  assert_string_equal(capture_text(&c),
                      "uatrun — Tasking Manager staging UAT\n"
                      "target http://127.0.0.1:8080 · release v4.6.2 · commit 1a2b3c4d5e6f · "
                      "12 checks\n\n");
  capture_close(&c);

  free(run->release);
  run->release = NULL;
  free(run->commit);
  run->commit = strdup("unknown");
  capture_open(&c, false);
  uat_term_begin(&c.t, run, 1);
  assert_contains(capture_text(&c), "release unknown · commit unknown · 1 check\n");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_lines_per_outcome(void **state) {
  struct uat_run_result *run = mixed_run();
  struct capture c;
  capture_open(&c, false);
  report_all(&c.t, run);
  const char *out = capture_text(&c);
  assert_contains(out, "\n✓ pass  home  Home page loads  120ms\n");
  assert_contains(out, "\n✗ FAIL  login  Log in works  1.2s (2 attempts)\n");
  assert_contains(out, "    ✗ status is 200 (login.lua:12)\n"
                       "      expected: 200\n"
                       "      actual:   500\n"
                       "    ✗ welcome shown\n"
                       "      actual:   nil\n");
  assert_contains(out, "\n✗ ERROR api  API answers  5.0s\n"
                       "    error: GET http://127.0.0.1:8080/api: connection refused\n");
  /* A check without a title shows its id only. */
  assert_contains(out, "\n✓ pass  about  50ms\n");
  /* Not verbose: no passed expectations or tracebacks; logs of failed checks only. */
  assert_lacks(out, "login form present");
  assert_contains(out, "    log: POST /login -> 500\n");
  assert_lacks(out, "GET / took 12ms");
  assert_lacks(out, "traceback");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_fail_without_expectation_shows_reason(void **state) {
  struct uat_run_result *run = new_run("p");
  struct uat_check_result *r = add_check(run, "empty", "Empty", UAT_OUTCOME_FAIL, 0.01);
  r->error = strdup("no expectation was recorded; call expect.* at least once");
  add_check(run, "bare", NULL, UAT_OUTCOME_FAIL, 0.01);
  struct capture c;
  capture_open(&c, false);
  uat_term_check_done(&c.t, &run->checks[0]);
  uat_term_check_done(&c.t, &run->checks[1]);
  assert_string_equal(capture_text(&c),
                      "✗ FAIL  empty  Empty  10ms\n"
                      "    ✗ no expectation was recorded; call expect.* at least once\n"
                      "✗ FAIL  bare  10ms\n"
                      "    ✗ the check failed without a recorded reason\n");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_verbose_shows_everything(void **state) {
  struct uat_run_result *run = mixed_run();
  struct capture c;
  capture_open(&c, false);
  c.t.verbose = true;
  report_all(&c.t, run);
  const char *out = capture_text(&c);
  assert_contains(out, "✓ pass  home  Home page loads  120ms\n"
                       "    ✓ home returns 200 (login.lua:3)\n"
                       "    log: GET / took 12ms\n");
  assert_contains(out, "    ✓ login form present (login.lua:3)\n"
                       "    ✗ status is 200 (login.lua:12)\n");
  assert_contains(out, "    error: GET http://127.0.0.1:8080/api: connection refused\n"
                       "    traceback:\n"
                       "      stack traceback:\n"
                       "      \tapi.lua:4: in main chunk\n");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_quiet_hides_passes(void **state) {
  struct uat_run_result *run = mixed_run();
  struct capture c;
  capture_open(&c, false);
  c.t.quiet = true;
  report_all(&c.t, run);
  const char *out = capture_text(&c);
  assert_lacks(out, "✓");
  assert_lacks(out, "uatrun —");
  assert_contains(out, "✗ FAIL  login");
  assert_contains(out, "      actual:   500\n");
  assert_contains(out, "✗ ERROR api");
  assert_contains(out, "RESULT: FAIL\n");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_colour_only_when_asked(void **state) {
  struct uat_run_result *run = mixed_run();
  struct uat_check_result *r = &run->checks[2];
  /* A response body may carry escape sequences: they are shown, never obeyed. */
  expect_failed(r, "body is clean", "\033[2J\033]0;pwned\007\r\xc2\x9b", "ok", NULL);
  struct capture c;
  capture_open(&c, false);
  c.t.verbose = true;
  report_all(&c.t, run);
  const char *plain = capture_text(&c);
  assert_null(strchr(plain, '\033'));
  assert_null(strchr(plain, '\r'));
  assert_null(strstr(plain, "\xc2\x9b"));
  assert_contains(plain, "actual:   \\x1b[2J\\x1b]0;pwned\\x07\\x0d\\u009b\n");
  capture_close(&c);

  capture_open(&c, true);
  report_all(&c.t, run);
  const char *coloured = capture_text(&c);
  assert_contains(coloured, "\033[32m✓\033[0m");
  assert_contains(coloured, "\033[1;31m✗\033[0m \033[1;31mFAIL \033[0m \033[1mlogin\033[0m");
  assert_contains(coloured, "\033[1;31mRESULT: FAIL\033[0m\n");
  /* The line CI parsers read stays plain even with colour. */
  assert_contains(coloured, "\n3 passed, 2 failed\n");
  assert_contains(coloured, "\\x1b[2J");
  capture_close(&c);
  uat_run_result_free(run);
}

static void term_progress_only_on_tty(void **state) {
  struct capture c;
  capture_open(&c, false);
  uat_term_check_started(&c.t, "check-id", 2, 12);
  assert_int_equal(strlen(capture_text(&c)), 0);
  c.t.progress = true;
  uat_term_check_started(&c.t, "check-id", 2, 12);
  assert_string_equal(capture_text(&c), "\r\033[K[3/12] running check-id…");
  capture_close(&c);

  /* The permanent line that follows clears the transient one first. */
  struct uat_run_result *run = mixed_run();
  capture_open(&c, false);
  c.t.progress = true;
  uat_term_check_done(&c.t, &run->checks[0]);
  assert_string_equal(capture_text(&c), "\r\033[K✓ pass  home  Home page loads  120ms\n");
  capture_close(&c);
  uat_run_result_free(run);
}

/* Ids padded to the longest selected one, so titles start in one column; a line still
 * begins "✓ pass  ID" for grep, and an id past the cap only pushes its own title. */
static void term_titles_line_up(void **state) {
  struct uat_run_result *run = new_run("p");
  add_check(run, "heartbeat", "Staging is up", UAT_OUTCOME_PASS, 0.001);
  add_check(run, "private-project-pages", "Private pages", UAT_OUTCOME_FAIL, 0.002);
  add_check(run, "untitled", NULL, UAT_OUTCOME_PASS, 0.001);
  add_check(run, "an-id-that-is-much-longer-than-the-cap-of-the-column", "Long", UAT_OUTCOME_PASS,
            0.001);
  struct capture c;
  capture_open(&c, false);
  c.t.id_width = strlen("private-project-pages");
  for (size_t i = 0; i < run->nchecks; i++)
    uat_term_check_done(&c.t, &run->checks[i]);
  const char *out = capture_text(&c);
  assert_contains(out, "✓ pass  heartbeat              Staging is up  1ms\n");
  assert_contains(out, "✗ FAIL  private-project-pages  Private pages  2ms\n");
  assert_contains(out, "✓ pass  untitled  1ms\n");
  capture_close(&c);

  capture_open(&c, false);
  c.t.id_width = 60;
  uat_term_check_done(&c.t, &run->checks[0]);
  uat_term_check_done(&c.t, &run->checks[3]);
  out = capture_text(&c);
  assert_contains(out, "✓ pass  heartbeat                         Staging is up  1ms\n");
  assert_contains(out, "✓ pass  an-id-that-is-much-longer-than-the-cap-of-the-column  Long  1ms\n");
  capture_close(&c);
  uat_run_result_free(run);
}

/* Display columns of the progress line after its clearing sequence (ASCII apart from
 * the final "…"). */
static size_t progress_columns(const char *s) {
  const char *text = strstr(s, "\033[K");
  assert_non_null(text);
  text += 3;
  size_t cols = 0;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    cols += (*p & 0xC0) != 0x80;
  return cols;
}

/* The progress line wraps on a terminal narrower than it, and \033[K clears only the last
 * row: the first stayed on screen above the next check's line. */
static void term_progress_fits_the_terminal(void **state) {
  const char *id = "first-check-with-a-long-identifier-that-is-longer-than-sixty-columns-wide";
  static const int widths[] = {60, 40, 20, 10, 3, 1, 0};
  for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
    struct capture c;
    capture_open(&c, false);
    c.t.progress = true;
    c.t.columns = widths[i];
    uat_term_check_started(&c.t, id, 2, 12);
    if (widths[i] > 0 && widths[i] < 3) { /* no room for anything: no progress line */
      assert_int_equal(strlen(capture_text(&c)), 0);
      capture_close(&c);
      continue;
    }
    size_t cols = progress_columns(capture_text(&c));
    size_t limit = widths[i] ? (size_t)widths[i] - 1 : 79;
    if (cols > limit)
      fail_msg("%d columns: the progress line takes %zu: %s", widths[i], cols, capture_text(&c));
    capture_close(&c);
  }
  struct capture c;
  capture_open(&c, false);
  c.t.progress = true;
  c.t.columns = 40;
  uat_term_check_started(&c.t, id, 2, 12);
  assert_string_equal(capture_text(&c), "\r\033[K[3/12] running first-check-with-a-long…");
  capture_close(&c);
}

static void term_multiline_values_keep_their_column(void **state) {
  struct uat_run_result *run = new_run("p");
  struct uat_check_result *r = add_check(run, "body", "Body", UAT_OUTCOME_FAIL, 0.2);
  expect_failed(r, "body matches", "line one\nline two\n", "welcome", NULL);
  struct capture c;
  capture_open(&c, false);
  uat_term_check_done(&c.t, r);
  assert_contains(capture_text(&c), "      actual:   line one\n"
                                    "                line two\n");
  capture_close(&c);
  uat_run_result_free(run);
}

struct summary_case {
  const char *name;
  enum uat_outcome outcomes[6];
  size_t n;
  const char *expected;
};

static void term_summary_lines(void **state) {
  static const struct summary_case cases[] = {
      {"mixed",
       {UAT_OUTCOME_PASS, UAT_OUTCOME_FAIL, UAT_OUTCOME_ERROR, UAT_OUTCOME_PASS, UAT_OUTCOME_PASS},
       5,
       "\n3 passed, 2 failed\n5 checks in 2.1s — 1 of the 2 failed on an error (script, network or "
       "timeout)\nfailed: c1, c2\n"
       "RESULT: FAIL\n"},
      {"all pass",
       {UAT_OUTCOME_PASS, UAT_OUTCOME_PASS},
       2,
       "\n2 passed, 0 failed\n2 checks in 2.1s\nRESULT: PASS\n"},
      {"one failure",
       {UAT_OUTCOME_FAIL},
       1,
       "\n0 passed, 1 failed\n1 check in 2.1s\nfailed: c0\nRESULT: FAIL\n"},
      {"skipped",
       {UAT_OUTCOME_PASS, UAT_OUTCOME_SKIP},
       2,
       "\n1 passed, 0 failed, 1 skipped\n2 checks in 2.1s\nRESULT: FAIL\n"},
      {"none", {UAT_OUTCOME_PASS}, 0, "\n0 passed, 0 failed\nno checks ran (2.1s)\nRESULT: FAIL\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_run_result *run = new_run("p");
    for (size_t j = 0; j < cases[i].n; j++) {
      char id[24];
      snprintf(id, sizeof id, "c%zu", j);
      add_check(run, id, NULL, cases[i].outcomes[j], 0.1);
    }
    struct capture c;
    capture_open(&c, false);
    uat_term_summary(&c.t, run);
    if (strcmp(capture_text(&c), cases[i].expected) != 0)
      fail_msg("case '%s': got\n%s\nwanted\n%s", cases[i].name, c.buf, cases[i].expected);
    capture_close(&c);
    uat_run_result_free(run);
  }
}

/* ---- temporary folders ---- */

static char *make_tmpdir(void) {
  char *dir = strdup("/tmp/uat-report-test-XXXXXX");
  assert_non_null(dir);
  assert_non_null(mkdtemp(dir));
  return dir;
}

static char *join(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);
  assert_non_null(p);
  snprintf(p, len, "%s/%s", dir, name);
  return p;
}

/* Names in dir, comma-separated and sorted, to assert nothing was left behind. */
static void list_dir(const char *dir, char *out, size_t size) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort);
  assert_true(n >= 0);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
      strncat(out, names[i]->d_name, size - strlen(out) - 1);
      strncat(out, ",", size - strlen(out) - 1);
    }
    free(names[i]);
  }
  free(names);
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char *p = join(dir, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(p);
    else
      unlink(p);
    free(p);
  }
  closedir(d);
  rmdir(dir);
}

/* ---- JUnit ---- */

static xmlDocPtr read_xml(const char *path) {
  xmlDocPtr doc =
      xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc)
    fail_msg("'%s' is not well-formed XML", path);
  return doc;
}

/* The string value of an XPath expression (string(...) or count(...)). */
static char *xpath_string(xmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  assert_non_null(ctx);
  xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
  if (!obj)
    fail_msg("bad xpath %s", expr);
  xmlChar *s = xmlXPathCastToString(obj);
  char *copy = strdup((const char *)s);
  xmlFree(s);
  xmlXPathFreeObject(obj);
  xmlXPathFreeContext(ctx);
  return copy;
}

#define assert_xpath(doc, expr, expected)                                                          \
  do {                                                                                             \
    char *got_ = xpath_string((doc), (expr));                                                      \
    if (strcmp(got_, (expected)) != 0)                                                             \
      fail_msg("%s: got \"%s\", wanted \"%s\"", (expr), got_, (expected));                         \
    free(got_);                                                                                    \
  } while (0)

static void junit_counts_names_and_problems(void **state) {
  struct uat_run_result *run = mixed_run();
  char *dir = make_tmpdir();
  char *path = join(dir, "junit.xml");
  struct uat_error err = {{0}};
  assert_int_equal(uat_report_junit_write(run, path, &err), 0);
  xmlDocPtr doc = read_xml(path);
  assert_xpath(doc, "string(/testsuites/@name)", "uatrun");
  assert_xpath(doc, "string(/testsuites/@tests)", "5");
  assert_xpath(doc, "string(/testsuites/@failures)", "1");
  assert_xpath(doc, "string(/testsuites/@errors)", "1");
  assert_xpath(doc, "string(/testsuites/@time)", "2.100");
  assert_xpath(doc, "count(/testsuites/testsuite)", "1");
  assert_xpath(doc, "string(//testsuite/@name)", "Tasking Manager staging UAT");
  assert_xpath(doc, "string(//testsuite/@skipped)", "0");
  assert_xpath(doc, "string(//testsuite/@timestamp)", "2024-05-01T12:00:00");
  assert_xpath(doc, "string(//testsuite/properties/property[@name='release']/@value)", "v4.6.2");
  assert_xpath(doc, "string(//testsuite/properties/property[@name='commit']/@value)",
               "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d");
  assert_xpath(doc, "string(//testsuite/properties/property[@name='digest']/@value)",
               "sha256:abc123");
  assert_xpath(doc, "string(//testsuite/properties/property[@name='base_url']/@value)",
               "http://127.0.0.1:8080");
  assert_xpath(doc, "count(//testcase)", "5");
  assert_xpath(doc, "count(//testcase[@classname='uatrun.tasking-manager-staging-uat'])", "5");
  assert_xpath(doc, "string(//testcase[1]/@name)", "home: Home page loads");
  assert_xpath(doc, "string(//testcase[1]/@time)", "0.120");
  assert_xpath(doc, "string(//testcase[2]/@name)", "projects");
  assert_xpath(doc, "string(//testcase[5]/@name)", "about");
  assert_xpath(doc, "count(//testcase[1]/*[name()!='system-out'])", "0");
  assert_xpath(doc, "string(//testcase[1]/system-out)", "GET / took 12ms\n");

  assert_xpath(doc, "string(//testcase[3]/@time)", "1.234");
  assert_xpath(doc, "string(//testcase[3]/failure/@message)", "status is 200");
  assert_xpath(doc, "string(//testcase[3]/failure/@type)", "expectation");
  assert_xpath(doc, "string(//testcase[3]/failure)",
               "status is 200 (login.lua:12): expected 200, actual 500\n"
               "welcome shown: actual nil\n");
  assert_xpath(doc, "string(//testcase[3]/properties/property[@name='attempts']/@value)", "2");
  assert_xpath(doc, "count(//testcase[3]/error)", "0");

  assert_xpath(doc, "string(//testcase[4]/error/@message)",
               "GET http://127.0.0.1:8080/api: connection refused");
  assert_xpath(doc, "string(//testcase[4]/error/@type)", "error");
  assert_xpath(doc, "string(//testcase[4]/error)",
               "GET http://127.0.0.1:8080/api: connection refused\n\n"
               "stack traceback:\n\tapi.lua:4: in main chunk\n");
  assert_xpath(doc, "count(//testcase[4]/properties)", "0");
  xmlFreeDoc(doc);
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

static void junit_well_formed_for_any_bytes(void **state) {
  struct uat_run_result *run = new_run("Odd \x01 name \xff");
  struct uat_check_result *r =
      add_check(run, "odd", "Title <&> \"quoted\" \x1b", UAT_OUTCOME_FAIL, 0.5);
  expect_failed(r, "ctl \x01 and bad \xff\xfe bytes ]]>", "\x0b\x0c\xc3", "\xef\xbf\xbf",
                "x.lua:1");
  assert_int_equal(uat_check_result_add_log(r, "log \x02 \xc0\xaf"), 0);
  r = add_check(run, "err", NULL, UAT_OUTCOME_ERROR, 0.5);
  r->error = strdup("boom \x7f \x01\xed\xa0\x80");
  char *dir = make_tmpdir();
  char *path = join(dir, "junit.xml");
  struct uat_error err = {{0}};
  assert_int_equal(uat_report_junit_write(run, path, &err), 0);
  xmlDocPtr doc = read_xml(path);
  assert_xpath(doc, "string(//testsuite/@name)", "Odd \\x01 name \xef\xbf\xbd");
  assert_xpath(doc, "string(//testcase[1]/@classname)", "uatrun.odd-name");
  assert_xpath(doc, "string(//testcase[1]/@name)", "odd: Title <&> \"quoted\" \\x1b");
  assert_xpath(doc, "string(//testcase[1]/failure/@message)",
               "ctl \\x01 and bad \xef\xbf\xbd\xef\xbf\xbd bytes ]]>");
  assert_xpath(doc, "string(//testcase[1]/failure)",
               "ctl \\x01 and bad \xef\xbf\xbd\xef\xbf\xbd bytes ]]> (x.lua:1): expected "
               "\xef\xbf\xbd, actual \\x0b\\x0c\xef\xbf\xbd\n");
  assert_xpath(doc, "string(//testcase[1]/system-out)", "log \\x02 \xef\xbf\xbd\xef\xbf\xbd\n");
  assert_xpath(doc, "string(//testcase[2]/error/@message)",
               "boom \x7f \\x01\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  xmlFreeDoc(doc);
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

/* ---- unwritable paths, for both file reports ---- */

typedef int (*write_fn)(const struct uat_run_result *run, const char *path, struct uat_error *err);

static int write_json_plain(const struct uat_run_result *run, const char *path,
                            struct uat_error *err) {
  return uat_report_json_write(run, NULL, path, err);
}

static void assert_unwritable(write_fn write) {
  struct uat_run_result *run = mixed_run();
  struct uat_error err = {{0}};
  const char *missing = "/nonexistent-uat-report-dir/report.out";
  assert_int_equal(write(run, missing, &err), -1);
  assert_contains(err.text, "'/nonexistent-uat-report-dir/report.out'");
  assert_contains(err.text, "No such file or directory");

  assert_int_equal(write(run, "/proc/uat-report.out", &err), -1);
  assert_contains(err.text, "'/proc/uat-report.out'");

  /* The final rename fails (the name is a folder): the temporary file is removed. */
  char *dir = make_tmpdir();
  char *sub = join(dir, "taken");
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(write(run, sub, &err), -1);
  assert_contains(err.text, sub);
  char names[256];
  list_dir(dir, names, sizeof names);
  assert_string_equal(names, "taken,");
  remove_tree(dir);
  free(sub);
  free(dir);
  uat_run_result_free(run);
}

static void junit_unwritable_path(void **state) {
  assert_unwritable(uat_report_junit_write);
}

static void json_unwritable_path(void **state) {
  assert_unwritable(write_json_plain);
}

/* ---- JSON ---- */

static json_t *load_json(const char *path) {
  json_error_t jerr;
  json_t *root = json_load_file(path, 0, &jerr);
  if (!root)
    fail_msg("'%s' is not JSON: %s", path, jerr.text);
  return root;
}

/* Follows a field path like "checks.2.expectations.0.ok", so assertions read as paths. */
static json_t *jget(json_t *root, const char *path) {
  json_t *v = root;
  const char *part = path;
  while (v) {
    const char *dot = strchr(part, '.');
    size_t len = dot ? (size_t)(dot - part) : strlen(part);
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)len, part);
    v = json_is_array(v) ? json_array_get(v, strtoul(key, NULL, 10)) : json_object_get(v, key);
    if (!dot)
      break;
    part = dot + 1;
  }
  if (!v)
    fail_msg("no field %s", path);
  return v;
}

static const char *jstr(json_t *root, const char *path) {
  json_t *v = jget(root, path);
  if (json_is_null(v))
    return "(null)";
  if (!json_is_string(v))
    fail_msg("field %s is not a string", path);
  return json_string_value(v);
}

/* What target.build found is in the report, under "build", with rounded seconds. */
static void json_build(void **state) {
  (void)state;
  struct uat_run_result *run = new_run("Build");
  add_check(run, "home", NULL, UAT_OUTCOME_PASS, 0.1);
  run->build = calloc(1, sizeof *run->build);
  assert_non_null(run->build);
  run->build->url = strdup("https://staging/api/version?t=***");
  run->build->expected = strdup("v4.6.3");
  run->build->served = strdup("v4.6.3");
  run->build->waited_s = 12.3456;
  run->build->polls = 7;
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  struct uat_error err = {{0}};
  assert_int_equal(uat_report_json_write(run, NULL, path, &err), 0);
  json_t *root = load_json(path);
  assert_string_equal(jstr(root, "build.url"), "https://staging/api/version?t=***");
  assert_string_equal(jstr(root, "build.json"), "(null)");
  assert_string_equal(jstr(root, "build.expected"), "v4.6.3");
  assert_string_equal(jstr(root, "build.served"), "v4.6.3");
  assert_float_equal(json_real_value(jget(root, "build.waited_s")), 12.346, 1e-9);
  assert_int_equal(json_integer_value(jget(root, "build.polls")), 7);
  json_decref(root);
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

static void json_fields(void **state) {
  struct uat_run_result *run = mixed_run();
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  struct uat_error err = {{0}};
  assert_int_equal(uat_report_json_write(run, NULL, path, &err), 0);
  json_t *root = load_json(path);
  assert_int_equal(json_integer_value(jget(root, "uatrun_report_version")), 1);
  assert_string_equal(jstr(root, "playbook.name"), "Tasking Manager staging UAT");
  assert_string_equal(jstr(root, "playbook.path"), "examples/tm-staging.yml");
  assert_string_equal(jstr(root, "playbook.digest"), "sha256:abc123");
  assert_string_equal(jstr(root, "release"), "v4.6.2");
  assert_string_equal(jstr(root, "commit"), "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d");
  assert_string_equal(jstr(root, "base_url"), "http://127.0.0.1:8080");
  assert_true(json_is_null(jget(root, "build"))); /* no target.build */
  assert_string_equal(jstr(root, "started_at"), "2024-05-01T12:00:00Z");
  assert_string_equal(jstr(root, "finished_at"), "2024-05-01T12:00:02Z");
  assert_float_equal(json_real_value(jget(root, "duration_s")), 2.1, 1e-9);
  assert_int_equal(json_integer_value(jget(root, "summary.total")), 5);
  assert_int_equal(json_integer_value(jget(root, "summary.passed")), 3);
  assert_int_equal(json_integer_value(jget(root, "summary.failed")), 1);
  assert_int_equal(json_integer_value(jget(root, "summary.errors")), 1);
  assert_int_equal(json_integer_value(jget(root, "summary.skipped")), 0);
  assert_string_equal(jstr(root, "summary.result"), "fail");
  assert_int_equal(json_array_size(jget(root, "checks")), 5);
  assert_string_equal(jstr(root, "checks.0.id"), "home");
  assert_string_equal(jstr(root, "checks.0.outcome"), "pass");
  assert_string_equal(jstr(root, "checks.0.error"), "(null)");
  assert_string_equal(jstr(root, "checks.0.logs.0"), "GET / took 12ms");
  assert_float_equal(json_real_value(jget(root, "checks.0.duration_s")), 0.12, 1e-9);
  assert_string_equal(jstr(root, "checks.2.outcome"), "fail");
  assert_int_equal(json_integer_value(jget(root, "checks.2.attempts")), 2);
  assert_true(json_is_true(jget(root, "checks.2.expectations.0.ok")));
  assert_true(json_is_false(jget(root, "checks.2.expectations.1.ok")));
  assert_string_equal(jstr(root, "checks.2.expectations.1.kind"), "eq");
  assert_string_equal(jstr(root, "checks.2.expectations.1.message"), "status is 200");
  assert_string_equal(jstr(root, "checks.2.expectations.1.actual"), "500");
  assert_string_equal(jstr(root, "checks.2.expectations.1.expected"), "200");
  assert_string_equal(jstr(root, "checks.2.expectations.1.where"), "login.lua:12");
  assert_string_equal(jstr(root, "checks.2.expectations.2.expected"), "(null)");
  assert_string_equal(jstr(root, "checks.3.outcome"), "error");
  assert_string_equal(jstr(root, "checks.3.traceback"),
                      "stack traceback:\n\tapi.lua:4: in main chunk");
  assert_string_equal(jstr(root, "checks.4.title"), "(null)");
  assert_null(json_object_get(root, "gate"));
  json_decref(root);

  /* Pretty-printed, in the documented order, with no float noise. */
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_int_equal(getdelim(&text, &len, '\0', f) > 0, 1);
  fclose(f);
  assert_true(strncmp(text, "{\n  \"uatrun_report_version\": 1,\n  \"playbook\": {", 47) == 0);
  assert_contains(text, "\"duration_s\": 0.12,");
  assert_int_equal(text[strlen(text) - 1], '\n');
  free(text);
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

static void json_repairs_invalid_utf8(void **state) {
  struct uat_run_result *run = new_run("bad \xff name");
  free(run->release);
  run->release = NULL;
  run->started_at = 0;
  struct uat_check_result *r = add_check(run, "odd", "t\xc3", UAT_OUTCOME_FAIL, 0.1);
  expect_failed(r, "ctl \x01 bad \xfe", "\xed\xa0\x80", "é", NULL);
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  struct uat_error err = {{0}};
  assert_int_equal(uat_report_json_write(run, NULL, path, &err), 0);
  json_t *root = load_json(path);
  assert_string_equal(jstr(root, "playbook.name"), "bad \xef\xbf\xbd name");
  assert_string_equal(jstr(root, "release"), "(null)");
  assert_string_equal(jstr(root, "started_at"), "(null)");
  assert_string_equal(jstr(root, "checks.0.title"), "t\xef\xbf\xbd");
  /* JSON can carry control characters (escaped by jansson); only bad bytes change. */
  assert_string_equal(jstr(root, "checks.0.expectations.0.message"), "ctl \x01 bad \xef\xbf\xbd");
  assert_string_equal(jstr(root, "checks.0.expectations.0.actual"),
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  assert_string_equal(jstr(root, "checks.0.expectations.0.expected"), "é");
  json_decref(root);
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

static void json_extra_fields_merge(void **state) {
  struct uat_run_result *run = mixed_run();
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  struct uat_error err = {{0}};
  assert_int_equal(
      uat_report_json_write(run, "{\"gate\": {\"verdict\": \"no-go\"}, \"policy\": 2}", path, &err),
      0);
  json_t *root = load_json(path);
  assert_string_equal(jstr(root, "gate.verdict"), "no-go");
  assert_int_equal(json_integer_value(jget(root, "policy")), 2);
  assert_string_equal(jstr(root, "summary.result"), "fail");
  json_decref(root);
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

struct extra_case {
  const char *extra;
  const char *message;
};

static void json_extra_fields_refused(void **state) {
  static const struct extra_case cases[] = {
      {"{not json",
       "extra fields are not valid JSON (line 1, column 4: string or '}' expected near 'not')"},
      {"", "extra fields are not valid JSON"},
      {"[1, 2]", "extra fields must be a JSON object"},
      {"\"gate\"", "extra fields must be a JSON object"},
      {"{\"checks\": []}", "extra field 'checks' would replace a report field; rename it"},
      {"{\"a\": 1, \"a\": 2}", "duplicate object key"},
  };
  struct uat_run_result *run = mixed_run();
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_error err = {{0}};
    assert_int_equal(uat_report_json_write(run, cases[i].extra, path, &err), -1);
    assert_contains(err.text, "cannot write JSON report '");
    assert_contains(err.text, path);
    assert_contains(err.text, cases[i].message);
    char names[64];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "");
  }
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

static void json_replaces_existing_file_whole(void **state) {
  struct uat_run_result *run = mixed_run();
  char *dir = make_tmpdir();
  char *path = join(dir, "report.json");
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("old content that is much longer than nothing at all", f);
  fclose(f);
  struct uat_error err = {{0}};
  /* A refused write leaves the old file as it was. */
  assert_int_equal(uat_report_json_write(run, "[]", path, &err), -1);
  char names[64];
  list_dir(dir, names, sizeof names);
  assert_string_equal(names, "report.json,");
  assert_int_equal(uat_report_json_write(run, NULL, path, &err), 0);
  json_t *root = load_json(path);
  assert_string_equal(jstr(root, "checks.0.id"), "home");
  json_decref(root);
  list_dir(dir, names, sizeof names);
  assert_string_equal(names, "report.json,");
  remove_tree(dir);
  free(path);
  free(dir);
  uat_run_result_free(run);
}

/* Reports follow a symbolic link (the file it names is replaced, the link stays), and a
 * device or a descriptor (/dev/null, /dev/full, /dev/fd/N) is written in place, never
 * replaced by a rename: as root, a rename would put a regular file where /dev/null was. */
static void reports_follow_links_and_write_devices_in_place(void **state) {
  struct uat_run_result *run = mixed_run();
  struct uat_error err = {{0}};
  char *dir = make_tmpdir();
  char *other = join(dir, "other");
  assert_int_equal(mkdir(other, 0700), 0);
  char *target = join(other, "report.json");
  char *link = join(dir, "link.json");
  FILE *f = fopen(target, "w");
  assert_non_null(f);
  fputs("old", f);
  fclose(f);
  assert_int_equal(symlink("other/report.json", link), 0);
  assert_int_equal(uat_report_json_write(run, NULL, link, &err), 0);
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  json_t *root = load_json(target);
  assert_string_equal(jstr(root, "checks.0.id"), "home");
  json_decref(root);
  char names[256];
  list_dir(other, names, sizeof names);
  assert_string_equal(names, "report.json,");

  char *null_link = join(dir, "null.xml");
  assert_int_equal(symlink("/dev/null", null_link), 0);
  assert_int_equal(uat_report_junit_write(run, null_link, &err), 0);
  assert_int_equal(lstat(null_link, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_int_equal(stat("/dev/null", &st), 0);
  assert_true(S_ISCHR(st.st_mode));

  /* Disk full: the error reaches the caller, and the device stays. */
  if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
    assert_int_equal(uat_report_json_write(run, NULL, "/dev/full", &err), -1);
    assert_contains(err.text, "'/dev/full'");
    assert_contains(err.text, "No space left on device");
    assert_int_equal(stat("/dev/full", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
  }
  static char dev_names[16384];
  list_dir("/dev", dev_names, sizeof dev_names);
  assert_null(strstr(dev_names, ".tmp."));

  /* /dev/stdout redirected to a file: the report is appended to the stream. */
  char *out = join(dir, "stdout.txt");
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "terminal output\n", 16), 16);
  char fd_path[64];
  snprintf(fd_path, sizeof fd_path, "/dev/fd/%d", fd);
  assert_int_equal(uat_report_json_write(run, NULL, fd_path, &err), 0);
  close(fd);
  f = fopen(out, "r");
  assert_non_null(f);
  char first[64] = "";
  assert_non_null(fgets(first, sizeof first, f));
  assert_string_equal(first, "terminal output\n");
  assert_non_null(fgets(first, sizeof first, f));
  assert_string_equal(first, "{\n");
  fclose(f);

  remove_tree(dir);
  free(out);
  free(null_link);
  free(link);
  free(target);
  free(other);
  free(dir);
  uat_run_result_free(run);
}

/* ---- text cleaning ---- */

struct clean_case {
  enum uat_text_mode mode;
  const char *in;
  const char *out;
};

static void text_clean_table(void **state) {
  static const struct clean_case cases[] = {
      {UAT_TEXT_UTF8, "plain ✓ é 😀", "plain ✓ é 😀"},
      {UAT_TEXT_UTF8, "", ""},
      {UAT_TEXT_UTF8,
       "a\xff"
       "b",
       "a\xef\xbf\xbd"
       "b"},
      {UAT_TEXT_UTF8, "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
      {UAT_TEXT_UTF8, "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
      {UAT_TEXT_UTF8, "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {UAT_TEXT_UTF8, "end \xe2\x82", "end \xef\xbf\xbd\xef\xbf\xbd"}, /* truncated */
      {UAT_TEXT_UTF8, "\x01\x1b", "\x01\x1b"},
      {UAT_TEXT_XML, "tab\tnl\ncr\r", "tab\tnl\ncr\r"},
      {UAT_TEXT_XML, "\x01\x1f\x7f", "\\x01\\x1f\x7f"},
      {UAT_TEXT_XML, "\xef\xbf\xbe\xef\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd"},
      {UAT_TEXT_XML, "<&>", "<&>"},
      {UAT_TEXT_TERMINAL, "tab\tnl\n", "tab\tnl\n"},
      {UAT_TEXT_TERMINAL, "\033[31mred\r\x7f", "\\x1b[31mred\\x0d\\x7f"},
      {UAT_TEXT_TERMINAL, "csi \xc2\x9b nel \xc2\x85 nbsp \xc2\xa0",
       "csi \\u009b nel \\u0085 nbsp \xc2\xa0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = uat_report_text_clean(cases[i].in, cases[i].mode);
    assert_non_null(got);
    if (strcmp(got, cases[i].out) != 0)
      fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, got, cases[i].out);
    free(got);
  }
  assert_null(uat_report_text_clean(NULL, UAT_TEXT_UTF8));
}

/* What people type into the ledger: one line of UTF-8, no control characters at all. */
static void text_is_line_table(void **state) {
  (void)state;
  static const struct {
    const char *in;
    bool line;
  } cases[] = {
      {"", true},
      {"v4.6.3", true},
      {"café ✓ 😀 nbsp \xc2\xa0", true},
      {"a\tb", false},
      {"a\nb", false},
      {"\033[2J", false},
      {"del \x7f", false},
      {"csi \xc2\x9b", false},
      {"nel \xc2\x85", false},
      {"caf\xe9", false},
      {"\xc0\xaf", false},
      {"end \xe2\x82", false},
      {"\xed\xa0\x80", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (uat_report_text_is_line(cases[i].in) != cases[i].line)
      fail_msg("case %zu: \"%s\" should%s be a line", i, cases[i].in, cases[i].line ? "" : " not");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(text_is_line_table),
      cmocka_unit_test(term_header_names_target_release_commit),
      cmocka_unit_test(term_lines_per_outcome),
      cmocka_unit_test(term_fail_without_expectation_shows_reason),
      cmocka_unit_test(term_verbose_shows_everything),
      cmocka_unit_test(term_quiet_hides_passes),
      cmocka_unit_test(term_colour_only_when_asked),
      cmocka_unit_test(term_progress_only_on_tty),
      cmocka_unit_test(term_titles_line_up),
      cmocka_unit_test(term_progress_fits_the_terminal),
      cmocka_unit_test(term_multiline_values_keep_their_column),
      cmocka_unit_test(term_summary_lines),
      cmocka_unit_test(junit_counts_names_and_problems),
      cmocka_unit_test(junit_well_formed_for_any_bytes),
      cmocka_unit_test(junit_unwritable_path),
      cmocka_unit_test(json_fields),
      cmocka_unit_test(json_build),
      cmocka_unit_test(json_repairs_invalid_utf8),
      cmocka_unit_test(json_extra_fields_merge),
      cmocka_unit_test(json_extra_fields_refused),
      cmocka_unit_test(json_replaces_existing_file_whole),
      cmocka_unit_test(reports_follow_links_and_write_devices_in_place),
      cmocka_unit_test(json_unwritable_path),
      cmocka_unit_test(text_clean_table),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  return rc;
}
