/* The http API scripts see (src/lua_http.c), run through the sandbox against the
 * loopback test server. One table row per script: outcome, error text, logs, time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/lua_api.h"
#include "check/sandbox.h"
#include "testserver.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "hunter2-s3cr3t"
#define MiB ((size_t)1024 * 1024)

struct fixture {
  struct uat_testserver *server;
  char base_url[128];
  struct uat_header headers[2];
  struct uat_secret secret;
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char err[256];
  f->server = uat_testserver_start(0, err, sizeof err);
  if (!f->server)
    fail_msg("test server: %s", err);
  /* A base with a path: relative references resolve against it as RFC 3986 says. */
  snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%u/app/",
           uat_testserver_port(f->server));
  f->headers[0] = (struct uat_header){.name = "Accept-Language", .value = "en"};
  f->headers[1] = (struct uat_header){.name = "X-Team", .value = "uat"};
  f->secret = (struct uat_secret){.name = "token", .env = "TOKEN", .value = SECRET};
  f->pb = (struct uat_playbook){.path = "playbook.yml",
                                .dir = ".",
                                .name = "http test",
                                .base_url = f->base_url,
                                .timeout_s = 60.0, /* roomy: timeout tests set their own */
                                .headers = f->headers,
                                .nheaders = 2,
                                .secrets = &f->secret,
                                .nsecrets = 1,
                                .vars = json_object()};
  f->check = (struct uat_check){.id = "c",
                                .title = "c",
                                .script_path = "check.lua",
                                .chunk_name = "check.lua",
                                .params = json_pack("{s:{s:s}}", "hdr", "X-Param", "from-params"),
                                .timeout_s = 60.0, /* roomy: timeout tests set their own */
                                .memory_cap = 64 * MiB};
  uat_redactor_init(&f->red);
  assert_int_equal(uat_redactor_add(&f->red, SECRET), 0);
  f->env = (struct uat_check_env){.playbook = &f->pb,
                                  .check = &f->check,
                                  .redactor = &f->red,
                                  .base_url = f->base_url,
                                  .verbose = true};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_testserver_stop(f->server);
  json_decref(f->pb.vars);
  json_decref(f->check.params);
  uat_redactor_release(&f->red);
  free(f);
  return 0;
}

/* Replaces every @PORT@ of text with the test server's port. */
static char *with_port(const struct fixture *f, const char *text) {
  char port[16];
  snprintf(port, sizeof port, "%u", uat_testserver_port(f->server));
  size_t n = strlen(text) * 2 + 64;
  char *out = malloc(n);
  assert_non_null(out);
  size_t o = 0;
  for (const char *p = text; *p;) {
    if (strncmp(p, "@PORT@", 6) == 0) {
      o += (size_t)snprintf(out + o, n - o, "%s", port);
      p += 6;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return out;
}

static void run(struct fixture *f, const char *source, struct uat_check_result *out) {
  struct uat_error err;
  memset(out, 0, sizeof *out);
  char *script = with_port(f, source);
  f->check.source = script;
  assert_int_equal(uat_sandbox_run(&f->env, out, &err), 0);
  f->check.source = NULL;
  free(script);
}

static bool logs_contain(const struct uat_check_result *r, const char *needle) {
  for (size_t i = 0; i < r->nlogs; i++)
    if (strstr(r->logs[i], needle))
      return true;
  return false;
}

static void explain(const struct uat_check_result *r) {
  fprintf(stderr, "  outcome %s, error: %s\n", uat_outcome_name(r->outcome),
          r->error ? r->error : "(none)");
  for (size_t i = 0; i < r->nexpectations; i++) {
    const struct uat_expectation *e = &r->expectations[i];
    if (!e->ok)
      fprintf(stderr, "  failed at %s: %s (actual %s, expected %s)\n", e->where ? e->where : "?",
              e->message, e->actual ? e->actual : "-", e->expected ? e->expected : "-");
  }
}

struct script_case {
  const char *name;
  const char *source;
  enum uat_outcome outcome;
  const char *error[3]; /* substrings of result->error (after @PORT@ substitution) */
  double max_seconds;   /* 0: no limit checked */
};

static const struct script_case cases[] = {
    {"get json",
     "local r = http.get('/json')\n"
     "expect.eq(r.status, 200)\n"
     "expect.eq(r:json().name, 'uatrun')\n"
     "expect.eq(r:json().items[2], 2)\n"
     "expect.eq(r:header('CONTENT-Type'), 'application/json')\n"
     "expect.eq(r.headers['content-type'], 'application/json')\n"
     "expect.eq(r:header('x-absent'), nil)\n"
     "expect.eq(r.url, 'http://127.0.0.1:@PORT@/json')\n"
     "expect.eq(r.method, 'GET')\n"
     "expect.truthy(r.time >= 0 and r.time < 5)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"relative url against a base with a path",
     "local r = http.get('echo?x=1')\n"
     "expect.eq(r.url, 'http://127.0.0.1:@PORT@/app/echo?x=1')\n"
     "expect.eq(r.status, 404)\n"
     "expect.eq(http.get('../json').status, 200)\n"
     "expect.eq(http.get('http://127.0.0.1:@PORT@/status/201').status, 201)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"post json",
     "local e = http.post('/echo', { json = { a = 1, list = { 1, 2 } } }):json()\n"
     "expect.eq(e.method, 'POST')\n"
     "expect.eq(e.headers['content-type'], 'application/json')\n"
     "local sent = json.decode(e.body)\n"
     "expect.eq(sent.a, 1)\n"
     "expect.eq(sent.list[2], 2)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"put form, sorted and escaped",
     "local e = http.put('/echo', { form = { b = 'x y', a = '1&2', n = 3 } }):json()\n"
     "expect.eq(e.method, 'PUT')\n"
     "expect.eq(e.body, 'a=1%262&b=x%20y&n=3')\n"
     "expect.eq(e.headers['content-type'], 'application/x-www-form-urlencoded')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"delete with a raw body and its own content type",
     "local e = http.delete('/echo', { body = 'raw', headers = { ['content-type'] = 'text/plain' } "
     "}):json()\n"
     "expect.eq(e.method, 'DELETE')\n"
     "expect.eq(e.body, 'raw')\n"
     "expect.eq(e.headers['content-type'], 'text/plain')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"patch, head and request{}",
     "expect.eq(http.patch('/echo', { body = 'p' }):json().method, 'PATCH')\n"
     "local h = http.head('/json')\n"
     "expect.eq(h.status, 200)\n"
     "expect.eq(h.body, '')\n"
     "local e = http.request{ method = 'put', url = '/echo', json = { x = 1 } }:json()\n"
     "expect.eq(e.method, 'PUT')\n"
     "expect.eq(e.body, '{\"x\":1}')\n"
     "expect.eq(http.request{ url = '/status/204' }.status, 204)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"playbook headers sent and overridable",
     "local e = http.get('/echo'):json()\n"
     "expect.eq(e.headers['accept-language'], 'en')\n"
     "expect.eq(e.headers['x-team'], 'uat')\n"
     "e = http.get('/echo', { headers = { ['ACCEPT-LANGUAGE'] = 'fr', ['X-N'] = 7 } }):json()\n"
     "expect.eq(e.headers['accept-language'], 'fr')\n"
     "expect.eq(e.headers['x-n'], '7')\n"
     "expect.eq(e.headers['x-team'], 'uat')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"read-only params work as options",
     "local e = http.get('/echo', { headers = params.hdr }):json()\n"
     "expect.eq(e.headers['x-param'], 'from-params')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"repeated response headers are joined",
     "local r = http.get('/cookie/set?a=1&b=2')\n"
     "expect.eq(r.headers['set-cookie'], 'a=1; Path=/, b=2; Path=/')\n"
     "expect.eq(r:header('Set-Cookie'), 'a=1; Path=/, b=2; Path=/')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"html is parsed once",
     "local r = http.get('/html/page')\n"
     "local doc = r:html()\n"
     "expect.eq(doc:count(\"//nav[@id='menu']//a\"), 4)\n"
     "expect.truthy(rawequal(r:html(), doc), 'same document')\n"
     "expect.xpath(r, '//h1')\n"
     "expect.truthy(http.get('/html/soup'):html():count('//li') == 3)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"json on a non-JSON body",
     "local r = http.get('/notjson')\n"
     "expect.eq(r.status, 200)\n"
     "r:json()\n",
     UAT_OUTCOME_ERROR,
     {"response body of GET http://127.0.0.1:@PORT@/notjson",
      "Content-Type: text/plain; charset=utf-8"},
     0},
    {"redirects followed and not",
     "local r = http.get('/redirect/3')\n"
     "expect.eq(r.status, 200)\n"
     "expect.eq(r.url, 'http://127.0.0.1:@PORT@/status/200')\n"
     "local raw = http.get('/redirect/3', { follow = false })\n"
     "expect.eq(raw.status, 302)\n"
     "expect.eq(raw:header('location'), '/redirect/2')\n"
     "expect.header(raw, 'Location', '^/redirect/2$')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"connection refused",
     "expect.truthy(true)\n"
     "http.get('http://127.0.0.1:9/health')\n",
     UAT_OUTCOME_ERROR,
     {"check.lua:2: GET http://127.0.0.1:9/health: connection refused"},
     0},
    {"request timeout",
     "http.get('/slow?ms=3000', { timeout = '300ms' })\n",
     UAT_OUTCOME_ERROR,
     {"GET http://127.0.0.1:@PORT@/slow?ms=3000: timed out after 0.3s"},
     2.9 /* cut before the server answers at 3 s, however slow the machine */},
    {"numeric timeout",
     "http.get('/slow?ms=3000', { timeout = 0.2 })\n",
     UAT_OUTCOME_ERROR,
     {"timed out after 0.2s"},
     2.9},
    {"body over the default cap",
     "http.get('/big?bytes=30000000')\n",
     UAT_OUTCOME_ERROR,
     {"response body of GET http://127.0.0.1:@PORT@/big?bytes=30000000", "exceeds the 16 MiB cap"},
     5},
    {"body over max_body, and a big body within the cap",
     "local r = http.get('/big?bytes=3000000')\n"
     "expect.eq(#r.body, 3000000)\n"
     "http.get('/big?bytes=2000&chunked=1', { max_body = 1000 })\n",
     UAT_OUTCOME_ERROR,
     {"check.lua:3:", "exceeds the 1000 bytes cap"},
     0},
    {"session keeps cookies, plain http does not",
     "http.get('/cookie/set?plain=1')\n"
     "expect.eq(http.get('/cookie/get').body, '')\n"
     "local s = http.session()\n"
     "s:get('/cookie/set?jar=1')\n"
     "expect.eq(s:get('/cookie/get').body, 'jar=1')\n"
     "local other = http.session()\n"
     "expect.eq(other:get('/cookie/get').body, '')\n"
     "expect.eq(s:request{ url = '/cookie/get' }.body, 'jar=1')\n"
     "expect.eq(tostring(s), 'http.session')\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"log-in flow with a CSRF token",
     "local s <close> = http.session()\n"
     "local page = s:get('/login')\n"
     "local token = page:html():first(\"//input[@name='csrf']\"):attr('value')\n"
     "local r = s:post('/login', { form = { csrf = token, user = 'ana', password = 'secret' } })\n"
     "expect.status(r, 200)\n"
     "expect.match(r.body, 'welcome')\n"
     "expect.eq(r.url, 'http://127.0.0.1:@PORT@/private')\n"
     "expect.status(http.get('/private', { follow = false }), 302, 'anonymous is redirected')\n"
     "local bad = http.session():post('/login', { form = { csrf = 'forged', user = 'ana', password "
     "= 'secret' } })\n"
     "expect.status(bad, 403)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    {"closed session",
     "local s = http.session()\n"
     "s:close()\n"
     "expect.eq(tostring(s), 'http.session (closed)')\n"
     "s:get('/json')\n",
     UAT_OUTCOME_ERROR,
     {"the session was closed"},
     0},
    {"secret in the URL of a failed request",
     "http.get('http://127.0.0.1:9/?key=' .. secrets.token)\n",
     UAT_OUTCOME_ERROR,
     {"http://127.0.0.1:9/?key=***", "refused"},
     0},
    {"auth header",
     "expect.status(http.get('/auth', { headers = { Authorization = 'Token secret-token' } }), "
     "200)\n"
     "expect.status(http.get('/auth'), 401)\n",
     UAT_OUTCOME_PASS,
     {NULL},
     0},
    /* bad input */
    {"timeout not a duration",
     "http.get('/json', { timeout = 'soon' })\n",
     UAT_OUTCOME_ERROR,
     {"opts.timeout 'soon' is not a duration"},
     0},
    {"zero timeout",
     "http.get('/json', { timeout = 0 })\n",
     UAT_OUTCOME_ERROR,
     {"opts.timeout must be more than 0 seconds"},
     0},
    {"two bodies",
     "http.post('/echo', { body = 'x', json = {} })\n",
     UAT_OUTCOME_ERROR,
     {"give only one of opts.body, opts.json and opts.form"},
     0},
    {"header injection",
     "http.get('/echo', { headers = { X = 'a\\r\\nHost: evil' } })\n",
     UAT_OUTCOME_ERROR,
     {"the value of header 'X' holds a line break"},
     0},
    {"header value holding a NUL byte (C would cut it there)",
     "http.get('/echo', { headers = { X = 'a\\0\\r\\nHost: evil' } })\n",
     UAT_OUTCOME_ERROR,
     {"the value of header 'X' holds a NUL byte"},
     0},
    {"header name holding a NUL byte",
     "http.get('/echo', { headers = { ['X\\0Evil'] = 'a' } })\n",
     UAT_OUTCOME_ERROR,
     {"invalid header name 'X'"},
     0},
    {"form field holding a NUL byte",
     "http.post('/echo', { form = { a = 'x\\0y' } })\n",
     UAT_OUTCOME_ERROR,
     {"form field 'a' holds a NUL byte"},
     0},
    {"header value of a wrong type",
     "http.get('/echo', { headers = { X = {} } })\n",
     UAT_OUTCOME_ERROR,
     {"header 'X' must be a string or a number, not table"},
     0},
    {"json that cannot be encoded",
     "http.post('/echo', { json = { f = print } })\n",
     UAT_OUTCOME_ERROR,
     {"opts.json cannot be sent as JSON"},
     0},
    {"bad max_body",
     "http.get('/json', { max_body = -1 })\n",
     UAT_OUTCOME_ERROR,
     {"opts.max_body must be a number of bytes above 0"},
     0},
    {"bad follow",
     "http.get('/json', { follow = 'no' })\n",
     UAT_OUTCOME_ERROR,
     {"opts.follow must be true or false"},
     0},
    {"invalid url",
     "http.get('http://[oops/')\n",
     UAT_OUTCOME_ERROR,
     {"URL 'http://[oops/' is not valid"},
     0},
    {"not http",
     "http.get('file:///etc/passwd')\n",
     UAT_OUTCOME_ERROR,
     {"not a valid http:// or https:// URL"},
     0},
    {"bad method",
     "http.request{ url = '/echo', method = 'GET /x' }\n",
     UAT_OUTCOME_ERROR,
     {"invalid method 'GET /x'"},
     0},
    {"request without url",
     "http.request{ method = 'GET' }\n",
     UAT_OUTCOME_ERROR,
     {"http.request: url must be a string"},
     0},
};

static void test_script_cases(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct script_case *c = &cases[i];
    struct uat_check_result r;
    run(f, c->source, &r);
    bool ok = r.outcome == c->outcome;
    for (size_t k = 0; ok && k < 3 && c->error[k]; k++) {
      char *want = with_port(f, c->error[k]);
      ok = r.error && strstr(r.error, want);
      free(want);
    }
    if (ok && c->outcome == UAT_OUTCOME_PASS)
      ok = r.error == NULL;
    if (ok && c->max_seconds > 0)
      ok = r.duration_s < c->max_seconds;
    if (!ok) {
      fprintf(stderr, "case \"%s\" (%.2fs):\n", c->name, r.duration_s);
      explain(&r);
      uat_check_result_clear(&r);
      fail_msg("case \"%s\" failed", c->name);
    }
    uat_check_result_clear(&r);
  }
}

/* The check's deadline cuts a request whose own timeout is longer. */
static void test_check_deadline_wins(void **state) {
  struct fixture *f = *state;
  f->check.timeout_s = 0.5;
  struct uat_check_result r;
  run(f, "http.get('/slow?ms=5000', { timeout = 10 })\n", &r);
  f->check.timeout_s = 60.0;
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(r.error);
  assert_non_null(strstr(r.error, "timed out"));
  assert_true(r.duration_s < 4.9); /* cut before the server answers at 5 s */
  uat_check_result_clear(&r);
}

/* A check that swallows the timeout error with pcall is still stopped at its deadline. */
static void test_deadline_not_swallowed(void **state) {
  struct fixture *f = *state;
  f->check.timeout_s = 0.5;
  struct uat_check_result r;
  run(f,
      "for i = 1, 20 do pcall(http.get, '/slow?ms=5000') end\n"
      "expect.truthy(true)\n",
      &r);
  f->check.timeout_s = 60.0;
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "timed out"));
  assert_true(r.duration_s < 4.9); /* not 20 requests of 5 s: stopped inside the first */
  uat_check_result_clear(&r);
}

/* Secrets and credentials never reach the error or the verbose logs. */
static void test_verbose_logs_are_redacted(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f,
      "local r = http.get('/echo?t=' .. secrets.token, { headers = { Authorization = 'Token ' "
      ".. secrets.token, ['X-Other'] = 'Token secret-token' } })\n"
      "expect.eq(r.status, 200)\n"
      "http.get('/auth', { headers = { authorization = 'Token secret-token' } })\n"
      "http.get('/cookie/set?sid=cookie-value')\n"
      "http.get('http://127.0.0.1:9/?k=' .. secrets.token, { headers = { Cookie = 'a=b' } })\n",
      &r);
  if (r.outcome != UAT_OUTCOME_ERROR)
    explain(&r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "k=***"));
  assert_null(strstr(r.error, SECRET));
  assert_int_equal(r.nlogs, 4);
  for (size_t i = 0; i < r.nlogs; i++) {
    assert_null(strstr(r.logs[i], SECRET));
    assert_null(strstr(r.logs[i], "cookie-value;"));
  }
  assert_true(logs_contain(&r, "> GET http://127.0.0.1:"));
  assert_true(logs_contain(&r, "/echo?t=***"));
  assert_true(logs_contain(&r, "> Authorization: ***"));
  assert_true(logs_contain(&r, "> authorization: ***"));
  assert_true(logs_contain(&r, "> X-Other: Token secret-token")); /* only credentials headers */
  assert_true(logs_contain(&r, "< 200 ("));
  assert_true(logs_contain(&r, "< Set-Cookie: ***"));
  assert_true(logs_contain(&r, "> Cookie: ***"));
  assert_true(logs_contain(&r, "< failed: GET http://127.0.0.1:9/?k=***: connection refused"));
  assert_true(logs_contain(&r, "> Accept-Language: en"));
  uat_check_result_clear(&r);
}

static void test_no_logs_without_verbose(void **state) {
  struct fixture *f = *state;
  f->env.verbose = false;
  struct uat_check_result r;
  run(f, "expect.status(http.get('/json'), 200)\n", &r);
  f->env.verbose = true;
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  assert_int_equal(r.nlogs, 0);
  uat_check_result_clear(&r);
}

/* The env's max_body replaces the default cap. */
static void test_env_max_body(void **state) {
  struct fixture *f = *state;
  f->env.max_body = 4096;
  struct uat_check_result r;
  run(f, "http.get('/big?bytes=5000')\n", &r);
  f->env.max_body = 0;
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "exceeds the 4 KiB cap"));
  uat_check_result_clear(&r);
}

static void test_relative_url_without_base(void **state) {
  struct fixture *f = *state;
  f->env.base_url = NULL;
  struct uat_check_result r;
  run(f, "http.get('/json')\n", &r);
  f->env.base_url = f->base_url;
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "URL '/json' is not absolute and there is no base URL"));
  uat_check_result_clear(&r);
}

/* Sessions and responses left to the garbage collector, or dropped by an error halfway,
 * are released when the state closes (ASan reports any leak). */
static void test_resources_released_on_error(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f,
      "for i = 1, 5 do local s = http.session(); s:get('/cookie/set?i=' .. i) end\n"
      "local kept = http.session()\n"
      "kept:get('/json')\n"
      "local doc = http.get('/html/page'):html()\n"
      "collectgarbage()\n"
      "http.post('/echo', { form = { a = 'x', b = {} } })\n",
      &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_non_null(strstr(r.error, "form field 'b' must be a string or a number, not table"));
  uat_check_result_clear(&r);
}

int main(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_script_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_deadline_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadline_not_swallowed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verbose_logs_are_redacted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_logs_without_verbose, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_max_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_relative_url_without_base, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resources_released_on_error, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  curl_global_cleanup();
  return failed;
}
