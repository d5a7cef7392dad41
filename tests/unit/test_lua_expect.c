/* expect.*: each function passing and failing, with what it records.
 * Each row runs one call through the sandbox against a fake response and
 * compares the single recorded expectation field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/lua_api.h"
#include "check/sandbox.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "hunter2-secret"

/* A response as lua_http.c shapes it: fields and methods called with ':'. */
static const char prelude[] =
    "local r = {status = 404, body = '<ul><li class=\"a\">one</li><li>two</li></ul>',\n"
    "  headers = {['content-type'] = 'application/json; charset=utf-8'}}\n"
    "function r:header(name) return self.headers[name:lower()] end\n"
    "function r:html() return html.parse(self.body) end\n"
    "local doc = r:html()\n"
    "result = ";

struct expect_case {
  const char *call; /* appended to the prelude */
  bool ok;
  const char *kind;
  const char *message;
  const char *actual;   /* NULL: must be NULL */
  const char *expected; /* NULL: must be NULL */
};

static const struct expect_case cases[] = {
    {"expect.status(r, 404)", true, "status", "status is 404", "404", "404"},
    {"expect.status(r, 200, 'page opens')", false, "status", "page opens", "404", "200"},
    {"expect.status(r, {200, 404})", true, "status", "status is one of 200, 404", "404",
     "one of 200, 404"},
    {"expect.status(r, {200, 201})", false, "status", "status is one of 200, 201", "404",
     "one of 200, 201"},
    /* A response names its request, so a failed status says which of the script's it was. */
    {"expect.status({status = 403, method = 'GET', url = 'http://h/api/p/42/'}, 200)", false,
     "status", "status is 200", "403 from GET http://h/api/p/42/", "200"},
    {"expect.status({status = 500, url = 'http://h/x'}, 200)", false, "status", "status is 200",
     "500 from http://h/x", "200"},
    {"expect.eq(1, 1)", true, "eq", "value equals 1", "1", "1"},
    {"expect.eq('a', 'b', 'names match')", false, "eq", "names match", "\"a\"", "\"b\""},
    {"expect.eq(1, 1.0)", true, "eq", "value equals 1.0", "1", "1.0"},
    {"expect.eq(nil, false)", false, "eq", "value equals false", "nil", "false"},
    {"expect.eq({1, {a = 'x'}}, {1, {a = 'x'}})", true, "eq", "value equals [1, {\"a\": \"x\"}]",
     "[1, {\"a\": \"x\"}]", "[1, {\"a\": \"x\"}]"},
    {"expect.eq({1, 2}, {1, 2, 3})", false, "eq", "value equals [1, 2, 3]", "[1, 2]", "[1, 2, 3]"},
    {"expect.eq({a = {b = 1}}, {a = {b = 2}})", false, "eq", "value equals {\"a\": {\"b\": 2}}",
     "{\"a\": {\"b\": 1}}", "{\"a\": {\"b\": 2}}"},
    {"expect.eq('line\\n\"q\"', 'x')", false, "eq", "value equals \"x\"", "\"line\\n\\\"q\\\"\"",
     "\"x\""},
    {"expect.eq(json.null, json.null)", true, "eq", "value equals null", "null", "null"},
    {"expect.truthy(0)", true, "truthy", "value is truthy", "0",
     "a truthy value (not nil or false)"},
    {"expect.truthy(nil, 'has a token')", false, "truthy", "has a token", "nil",
     "a truthy value (not nil or false)"},
    {"expect.match('Hello world', '^Hello')", true, "match", "value matches '^Hello'",
     "\"Hello world\"", "matches '^Hello'"},
    {"expect.match('Hello', 'bye')", false, "match", "value matches 'bye'", "\"Hello\"",
     "matches 'bye'"},
    {"expect.match(nil, 'x')", false, "match", "value matches 'x'", "nil", "matches 'x'"},
    {"expect.match('abc', '[a')", false, "match",
     "malformed pattern '[a': malformed pattern (missing ']')", "\"abc\"", "matches '[a'"},
    {"expect.match(200, '^2')", true, "match", "value matches '^2'", "200", "matches '^2'"},
    {"expect.header(r, 'Content-Type', 'json')", true, "header",
     "header 'Content-Type' matches 'json'", "\"application/json; charset=utf-8\"",
     "matches 'json'"},
    {"expect.header(r, 'Content-Type', '^text/html')", false, "header",
     "header 'Content-Type' matches '^text/html'", "\"application/json; charset=utf-8\"",
     "matches '^text/html'"},
    {"expect.header(r, 'X-Missing')", false, "header", "header 'X-Missing' is present", "(missing)",
     "present"},
    {"expect.header(r, 'content-type')", true, "header", "header 'content-type' is present",
     "\"application/json; charset=utf-8\"", "present"},
    {"expect.header(r, 'content-type', '%')", false, "header",
     "malformed pattern '%': malformed pattern (ends with '%')",
     "\"application/json; charset=utf-8\"", "matches '%'"},
    {"expect.xpath(r, '//li')", true, "xpath", "xpath '//li' matches at least one node", "2 nodes",
     "at least 1 node"},
    {"expect.xpath(doc, '//table', 'has a table')", false, "xpath", "has a table", "0 nodes",
     "at least 1 node"},
    {"expect.xpath(doc:first('//ul'), 'li[@class=\"a\"]')", true, "xpath",
     "xpath 'li[@class=\"a\"]' matches at least one node", "1 node", "at least 1 node"},
    {"expect.no_xpath(r, '//div[@class=\"error\"]')", true, "no_xpath",
     "xpath '//div[@class=\"error\"]' matches no node", "0 nodes", "0 nodes"},
    {"expect.no_xpath(doc, '//li')", false, "no_xpath", "xpath '//li' matches no node", "2 nodes",
     "0 nodes"},
    {"expect.count(r, '//li', 2)", true, "count", "xpath '//li' matches 2 nodes", "2 nodes",
     "2 nodes"},
    {"expect.count(doc, '//li', 3)", false, "count", "xpath '//li' matches 3 nodes", "2 nodes",
     "3 nodes"},
    {"expect.fail('not reachable')", false, "fail", "not reachable", NULL, NULL},
    {"expect.fail()", false, "fail", "expect.fail() was called", NULL, NULL},
    /* secrets never reach the result */
    {"expect.eq(secrets.token, 'x', 'token is ' .. secrets.token)", false, "eq", "token is ***",
     "\"***\"", "\"x\""},
};

struct fixture {
  struct uat_secret secret;
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->secret = (struct uat_secret){.name = "token", .env = "TOKEN", .value = SECRET};
  f->pb = (struct uat_playbook){
      .path = "PLAYBOOK.yml", .dir = "/nonexistent", .secrets = &f->secret, .nsecrets = 1};
  f->check = (struct uat_check){.id = "e",
                                .script_path = "checklists/e.lua",
                                .chunk_name = "checklists/e.lua",
                                .timeout_s = 60, /* roomy: timeout tests set their own */
                                .memory_cap = (size_t)32 * 1024 * 1024};
  uat_redactor_init(&f->red);
  assert_int_equal(uat_redactor_add(&f->red, SECRET), 0);
  f->env = (struct uat_check_env){.playbook = &f->pb, .check = &f->check, .redactor = &f->red};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_redactor_release(&f->red);
  free(f);
  return 0;
}

static void run(struct fixture *f, const char *source, struct uat_check_result *r) {
  struct uat_error err;
  memset(r, 0, sizeof *r);
  f->check.source = (char *)source;
  assert_int_equal(uat_sandbox_run(&f->env, r, &err), 0);
}

static void same(const char *what, const char *call, const char *got, const char *want) {
  if (!want && !got)
    return;
  if (!want || !got || strcmp(got, want) != 0)
    fail_msg("%s: %s is \"%s\", want \"%s\"", call, what, got ? got : "(null)",
             want ? want : "(null)");
}

static void test_cases(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct expect_case *c = &cases[i];
    char source[2048];
    snprintf(source, sizeof source, "%s%s\nlog(tostring(result))", prelude, c->call);
    struct uat_check_result r;
    run(f, source, &r);
    if (r.nexpectations != 1)
      fail_msg("%s: %zu expectations (error: %s)", c->call, r.nexpectations,
               r.error ? r.error : "none");
    const struct uat_expectation *e = &r.expectations[0];
    if (e->ok != c->ok)
      fail_msg("%s: ok is %d", c->call, e->ok);
    same("kind", c->call, e->kind, c->kind);
    same("message", c->call, e->message, c->message);
    same("actual", c->call, e->actual, c->actual);
    same("expected", c->call, e->expected, c->expected);
    same("where", c->call, e->where, "checklists/e.lua:6");
    /* The script sees the result and goes on. */
    same("returned", c->call, r.nlogs ? r.logs[0] : NULL, c->ok ? "true" : "false");
    assert_int_equal(r.outcome, c->ok ? UAT_OUTCOME_PASS : UAT_OUTCOME_FAIL);
    uat_check_result_clear(&r);
  }
}

/* Wrong argument types are programming errors: the check errors, clearly. */
static const struct {
  const char *call;
  const char *error;
} arg_errors[] = {
    {"expect.status(nil, 200)", "bad argument #1 to 'status' (response expected, got nil)"},
    {"expect.status(r, 'x')", "bad argument #2 to 'status' (status code or list of codes"},
    {"expect.status(r, {200, 'x'})", "the list of codes must hold integers"},
    {"expect.status({}, 200)", "response has no integer 'status'"},
    {"expect.status({status = 200.5}, 200)", "response has no integer 'status'"},
    {"expect.status({status = 1e300}, 200)", "response has no integer 'status'"},
    {"expect.eq(1)", "bad argument #2 to 'eq' (value expected)"},
    {"expect.match('x')", "bad argument #2 to 'match'"},
    {"expect.header(r)", "bad argument #2 to 'header'"},
    {"expect.xpath(42, '//a')", "bad argument #1 to 'xpath' (HTML document, response or browser"},
    {"expect.xpath({}, '//a')", "bad argument #1 to 'xpath' (HTML document, response or browser"},
    {"expect.xpath(doc, '//[')", "invalid XPath expression '//['"},
    {"expect.count(doc, '//li', 'two')", "bad argument #3 to 'count'"},
    {"expect.truthy(true, {})", "bad argument #2 to 'truthy'"},
};

static void test_argument_errors(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof arg_errors / sizeof arg_errors[0]; i++) {
    char source[2048];
    snprintf(source, sizeof source, "%s%s", prelude, arg_errors[i].call);
    struct uat_check_result r;
    run(f, source, &r);
    if (r.outcome != UAT_OUTCOME_ERROR || !r.error || !strstr(r.error, arg_errors[i].error))
      fail_msg("%s: outcome %s, error \"%s\", want \"%s\"", arg_errors[i].call,
               uat_outcome_name(r.outcome), r.error ? r.error : "(null)", arg_errors[i].error);
    uat_check_result_clear(&r);
  }
}

/* Long values are cut, and failures do not stop the script. */
static void test_truncation_and_soft(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f,
      "expect.eq(string.rep('x', 1000), 'y')\n"
      "local big = {} for i = 1, 500 do big[i] = i end\n"
      "expect.eq(big, {})\n"
      "local cyc = {} cyc.self = cyc\n"
      "expect.eq(cyc, cyc)\n"
      "expect.truthy(true)\n",
      &r);
  assert_int_equal(r.nexpectations, 4);
  assert_int_equal(r.outcome, UAT_OUTCOME_FAIL);
  assert_true(strlen(r.expectations[0].actual) <= 210);
  assert_non_null(strstr(r.expectations[0].actual, "..."));
  assert_true(strlen(r.expectations[1].actual) <= 210);
  assert_string_equal(r.expectations[1].expected, "{}");
  assert_true(r.expectations[2].ok);
  assert_non_null(strstr(r.expectations[2].actual, "{\"self\": {\"self\": "));
  assert_true(r.expectations[3].ok);
  uat_check_result_clear(&r);
}

/* Deep equality: key sets both ways, nested tables, integer/float equality. */
static void test_deep_eq(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *a, *b;
    bool equal;
  } rows[] = {
      {"{}", "{}", true},
      {"{a = 1}", "{}", false},
      {"{}", "{a = 1}", false},
      {"{a = {b = {c = {1, 2}}}}", "{a = {b = {c = {1, 2}}}}", true},
      {"{a = {b = {c = {1, 2}}}}", "{a = {b = {c = {2, 1}}}}", false},
      {"{1, 2.0}", "{1.0, 2}", true},
      {"{x = json.null}", "{x = json.null}", true},
      {"{x = json.null}", "{}", false},
      {"json.decode('[1,{\"a\":true}]')", "{1, {a = true}}", true},
      {"'1'", "1", false},
      /* cycles on both sides compare by shape, and end */
      {"(function() local t = {} t.a = t return t end)()",
       "(function() local u = {} u.a = u return u end)()", true},
      {"(function() local t = {} t.a = t return t end)()",
       "(function() local u = {a = {}} u.a.a = u return u end)()", true},
      {"(function() local t = {n = 1} t.a = t return t end)()",
       "(function() local u = {n = 2} u.a = u return u end)()", false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char source[512];
    snprintf(source, sizeof source, "expect.eq(%s, %s)", rows[i].a, rows[i].b);
    struct uat_check_result r;
    run(f, source, &r);
    assert_int_equal(r.nexpectations, 1);
    if (r.expectations[0].ok != rows[i].equal)
      fail_msg("%s: ok %d", source, r.expectations[0].ok);
    uat_check_result_clear(&r);
  }
}

static const char *chain =
    "local function mk(n) local r = {} local c = r for i = 1, n do c.x = {} c = c.x end "
    "return r end\n";

/* Comparing both ways at each level was 2^depth: two equal chains of 90 tables never
 * finished (the watchdog abandoned the thread). Now linear; a shared-subtable blow-up
 * that is still exponential stops at the check's timeout like any loop. */
static void test_deep_eq_bounded(void **state) {
  struct fixture *f = *state;
  char source[1024];
  struct uat_check_result r;
  snprintf(source, sizeof source, "%sexpect.eq(mk(90), mk(90))\nexpect.eq(mk(90), mk(91))", chain);
  /* exponential comparison would not end before the check's timeout: an error, not these */
  run(f, source, &r);
  assert_int_equal(r.nexpectations, 2);
  assert_true(r.expectations[0].ok);
  assert_false(r.expectations[1].ok);
  uat_check_result_clear(&r);

  /* past the depth limit: an error saying so, not a failure showing two identical values */
  snprintf(source, sizeof source, "%sexpect.eq(mk(150), mk(150))", chain);
  run(f, source, &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "expect.eq cannot compare tables nested deeper than 100 levels"));
  uat_check_result_clear(&r);

  f->check.timeout_s = 0.5;
  run(f,
      "local function dag(n) local t = {} for i = 1, n do t = {a = t, b = t} end return t end\n"
      "expect.truthy(true)\n"
      "pcall(expect.eq, dag(60), dag(60))\n"
      "expect.truthy(true, 'may run before the hook fires')\n",
      &r);
  f->check.timeout_s = 60;
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(r.error);
  assert_non_null(strstr(r.error, "timed out after 0.5s"));
  assert_true(r.duration_s < 0.5 + 10.0); /* dag(60) compared naively never ends */
  uat_check_result_clear(&r);
}

/* A secret read with a stray CR (or holding another control byte) was shown escaped,
 * "crlf-token\\x0d", a form the redactor does not know: it leaked whole. */
static void test_escaped_secret_redacted(void **state) {
  struct fixture *f = *state;
  assert_int_equal(uat_redactor_add(&f->red, "crlf-token\r"), 0);
  assert_int_equal(uat_redactor_add(&f->red, "del\x7fkey"), 0);
  struct uat_check_result r;
  run(f,
      "expect.eq('crlf-token\\r', 'x')\n"
      "expect.eq({k = 'a del\\127key b'}, {})\n"
      "expect.match('crlf-token\\r', '^z')\n",
      &r);
  assert_int_equal(r.nexpectations, 3);
  assert_string_equal(r.expectations[0].actual, "\"***\"");
  assert_string_equal(r.expectations[1].actual, "{\"k\": \"a *** b\"}");
  assert_string_equal(r.expectations[2].actual, "\"***\"");
  for (size_t i = 0; i < r.nexpectations; i++) {
    assert_null(strstr(r.expectations[i].actual, "crlf-token"));
    assert_null(strstr(r.expectations[i].actual, "key"));
  }
  uat_check_result_clear(&r);
}

int main(void) {
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_argument_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncation_and_soft, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_eq, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_eq_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_escaped_secret_redacted, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  return failed;
}
