/* The memory cap hit inside each C function of the script API. Every case prepares its
 * inputs, fills the Lua state up to a margin below the cap, then makes one API call; the
 * margins sweep from "no room at all" to "room to spare", so the refused allocation lands
 * at every step of the call (inside lua_push*, luaL_Buffer, a parser's tree, a response
 * being copied into Lua...). Whatever the margin, the check must end with a clear memory
 * error; run in the sanitizer build, ASan/LSan catch any use of freed memory or leak on
 * those error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/sandbox.h"
#include "testserver.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP ((size_t)512 * 1024)
#define SECRET "m3m0ry-s3cr3t"

struct fixture {
  char dir[64];
  struct uat_testserver *server;
  char base_url[64];
  struct uat_secret secret;
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-oom-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char path[160];
  snprintf(path, sizeof path, "%s/checklists", f->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  /* A module whose loading and running both allocate: a long constructor. */
  snprintf(path, sizeof path, "%s/checklists/big.lua", f->dir);
  FILE *out = fopen(path, "w");
  assert_non_null(out);
  fputs("local t = {", out);
  for (int i = 0; i < 2000; i++)
    fprintf(out, "'entry number %d', ", i);
  fputs("}\nreturn t\n", out);
  assert_int_equal(fclose(out), 0);

  char err[256];
  f->server = uat_testserver_start(0, err, sizeof err);
  if (!f->server)
    fail_msg("test server: %s", err);
  snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%u/", uat_testserver_port(f->server));
  f->secret = (struct uat_secret){.name = "token", .env = "TOKEN", .value = SECRET};
  f->pb = (struct uat_playbook){.path = "playbook.yml",
                                .dir = f->dir,
                                .name = "oom",
                                .base_url = f->base_url,
                                .timeout_s = 10.0,
                                .secrets = &f->secret,
                                .nsecrets = 1,
                                .vars = json_pack("{s:s}", "mode", "oom")};
  f->check = (struct uat_check){.id = "oom",
                                .title = "oom",
                                .script_path = "check.lua",
                                .chunk_name = "check.lua",
                                .params = json_pack("{s:i}", "n", 1),
                                .timeout_s = 30.0,
                                .memory_cap = CAP};
  uat_redactor_init(&f->red);
  assert_int_equal(uat_redactor_add(&f->red, SECRET), 0);
  f->env = (struct uat_check_env){.playbook = &f->pb,
                                  .check = &f->check,
                                  .redactor = &f->red,
                                  .base_url = f->base_url,
                                  .bundled_checklists = f->dir};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_testserver_stop(f->server);
  json_decref(f->pb.vars);
  json_decref(f->check.params);
  uat_redactor_release(&f->red);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

struct oom_case {
  const char *name;
  const char *prepare; /* runs before the state is filled */
  const char *call;    /* the API call made with only the margin left */
  const char *raised;  /* a call that raises by design: its error, when memory sufficed */
  size_t outside;      /* bytes of the cap a parsed tree of `prepare` holds outside Lua */
};

#define PAGE                                                                                       \
  "local page = '<ul id=\"l\">' .. string.rep('<li class=\"x\">item</li>', 400) .. '</ul>'\n"
/* Small: the tree counts against the cap outside Lua, where the filler cannot see it. */
#define DOC                                                                                        \
  "local doc = html.parse('<ul id=\"l\">' .. string.rep('<li class=\"x\">item</li>', 10) .. "      \
  "'</ul>')\n"
/* DOC's tree as lua_html.c's tree_estimate counts it: 2 * 246 bytes + 4096, 22 tags, 11
 * attributes. Should the estimate change, the margins just land less often inside the call. */
#define DOC_TREE ((size_t)(2 * 246 + 4096 + 22 * 320 + 11 * 256))
#define BIG "local big = string.rep('l', 3000)\n"
#define TABLE "local t = {} for i = 1, 300 do t[i] = { a = i, b = { 1, 2, 's' .. i } } end\n"

static const struct oom_case cases[] = {
    {"log", BIG, "log(big, big, 1, true, {}, nil)", NULL, 0},
    {"print", BIG, "print(big, 2, big)", NULL, 0},
    {"json.decode", "local text = '[' .. string.rep('{\"a\":[1,2,\"xyz\"]},', 300) .. '1]'\n",
     "local v = json.decode(text)", NULL, 0},
    {"json.encode", TABLE, "local s = json.encode(t)", NULL, 0},
    {"json.encode of a read-only table", "", "local s = json.encode({ params, vars, json.null })",
     NULL, 0},
    {"html.parse", PAGE, "local d = html.parse(page)", NULL, 0},
    {"doc:xpath", DOC, "local ns = doc:xpath('//li')", NULL, DOC_TREE},
    {"doc:first", DOC, "local n = doc:first('//li[last()]')", NULL, DOC_TREE},
    {"doc:count", DOC, "local c = doc:count('//li[@class]')", NULL, DOC_TREE},
    {"tostring(doc)", DOC, "local s = tostring(doc) .. tostring(doc:first('//li'))", NULL,
     DOC_TREE},
    {"node.text", DOC "local ul = doc:first('//ul')\n", "local s = ul.text .. ul.name", NULL,
     DOC_TREE},
    {"node:attr", DOC "local li = doc:first('//li')\n", "local a = li:attr('class')", NULL,
     DOC_TREE},
    {"node:xpath", DOC "local ul = doc:first('//ul')\n", "local ns = ul:xpath('li')", NULL,
     DOC_TREE},
    {"http.get with a big body", "", "local r = http.get('/big?bytes=200000')", NULL, 0},
    {"http.get headers", "", "local r = http.get('/echo?x=1', { headers = { ['X-A'] = 'b' } })",
     NULL, 0},
    {"http.post json", TABLE, "local r = http.post('/echo', { json = t })", NULL, 0},
    {"http.put form", BIG, "local r = http.put('/echo', { form = { a = big, b = 'c' } })", NULL, 0},
    {"http.delete", BIG, "local r = http.delete('/echo', { headers = { ['X-Big'] = big } })", NULL,
     0},
    {"http.request", BIG,
     "local r = http.request{ method = 'PATCH', url = '/echo', body = big, timeout = 5 }", NULL, 0},
    {"http.session", "",
     "local s = http.session() s:get('/cookie/set?a=1') local r = s:request{ url = "
     "'/cookie/get' } s:close()",
     NULL, 0},
    {"r:header", "local r = http.get('/echo')\n", "local h = r:header('content-type')", NULL, 0},
    {"r:json", "local r = http.get('/echo?' .. string.rep('k=v&', 300))\n", "local j = r:json()",
     NULL, 0},
    {"r:html", "local r = http.get('/html/page')\n", "local d = r:html() local n = d:count('//a')",
     NULL, 0},
    {"expect.status", "local r = http.get('/status/404')\n",
     "expect.status(r, { 200, 201, 204 }, 'status')", NULL, 0},
    {"expect.eq", TABLE "local u = {} for i = 1, 300 do u[i] = { a = i, b = { 1, 3 } } end\n",
     "expect.eq(t, u, 'deep')", NULL, 0},
    {"expect.truthy", BIG, "expect.truthy(false, big)", NULL, 0},
    {"expect.match", BIG, "expect.match(big, '^(l+)(x)$', big)", NULL, 0},
    {"expect.header", "local r = http.get('/echo')\n",
     "expect.header(r, 'content-type', '^text/', 'type')", NULL, 0},
    {"expect.xpath", DOC, "expect.xpath(doc, '//li[@class=\"x\"]', 'items')", NULL, DOC_TREE},
    {"expect.no_xpath", DOC, "expect.no_xpath(doc, '//li', 'no items')", NULL, DOC_TREE},
    {"expect.count", DOC, "expect.count(doc, '//li', 3, 'three')", NULL, DOC_TREE},
    {"expect.xpath on a response", "local r = http.get('/html/page')\n",
     "expect.xpath(r, '//h1', 'heading')", NULL, 0},
    {"expect.fail", BIG, "expect.fail(big)", NULL, 0},
    {"require", "", "local m = require('big')", NULL, 0},
    {"load", "local src = 'return {' .. string.rep('1,', 2000) .. '}'\n",
     "local fn = load(src, 'chunk ' .. src:sub(1, 200))", NULL, 0},
    {"pairs of a read-only table", "", "for k, v in pairs(params) do local s = k .. v end", NULL,
     0},
    {"error with a table", "", "error({})", "error raised with a table value instead of a message",
     0},
    {"error with a number", "", "error(3.5)", "error raised with the number 3.5 instead", 0},
};

/* Margins left below the cap (bytes): fine steps where a single push fails, coarser where
 * whole structures fail part-way. */
static size_t margins(size_t *out, size_t max) {
  size_t n = 0;
  for (size_t m = 0; m < 1024 && n < max; m += 32)
    out[n++] = m;
  for (size_t m = 1024; m < 4096 && n < max; m += 128)
    out[n++] = m;
  for (size_t m = 4096; m < 24576 && n < max; m += 512)
    out[n++] = m;
  for (size_t m = 24576; m <= 160 * 1024 && n < max; m += 8192)
    out[n++] = m;
  return n;
}

static void run_case(struct fixture *f, const struct oom_case *c, size_t margin) {
  char source[4096];
  /* The filler makes no garbage (a chain of one-slot tables, after a full collection), so
   * the room left is the margin; whatever room the call leaves is filled too: every run
   * ends at the cap, in the call or after it. */
  int n = snprintf(source, sizeof source,
                   "%s"
                   "collectgarbage()\n"
                   "local keep, n = nil, 0\n"
                   "local limit = %zu\n"
                   "while collectgarbage('count') * 1024 < limit do keep = { keep } end\n"
                   "do %s end\n"
                   "expect.truthy(true)\n"
                   "while true do keep = { keep } end\n",
                   c->prepare, CAP > c->outside + margin ? CAP - c->outside - margin : 0, c->call);
  assert_true(n > 0 && (size_t)n < sizeof source);
  f->check.source = source;
  struct uat_check_result r = {0};
  struct uat_error err;
  assert_int_equal(uat_sandbox_run(&f->env, &r, &err), 0);
  f->check.source = NULL;
  bool clear = r.error && (strstr(r.error, "memory") || (c->raised && strstr(r.error, c->raised)));
  if (r.outcome != UAT_OUTCOME_ERROR || !clear)
    fail_msg("%s, %zu bytes left: outcome %s, error: %s", c->name, margin,
             uat_outcome_name(r.outcome), r.error ? r.error : "(none)");
  uat_check_result_clear(&r);
}

static void test_cap_inside_each_call(void **state) {
  struct fixture *f = *state;
  size_t m[160];
  size_t nm = margins(m, sizeof m / sizeof *m);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (size_t k = 0; k < nm; k++)
      run_case(f, &cases[i], m[k]);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cap_inside_each_call, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  curl_global_cleanup();
  return failed;
}
