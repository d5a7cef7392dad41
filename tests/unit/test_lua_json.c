/* json.decode / json.encode / json.null, and the C helpers lua_http.c uses.
 * Each row is a Lua snippet: it either runs cleanly (its own asserts pass) or
 * raises an error containing the given text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/lua_api.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  assert_non_null(L);
  luaL_openlibs(L);
  uat_lua_open_json(L);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

/* Runs code; returns NULL on success or the error message (valid until the next call). */
static const char *run_lua(lua_State *L, const char *code) {
  lua_settop(L, 0);
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK)
    return lua_tostring(L, -1) ? lua_tostring(L, -1) : "(non-string error)";
  return NULL;
}

struct lua_case {
  const char *name;
  const char *code;
  const char *error; /* NULL: must succeed */
};

static const struct lua_case cases[] = {
    /* round trips: encode sorts keys, so the text is stable */
    {"object round trip",
     "local t = json.decode('{\"b\":[1,2,{\"c\":null}],\"a\":\"x\"}')\n"
     "assert(t.a == 'x' and t.b[2] == 2 and t.b[3].c == json.null)\n"
     "assert(json.encode(t) == '{\"a\":\"x\",\"b\":[1,2,{\"c\":null}]}')",
     NULL},
    {"array from keys 1..n", "assert(json.encode({10, 20, 30}) == '[10,20,30]')", NULL},
    {"empty table is an object", "assert(json.encode({}) == '{}')", NULL},
    {"decoded empty array stays an array", "assert(json.encode(json.decode('[]')) == '[]')", NULL},
    {"decoded empty object stays an object", "assert(json.encode(json.decode('{}')) == '{}')",
     NULL},
    {"decoded array keeps marking after edits",
     "local a = json.decode('[1]') a[1] = nil assert(json.encode(a) == '[]')", NULL},
    {"null round trip",
     "assert(json.encode(json.null) == 'null')\n"
     "assert(json.decode('null') == json.null)\n"
     "assert(tostring(json.null) == 'null')\n"
     "assert(json.encode({a = json.null}) == '{\"a\":null}')",
     NULL},
    {"nil encodes as null", "assert(json.encode(nil) == 'null')", NULL},
    {"integers stay integers",
     "local t = json.decode('[1, 1.0, 2.5, -7, 9007199254740993]')\n"
     "assert(math.type(t[1]) == 'integer')\n"
     "assert(math.type(t[2]) == 'float')\n"
     "assert(t[5] == 9007199254740993)\n"
     "assert(json.encode(3) == '3')\n"
     "assert(json.encode(2.5) == '2.5')",
     NULL},
    {"scalars at top level",
     "assert(json.decode('\"hi\"') == 'hi')\n"
     "assert(json.decode('true') == true)\n"
     "assert(json.encode('a\"b') == '\"a\\\\\"b\"')",
     NULL},
    {"unicode",
     "assert(json.decode('\"\\\\u00e9\"') == '\\u{e9}')\n"
     "assert(json.encode('\\u{e9}') == '\"\\u{e9}\"')",
     NULL},
    {"embedded NUL", "assert(#json.decode('\"a\\\\u0000b\"') == 3)", NULL},
    {"shared subtable is not a cycle", "local s = {1} assert(json.encode({s, s}) == '[[1],[1]]')",
     NULL},
    /* errors */
    {"decode error has position", "json.decode('{\"a\": tru}')",
     "json.decode: invalid JSON at line 1 column"},
    {"decode error second line", "json.decode('[1,\\n 2,,]')",
     "json.decode: invalid JSON at line 2 column"},
    {"decode empty", "json.decode('')", "json.decode: invalid JSON at line 1"},
    {"decode needs a string", "json.decode({})", "bad argument #1 to 'decode'"},
    {"cycle", "local t = {} t.self = t json.encode(t)", "table contains itself (a cycle)"},
    {"function", "json.encode({f = print})", "cannot encode a function value"},
    {"nan", "json.encode(0/0)", "cannot encode NaN"},
    {"infinity", "json.encode({x = math.huge})", "cannot encode an infinite number"},
    {"mixed keys", "json.encode({1, 2, x = 3})", "table mixes string keys with other keys"},
    {"sparse array", "json.encode({[1] = 1, [3] = 3})", "largest integer key 3"},
    {"invalid utf-8", "json.encode('\\xff')", "not valid UTF-8"},
    {"deep nesting decode", "json.decode(string.rep('[', 300) .. string.rep(']', 300))",
     "json.decode: JSON nested deeper than 200 levels"},
    /* found by tests/fuzz/fuzz_json.c: decode took 201 levels that encode then refused */
    {"decode and encode agree on depth",
     "local s = string.rep('[', 200) .. '1' .. string.rep(']', 200)\n"
     "assert(json.encode(json.decode(s)) == s)",
     NULL},
    {"one level more is refused by decode", "json.decode(string.rep('[', 201) .. string.rep(']', 201))",
     "json.decode: JSON nested deeper than 200 levels"},
    {"a line break in the bad text stays out of the message",
     "local ok, e = pcall(json.decode, '\"\\\\u00\\n\"') assert(not ok)\n"
     "assert(not e:find('[\\r\\n]'), e) error(e)",
     "invalid escape near '\"\\u00 '"},
    {"deep nesting encode",
     "local t = {} local c = t for i = 1, 300 do c[1] = {} c = c[1] end json.encode(t)",
     "nested deeper than 200 levels"},
    /* the jansson tree lives outside the Lua cap: one string shared 100 times was 100 MB */
    {"encode budget",
     "local s = string.rep('x', 1000000) local t = {} for i = 1, 100 do t[i] = s end\n"
     "json.encode(t)",
     "json.encode: the value takes more than 16777216 bytes as JSON"},
    {"encode budget counts keys",
     "local k = string.rep('k', 1000000) local t = {} for i = 1, 20 do t[k .. i] = 1 end\n"
     "json.encode(t)",
     "takes more than 16777216 bytes"},
    {"encode within budget",
     "local s = string.rep('x', 1000000) local t = {} for i = 1, 10 do t[i] = s end\n"
     "assert(#json.encode(t) == 10000000 + 10 * 3 + 1)",
     NULL},
    {"null is protected", "assert(getmetatable(json.null) == 'json.null')", NULL},
};

static void test_cases(void **state) {
  lua_State *L = *state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *err = run_lua(L, cases[i].code);
    if (!cases[i].error && err)
      fail_msg("case '%s' failed: %s", cases[i].name, err);
    if (cases[i].error && (!err || !strstr(err, cases[i].error)))
      fail_msg("case '%s': error \"%s\", want \"%s\"", cases[i].name, err ? err : "(none)",
               cases[i].error);
  }
}

/* The C side: what lua_http.c calls for json= bodies and r:json(). */
static void test_c_helpers(void **state) {
  lua_State *L = *state;
  json_t *in = json_pack("{s:i, s:[s, n, f], s:{}}", "n", 1, "list", "x", 1.5, "empty");
  uat_lua_push_json(L, in);
  struct uat_error err;
  json_t *out = uat_lua_to_json(L, -1, &err);
  assert_non_null(out);
  assert_true(json_equal(in, out));
  json_decref(in);
  json_decref(out);
  lua_pop(L, 1);

  lua_pushcfunction(L, luaopen_base); /* a function: not encodable */
  assert_null(uat_lua_to_json(L, -1, &err));
  assert_non_null(strstr(err.text, "cannot encode a function value"));
  lua_pop(L, 1);

  uat_lua_push_decoded_json(L, "{\"ok\":true}", 11, "r:json()");
  lua_getfield(L, -1, "ok");
  assert_true(lua_toboolean(L, -1));
  lua_settop(L, 0);
}

static int decode_bad(lua_State *L) {
  uat_lua_push_decoded_json(L, "[1, 2", 5, "r:json()");
  return 1;
}

static void test_decode_error_names_caller(void **state) {
  lua_State *L = *state;
  lua_pushcfunction(L, decode_bad);
  assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_ERRRUN);
  const char *msg = lua_tostring(L, -1);
  assert_non_null(strstr(msg, "r:json(): invalid JSON at line 1 column"));
  lua_settop(L, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_c_helpers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decode_error_names_caller, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
