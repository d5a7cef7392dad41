/* The sandbox: escapes refused, runaway and hungry scripts stopped, outcomes,
 * error positions, logs and redaction, require. One table row per script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/lua_api.h"
#include "check/sandbox.h"
#include "testserver.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "s3cr3t-Tok3n"
#define MiB ((size_t)1024 * 1024)

/* ---- fixture: a hand-built playbook with one check ------------------------------ */

struct fixture {
  char dir[64];     /* temp playbook folder, with checklists/ */
  char bundled[96]; /* temp bundled folder */
  struct uat_secret secret;
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static void write_file(const char *dir, const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static const struct {
  const char *rel;
  const char *text;
} modules[] = {
    {"checklists/util.lua", "loads = (loads or 0) + 1\n"
                            "return { double = function(x) return 2 * x end, where = 'local' }\n"},
    {"checklists/sub/mod.lua", "return 'sub module'\n"},
    {"checklists/cyc_a.lua", "return require('cyc_b')\n"},
    {"checklists/cyc_b.lua", "return require('cyc_a')\n"},
    {"checklists/broken.lua", "return = 1\n"},
    {"checklists/raises.lua", "\nerror('module failed')\n"},
    {"checklists/noreturn.lua", "x_from_module = 5\n"},
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-sandbox-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char sub[160];
  snprintf(sub, sizeof sub, "%s/checklists", f->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(sub, sizeof sub, "%s/checklists/sub", f->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
    write_file(f->dir, modules[i].rel, modules[i].text);
  snprintf(f->bundled, sizeof f->bundled, "%s/bundled", f->dir);
  assert_int_equal(mkdir(f->bundled, 0700), 0);
  write_file(f->bundled, "util.lua", "return { where = 'bundled' }\n");
  write_file(f->bundled, "shared.lua", "return { where = 'bundled shared' }\n");
  /* A module that is a symlink out of checklists/, and one that stays inside. */
  write_file(f->dir, "outside.lua", "return 'outside'\n");
  char link[160];
  snprintf(link, sizeof link, "%s/checklists/escape.lua", f->dir);
  assert_int_equal(symlink("../outside.lua", link), 0);
  snprintf(link, sizeof link, "%s/checklists/inside.lua", f->dir);
  assert_int_equal(symlink("sub/mod.lua", link), 0);

  f->secret = (struct uat_secret){.name = "token", .env = "TM_TOKEN", .value = SECRET};
  f->pb.path = "PLAYBOOK.yml";
  f->pb.dir = f->dir;
  f->pb.name = "sandbox test";
  f->pb.secrets = &f->secret;
  f->pb.nsecrets = 1;
  f->pb.vars = json_pack("{s:s, s:i}", "env", "staging", "project", 42);
  f->check.id = "c1";
  f->check.title = "Check one";
  f->check.script_path = "checklists/x.lua";
  f->check.chunk_name = "checklists/x.lua";
  f->check.params = json_pack("{s:i, s:s, s:[i,i]}", "project", 42, "name", "x", "list", 1, 2);
  /* roomy: a sanitizer build on a loaded, niced core runs ~20x slower; tests of the
   * timeout itself set their own */
  f->check.timeout_s = 120.0;
  f->check.memory_cap = 16 * MiB;
  uat_redactor_init(&f->red);
  assert_int_equal(uat_redactor_add(&f->red, SECRET), 0);
  f->env = (struct uat_check_env){.playbook = &f->pb,
                                  .check = &f->check,
                                  .redactor = &f->red,
                                  .base_url = "http://127.0.0.1:9",
                                  .bundled_checklists = f->bundled};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  json_decref(f->pb.vars);
  json_decref(f->check.params);
  uat_redactor_release(&f->red);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void assert_contains(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle))
    fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static void run(struct fixture *f, const char *source, struct uat_check_result *out) {
  struct uat_error err;
  memset(out, 0, sizeof *out);
  f->check.source = (char *)source;
  assert_int_equal(uat_sandbox_run(&f->env, out, &err), 0);
}

/* ---- table: outcome and error text per script ----------------------------------- */

struct script_case {
  const char *name;
  const char *source;
  enum uat_outcome outcome;
  const char *error; /* substring of result->error; NULL: error must be NULL */
};

static const struct script_case script_cases[] = {
    {"all pass", "expect.eq(1, 1)\nexpect.truthy(true)", UAT_OUTCOME_PASS, NULL},
    {"one fails", "expect.eq(1, 1)\nexpect.eq(1, 2)", UAT_OUTCOME_FAIL, NULL},
    {"no expectations", "local x = 1", UAT_OUTCOME_FAIL,
     "no expectations recorded: call expect.* at least once"},
    {"raises after passing", "expect.eq(1, 1)\nerror('boom')", UAT_OUTCOME_ERROR,
     "checklists/x.lua:2: boom"},
    /* escapes */
    {"io.open", "io.open('/etc/passwd')", UAT_OUTCOME_ERROR, "global 'io'"},
    {"os.execute", "os.execute('touch /tmp/uat-escaped')", UAT_OUTCOME_ERROR, "field 'execute'"},
    {"os.remove", "os.remove('/tmp/x')", UAT_OUTCOME_ERROR, "field 'remove'"},
    {"os.getenv", "os.getenv('HOME')", UAT_OUTCOME_ERROR, "field 'getenv'"},
    {"os.exit", "os.exit(3)", UAT_OUTCOME_ERROR, "field 'exit'"},
    {"loadfile", "loadfile('/etc/passwd')", UAT_OUTCOME_ERROR, "global 'loadfile'"},
    {"dofile", "dofile('/etc/passwd')", UAT_OUTCOME_ERROR, "global 'dofile'"},
    {"binary chunk", "assert(load('\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n'))", UAT_OUTCOME_ERROR,
     "attempt to load a binary chunk"},
    {"binary chunk with mode b", "assert(load('\\27Lua\\84', 'x', 'b'))", UAT_OUTCOME_ERROR,
     "attempt to load a binary chunk"},
    {"string.dump", "string.dump(function() end)", UAT_OUTCOME_ERROR, "field 'dump'"},
    {"string.dump via metatable", "('x'):dump()", UAT_OUTCOME_ERROR, "method 'dump'"},
    {"package.loadlib", "package.loadlib('libc.so.6', 'system')", UAT_OUTCOME_ERROR,
     "global 'package'"},
    {"require path traversal", "require('../../etc/passwd')", UAT_OUTCOME_ERROR,
     "invalid module name '../../etc/passwd'"},
    {"require dots", "require('..etc')", UAT_OUTCOME_ERROR, "invalid module name"},
    {"debug", "debug.sethook()", UAT_OUTCOME_ERROR, "global 'debug'"},
    {"coroutine", "coroutine.wrap(print)", UAT_OUTCOME_ERROR, "global 'coroutine'"},
    {"collectgarbage stop", "collectgarbage('stop')", UAT_OUTCOME_ERROR,
     "option 'stop' is not allowed"},
    {"collectgarbage count", "expect.truthy(collectgarbage('count') > 0)", UAT_OUTCOME_PASS, NULL},
    {"text load works", "expect.eq(load('return 1 + 1')(), 2)", UAT_OUTCOME_PASS, NULL},
    {"load with env", "local f = load('return x', 'c', 't', {x = 7})\nexpect.eq(f(), 7)",
     UAT_OUTCOME_PASS, NULL},
    {"load reports syntax errors",
     "local f, e = load('x = = 1', '=snippet')\n"
     "expect.eq(f, nil)\nexpect.match(e, '^snippet:1:')",
     UAT_OUTCOME_PASS, NULL},
    {"shadowing expect is their business", "local e = expect\nexpect = 5\ne.eq(expect, 5)",
     UAT_OUTCOME_PASS, NULL},
    {"os.date bad format", "os.date('%Ez')", UAT_OUTCOME_ERROR, "invalid conversion"},
    {"os keeps time", "expect.truthy(os.time() > 0 and os.clock() >= 0 and #os.date('%Y') == 4)",
     UAT_OUTCOME_PASS, NULL},
    /* read-only globals */
    {"params read-only", "params.x = 1", UAT_OUTCOME_ERROR, "params is read-only"},
    {"vars read-only", "vars.env = 'prod'", UAT_OUTCOME_ERROR, "vars is read-only"},
    {"secrets read-only", "secrets.token = 'x'", UAT_OUTCOME_ERROR, "secrets is read-only"},
    {"check read-only", "check.id = 'x'", UAT_OUTCOME_ERROR, "check is read-only"},
    {"metatable hidden", "setmetatable(params, nil)", UAT_OUTCOME_ERROR,
     "cannot change a protected metatable"},
    {"globals readable",
     "expect.eq(params.project, 42)\nexpect.eq(params.list, {1, 2})\n"
     "expect.eq(vars.env, 'staging')\nexpect.eq(check.id, 'c1')\n"
     "expect.eq(check.title, 'Check one')\nexpect.eq(secrets.token, '" SECRET "')\n"
     "local n = 0\nfor k, v in pairs(params) do n = n + 1 end\nexpect.eq(n, 3)\n"
     "expect.eq(json.decode(json.encode(params)).project, 42)",
     UAT_OUTCOME_PASS, NULL},
    /* the read-only proxies are empty tables: expect compares and shows what they hold */
    {"expect sees through the read-only proxies",
     "expect.eq(vars, {env = 'staging', project = 42})\n"
     "expect.eq(params, {project = 42, name = 'x', list = {1, 2}})\n"
     "expect.eq(check, {id = 'c1', title = 'Check one'})\n"
     "expect.eq({v = vars}, {v = {env = 'staging', project = 42}})\n"
     "expect.eq(vars, vars)\n",
     UAT_OUTCOME_PASS, NULL},
    /* errors that are not strings */
    {"error table", "error({})", UAT_OUTCOME_ERROR, "error raised with a table value"},
    {"error nil", "error(nil)", UAT_OUTCOME_ERROR, "error raised with a nil value"},
    /* a number was once shown bare ("3.47435"): now a sentence with the script's line */
    {"error number", "\nerror(3.5)", UAT_OUTCOME_ERROR,
     "checklists/x.lua:2: error raised with the number 3.5 instead of a message; pass a string"},
    {"assert with a number message", "local t = 1.25\nassert(t < 1, t)", UAT_OUTCOME_ERROR,
     "checklists/x.lua:2: error raised with the number 1.25 instead of a message"},
    {"error boolean", "error(false)", UAT_OUTCOME_ERROR,
     "error raised with the boolean false instead of a message"},
    {"error with __tostring",
     "error(setmetatable({}, {__tostring = function() return 'custom' "
     "end}))",
     UAT_OUTCOME_ERROR, "custom"},
    {"syntax error", "x = = 1", UAT_OUTCOME_ERROR, "checklists/x.lua:1: unexpected symbol"},
    {"secret in error", "error('bad token ' .. secrets.token)", UAT_OUTCOME_ERROR, "bad token ***"},
    /* Lua cuts a chunk name at 60 bytes: the name is redacted before, not after */
    {"secret in a loaded chunk's name",
     "load('local a = 1 -- padding padding padding ' .. secrets.token .. '\\nerror(\"boom\")')()",
     UAT_OUTCOME_ERROR, "[string \"local a = 1 -- padding padding padding ***...\"]:2: boom"},
    {"secret in a chunk name given to load",
     "load('error(\"boom\")', 'padding padding padding padding pad ' .. secrets.token)()",
     UAT_OUTCOME_ERROR, "padding pad ***\"]:1: boom"},
    /* the error text has a size limit: the expression is redacted before it is quoted */
    {"secret in a long XPath expression",
     "html.parse('<p/>'):xpath('//[' .. string.rep('y', 2011) .. secrets.token)", UAT_OUTCOME_ERROR,
     "invalid XPath expression '//[yyy"},
    {"load from a reader keeps working",
     "local done = false\n"
     "local f = load(function() if done then return nil end done = true return 'return 3' end)\n"
     "expect.eq(f(), 3)",
     UAT_OUTCOME_PASS, NULL},
};

static void test_script_cases(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof script_cases / sizeof script_cases[0]; i++) {
    const struct script_case *c = &script_cases[i];
    struct uat_check_result r;
    run(f, c->source, &r);
    if (r.outcome != c->outcome)
      fail_msg("case '%s': outcome %s, want %s (error: %s)", c->name, uat_outcome_name(r.outcome),
               uat_outcome_name(c->outcome), r.error ? r.error : "none");
    if (c->error)
      assert_contains(r.error, c->error);
    else if (r.error)
      fail_msg("case '%s': unexpected error %s", c->name, r.error);
    if (r.error)
      assert_null(strstr(r.error, "s3cr3t")); /* not even a part of SECRET */
    if (r.traceback)
      assert_null(strstr(r.traceback, "s3cr3t"));
    uat_check_result_clear(&r);
  }
}

/* A failing comparison shows what the proxy holds, not the empty proxy's "{}". */
static void test_expect_shows_proxies(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f, "expect.eq(vars, {env = 'prod'})\nexpect.eq(secrets, {})", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_FAIL);
  assert_int_equal(r.nexpectations, 2);
  assert_contains(r.expectations[0].actual, "\"env\": \"staging\"");
  assert_contains(r.expectations[0].actual, "\"project\": 42");
  assert_string_equal(r.expectations[1].actual, "{\"token\": \"***\"}");
  uat_check_result_clear(&r);
}

/* ---- bounds: time and memory ---------------------------------------------------- */

struct bound_case {
  const char *name;
  const char *source;
  const char *error;
};

static const struct bound_case timeout_cases[] = {
    {"busy loop", "while true do end", "check timed out after 0.3s"},
    {"pcall cannot swallow", "while true do pcall(function() while true do end end) end",
     "check timed out after 0.3s"},
    {"xpcall handler loops",
     "while true do xpcall(function() while true do end end, "
     "function() while true do end end) end",
     "check timed out after 0.3s"},
    {"error loop in pcall", "while true do pcall(error, 'x') end", "check timed out after 0.3s"},
    {"recursion in pcall", "local function f() pcall(f) f() end f()", "check timed out after 0.3s"},
};

static void test_timeouts(void **state) {
  struct fixture *f = *state;
  f->check.timeout_s = 0.3;
  for (size_t i = 0; i < sizeof timeout_cases / sizeof timeout_cases[0]; i++) {
    struct uat_check_result r;
    run(f, timeout_cases[i].source, &r);
    if (r.outcome != UAT_OUTCOME_ERROR)
      fail_msg("case '%s': outcome %s", timeout_cases[i].name, uat_outcome_name(r.outcome));
    /* Deep recursion may hit Lua's stack limit first; both stop the script. */
    if (strcmp(timeout_cases[i].name, "recursion in pcall") != 0)
      assert_contains(r.error, timeout_cases[i].error);
    if (r.duration_s > 0.3 + 10.0) /* endless loops: any bound proves the stop */
      fail_msg("case '%s' took %.2fs", timeout_cases[i].name, r.duration_s);
    uat_check_result_clear(&r);
  }
}

static const struct bound_case memory_cases[] = {
    {"hog", "local t = {} while true do t[#t + 1] = string.rep('x', 1e6) end",
     "memory cap of 16 MiB exceeded"},
    {"hog in pcall",
     "local t = {} while true do pcall(function() t[#t + 1] = string.rep('x', 1e6) end) end",
     "memory cap of 16 MiB exceeded"},
    {"one huge string", "local s = string.rep('x', 1e9)", "memory cap of 16 MiB exceeded"},
    {"huge table", "local t = {} for i = 1, 1e8 do t[i] = i end", "memory cap of 16 MiB exceeded"},
    {"concat", "local s = 'x' while true do s = s .. s end", "memory cap of 16 MiB exceeded"},
};

static void test_memory_cap(void **state) {
  struct fixture *f = *state;
  f->check.timeout_s = 120; /* the cap, not the clock, must stop these */
  for (size_t i = 0; i < sizeof memory_cases / sizeof memory_cases[0]; i++) {
    struct uat_check_result r;
    run(f, memory_cases[i].source, &r);
    if (r.outcome != UAT_OUTCOME_ERROR)
      fail_msg("case '%s': outcome %s", memory_cases[i].name, uat_outcome_name(r.outcome));
    assert_contains(r.error, memory_cases[i].error);
    uat_check_result_clear(&r);
  }
  /* The process is unaffected: the next check runs normally. */
  struct uat_check_result r;
  run(f, "local t = {} for i = 1, 1000 do t[i] = string.rep('y', 1000) end expect.eq(#t, 1000)",
      &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  uat_check_result_clear(&r);
}

/* The jansson and libxml2 trees live outside the Lua allocator: they hold an estimate of
 * their size in the cap. Before, a 600 KB JSON text of empty objects took 140 MB (and a
 * 16 MB one 1.3 GB) under a 16 MiB cap. Unreachable documents give their share back. */
static void test_parser_trees_count(void **state) {
  struct fixture *f = *state;
  f->check.memory_cap = 16 * MiB;
  struct uat_check_result r;
  run(f,
      "local s = '[' .. string.rep('{},', 200000) .. '1]'\n"
      "local ok, e = pcall(json.decode, s)\n"
      "expect.eq(ok, false)\n"
      "expect.match(e, '^json.decode: the tree of this 600003%-byte text would take about')\n"
      "expect.match(e, 'of the check.s memory cap %(16.0 MiB%)')\n"
      "expect.eq(json.decode('[1, {\"a\": 2}]')[2].a, 2)\n"
      "local page = string.rep('<p a=1>x</p>', 5000)\n"
      "local keep, refused = {}, nil\n"
      "for i = 1, 50 do\n"
      "  local ok, d = pcall(html.parse, page)\n"
      "  if not ok then refused = d break end\n"
      "  keep[i] = d\n"
      "end\n"
      "expect.truthy(#keep >= 1 and #keep < 5, 'live documents count: ' .. #keep)\n"
      "expect.match(refused, '^html.parse: the tree of this 60000%-byte text')\n"
      "keep = nil\n"
      "local n = 0\n"
      "for i = 1, 50 do n = n + html.parse(page):count('//p') end\n"
      "expect.eq(n, 50 * 5000, 'dropped documents give their share back')\n",
      &r);
  for (size_t i = 0; i < r.nexpectations; i++)
    if (!r.expectations[i].ok)
      fail_msg("%s: actual %s", r.expectations[i].message,
               r.expectations[i].actual ? r.expectations[i].actual : "-");
  if (r.outcome != UAT_OUTCOME_PASS)
    fail_msg("outcome %s: %s", uat_outcome_name(r.outcome), r.error ? r.error : "");
  uat_check_result_clear(&r);
}

/* Every allocation of setting up a state may be refused: a tiny cap is an ERROR
 * naming the cap, never a crash or a leak (run under ASan to see the latter). */
static void test_tiny_caps(void **state) {
  struct fixture *f = *state;
  for (size_t cap = 1024; cap <= 48 * 1024; cap += 256) {
    f->check.memory_cap = cap;
    struct uat_check_result r;
    run(f, "expect.eq(json.encode({1}), '[1]')", &r);
    if (r.outcome == UAT_OUTCOME_ERROR)
      assert_contains(r.error, "memory cap of ");
    else if (r.outcome != UAT_OUTCOME_PASS)
      fail_msg("cap %zu: outcome %s", cap, uat_outcome_name(r.outcome));
    uat_check_result_clear(&r);
  }
  /* With a comfortable cap the same script passes. */
  f->check.memory_cap = 4 * MiB;
  struct uat_check_result r;
  run(f, "expect.eq(json.encode({1}), '[1]')", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  uat_check_result_clear(&r);
}

/* Long error messages are cut after redaction. */
static void test_long_error(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f, "error(string.rep('e', 100000) .. secrets.token)", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_true(strlen(r.error) < 4200);
  assert_contains(r.error, "... (truncated)");
  uat_check_result_clear(&r);
  /* just past the limit, where the cut mark is longer than what is cut: every length */
  for (int extra = 1; extra <= 20; extra++) {
    char source[96];
    snprintf(source, sizeof source, "error(string.rep('e', %d), 0)", 4096 + extra);
    run(f, source, &r);
    assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
    assert_true(strlen(r.error) <= 4096 + strlen("... (truncated)"));
    assert_contains(r.error, "... (truncated)");
    uat_check_result_clear(&r);
  }
}

/* Garbage that a collection frees does not count against the cap. */
static void test_memory_garbage_is_fine(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f, "for i = 1, 200 do local s = string.rep('z', 1e6) end expect.truthy(true)", &r);
  if (r.outcome != UAT_OUTCOME_PASS)
    fail_msg("outcome %s: %s", uat_outcome_name(r.outcome), r.error ? r.error : "");
  uat_check_result_clear(&r);
}

/* Finalizers run with hooks off, so scripts cannot set any; __close still works. */
static void test_finalizers(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f, "setmetatable({}, {__gc = function() while true do end end})\nexpect.eq(1, 1)", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_contains(r.error, "__gc finalizers are not allowed");
  uat_check_result_clear(&r);
  run(f,
      "local closed = false\n"
      "do local x <close> = setmetatable({}, {__close = function() closed = true end}) end\n"
      "local mt = {} local t = setmetatable({}, mt) mt.__gc = function() while true do end end\n"
      "t = nil collectgarbage()\nexpect.truthy(closed)",
      &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  uat_check_result_clear(&r);
}

/* ---- positions, logs ------------------------------------------------------------ */

static void test_inline_line_numbers(void **state) {
  struct fixture *f = *state;
  f->check.script_path = NULL;
  f->check.chunk_name = "PLAYBOOK.yml:11";
  f->check.source_line_offset = 10;
  struct uat_check_result r;
  run(f, "expect.eq(1, 1)\nerror('boom')\n", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_contains(r.error, "PLAYBOOK.yml:12: boom");
  assert_contains(r.traceback, "PLAYBOOK.yml:12");
  assert_int_equal(r.nexpectations, 1);
  assert_string_equal(r.expectations[0].where, "PLAYBOOK.yml:11");
  uat_check_result_clear(&r);

  run(f, "\n\nlocal x = ", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_contains(r.error, "PLAYBOOK.yml:13:");
  uat_check_result_clear(&r);
}

static void test_traceback(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f, "local function inner() error('deep') end\nlocal function outer() inner() end\nouter()",
      &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_string_equal(r.error, "checklists/x.lua:1: deep");
  assert_contains(r.traceback, "stack traceback:");
  assert_contains(r.traceback, "checklists/x.lua:2: in ");
  uat_check_result_clear(&r);
}

static void test_logs(void **state) {
  struct fixture *f = *state;
  struct uat_check_result r;
  run(f,
      "log('a', 1, nil, true, 2.5)\nlog('token', secrets.token)\nprint('printed')\n"
      "log()\nexpect.truthy(true)",
      &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  assert_int_equal(r.nlogs, 4);
  assert_string_equal(r.logs[0], "a\t1\tnil\ttrue\t2.5");
  assert_string_equal(r.logs[1], "token\t***");
  assert_string_equal(r.logs[2], "printed");
  assert_string_equal(r.logs[3], "");
  uat_check_result_clear(&r);

  /* Logging is capped: a chatty loop cannot fill the runner's memory. */
  run(f, "for i = 1, 5000 do log(string.rep('x', 10000)) end expect.truthy(true)", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_PASS);
  assert_int_equal(r.nlogs, 1001);
  assert_string_equal(r.logs[1000], "(further log lines dropped)");
  assert_true(strlen(r.logs[0]) < 4200);
  assert_contains(r.logs[0], "(truncated)");
  uat_check_result_clear(&r);
}

/* ---- require -------------------------------------------------------------------- */

static const struct script_case require_cases[] = {
    {"found and cached once",
     "local a = require('util')\nlocal b = require('util')\n"
     "expect.eq(a.double(4), 8)\nexpect.eq(a.where, 'local')\nexpect.truthy(a == b)\n"
     "expect.eq(loads, 1)",
     UAT_OUTCOME_PASS, NULL},
    {"dots are folders", "expect.eq(require('sub.mod'), 'sub module')", UAT_OUTCOME_PASS, NULL},
    {"bundled second", "expect.eq(require('shared').where, 'bundled shared')", UAT_OUTCOME_PASS,
     NULL},
    {"no return gives true", "expect.eq(require('noreturn'), true)\nexpect.eq(x_from_module, 5)",
     UAT_OUTCOME_PASS, NULL},
    {"cycle", "require('cyc_a')", UAT_OUTCOME_ERROR,
     "require cycle: 'cyc_a' -> 'cyc_b' -> 'cyc_a'"},
    {"syntax error in module", "require('broken')", UAT_OUTCOME_ERROR, "checklists/broken.lua:1:"},
    {"module raises", "require('raises')", UAT_OUTCOME_ERROR,
     "checklists/raises.lua:2: module failed"},
    {"failed module can be retried", "local ok = pcall(require, 'raises')\nrequire('raises')",
     UAT_OUTCOME_ERROR, "checklists/raises.lua:2: module failed"},
    {"symlink out of checklists/", "require('escape')", UAT_OUTCOME_ERROR,
     "module 'escape' resolves outside checklists/ (symlink); refusing"},
    {"symlink inside checklists/", "expect.eq(require('inside'), 'sub module')", UAT_OUTCOME_PASS,
     NULL},
    {"not found", "require('nope')", UAT_OUTCOME_ERROR, "module 'nope' not found: looked in '"},
    {"not a string", "require({})", UAT_OUTCOME_ERROR, "bad argument #1 to 'require'"},
};

static void test_require(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof require_cases / sizeof require_cases[0]; i++) {
    const struct script_case *c = &require_cases[i];
    struct uat_check_result r;
    run(f, c->source, &r);
    if (r.outcome != c->outcome)
      fail_msg("case '%s': outcome %s (error: %s)", c->name, uat_outcome_name(r.outcome),
               r.error ? r.error : "none");
    if (c->error)
      assert_contains(r.error, c->error);
    uat_check_result_clear(&r);
  }
  /* The not-found message names both places. */
  struct uat_check_result r;
  run(f, "require('a.b')", &r);
  char want[256];
  snprintf(want, sizeof want, "'%s/checklists/a/b.lua' and '%s/a/b.lua'", f->dir, f->bundled);
  assert_contains(r.error, want);
  uat_check_result_clear(&r);
}

static void test_bundled_dir(void **state) {
  struct fixture *f = *state;
  assert_string_equal(uat_sandbox_bundled_dir(&f->env), f->bundled);
  assert_int_equal(setenv("UATRUN_CHECKLISTS", "/opt/uat/checklists", 1), 0);
  assert_string_equal(uat_sandbox_bundled_dir(NULL), "/opt/uat/checklists");
  assert_int_equal(unsetenv("UATRUN_CHECKLISTS"), 0);
  assert_string_equal(uat_sandbox_bundled_dir(NULL), UAT_SOURCE_DIR "/checklists");
}

/* ---- compile (lint) ------------------------------------------------------------- */

static void test_compile(void **state) {
  struct fixture *f = *state;
  struct uat_error err;
  f->check.source = "expect.eq(1, 1)\n";
  assert_int_equal(uat_sandbox_compile(&f->env, &err), 0);
  f->check.source = "local x = 1\nif x then\n";
  assert_int_equal(uat_sandbox_compile(&f->env, &err), -1);
  assert_contains(err.text, "checklists/x.lua:3: 'end' expected");
  f->check.source = "\x1bLua";
  assert_int_equal(uat_sandbox_compile(&f->env, &err), -1);
  assert_contains(err.text, "binary chunk");

  f->check.script_path = NULL;
  f->check.source_line_offset = 20;
  f->check.source = "x = = 1";
  assert_int_equal(uat_sandbox_compile(&f->env, &err), -1);
  assert_contains(err.text, "PLAYBOOK.yml:21:");

  char path[160];
  snprintf(path, sizeof path, "%s/checklists/broken.lua", f->dir);
  assert_int_equal(uat_sandbox_compile_file(path, &err), -1);
  assert_contains(err.text, "broken.lua:1:");
  snprintf(path, sizeof path, "%s/checklists/util.lua", f->dir);
  assert_int_equal(uat_sandbox_compile_file(path, &err), 0);
  assert_int_equal(uat_sandbox_compile_file("/nonexistent/x.lua", &err), -1);
  assert_contains(err.text, "cannot read '/nonexistent/x.lua'");
}

/* ---- threads: states share nothing ---------------------------------------------- */

struct thread_arg {
  struct uat_check_env env;
  struct uat_check check;
  struct uat_check_result result;
  int rc;
};

static void *run_thread(void *p) {
  struct thread_arg *a = p;
  struct uat_error err;
  a->rc = uat_sandbox_run(&a->env, &a->result, &err);
  return NULL;
}

static void test_threads(void **state) {
  struct fixture *f = *state;
  enum { N = 4 };
  struct thread_arg args[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].check = f->check;
    args[i].check.source = "for i = 1, 50 do\n"
                           "  local doc = html.parse('<ul><li>a</li><li>b</li></ul>')\n"
                           "  expect.eq(doc:count('//li'), 2)\n"
                           "  expect.eq(json.decode(json.encode({n = i})).n, i)\n"
                           "end\n"
                           "pcall(function() html.parse('<p>'):xpath('//[') end)\n";
    args[i].env = f->env;
    args[i].env.check = &args[i].check;
    assert_int_equal(pthread_create(&th[i], NULL, run_thread, &args[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(args[i].rc, 0);
    if (args[i].result.outcome != UAT_OUTCOME_PASS)
      fail_msg("thread %d: %s", i, args[i].result.error ? args[i].result.error : "failed");
    assert_int_equal(args[i].result.nexpectations, 100);
    uat_check_result_clear(&args[i].result);
  }
}

/* The bindings together on a real response: expect.* through r:header / r:html,
 * r:json through uat_lua_push_decoded_json, and a network error as ERROR. */
static void test_with_http(void **state) {
  struct fixture *f = *state;
  char msg[256];
  struct uat_testserver *srv = uat_testserver_start(0, msg, sizeof msg);
  if (!srv)
    fail_msg("test server: %s", msg);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%u", uat_testserver_port(srv));
  f->env.base_url = base;
  struct uat_check_result r;
  run(f,
      "local r = http.get('/html/page')\n"
      "expect.status(r, 200)\n"
      "expect.header(r, 'Content-Type', 'text/html')\n"
      "expect.xpath(r, '//a')\n"
      "expect.count(r, '//a[@class=\"page-link\"]', 2)\n"
      "expect.no_xpath(r:html(), '//div[@class=\"error\"]')\n"
      "local j = http.get('/json')\n"
      "expect.truthy(type(j:json()) == 'table')\n"
      "local ok, e = pcall(function() return http.get('/notjson'):json() end)\n"
      "expect.match(e, 'invalid JSON at line 1')\n",
      &r);
  if (r.outcome != UAT_OUTCOME_PASS)
    fail_msg("outcome %s: %s", uat_outcome_name(r.outcome),
             r.error ? r.error
                     : (r.nexpectations ? r.expectations[r.nexpectations - 1].message : ""));
  assert_int_equal(r.nexpectations, 7);
  uat_check_result_clear(&r);

  run(f, "http.get('/status/404')\nexpect.status(http.get('/status/404'), 200)", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_FAIL);
  /* The status and the request it came from (expect.status names it). */
  assert_true(strncmp(r.expectations[0].actual, "404 from GET http://127.0.0.1:", 30) == 0);
  assert_contains(r.expectations[0].actual, "/status/404");
  uat_check_result_clear(&r);

  f->check.timeout_s = 0.5;
  run(f, "http.get('/slow')", &r);
  assert_int_equal(r.outcome, UAT_OUTCOME_ERROR);
  assert_contains(r.error, "timed out");
  assert_true(r.duration_s < 2.9); /* cut before the server answers at 3 s */
  uat_check_result_clear(&r);
  uat_testserver_stop(srv);
}

int main(void) {
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_script_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expect_shows_proxies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_garbage_is_fine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tiny_caps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parser_trees_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_finalizers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inline_line_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_traceback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_require, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bundled_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compile, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_with_http, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  return failed;
}
