/* json.decode / json.encode (check/lua_json.c), driven through the Lua API scripts see, in
 * a fresh Lua state per input. Properties: what json.decode accepts, jansson accepts; then
 * json.encode of the decoded value succeeds and gives jansson's own canonical text of the
 * input (compact, sorted keys): nothing is lost or changed on the way through Lua; and
 * decode(encode(x)) encodes to the same text again. Failures are Lua errors with a one-line
 * message naming json.decode. */
#include "check/lua_api.h"
#include "fuzz_assert.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* [-1, +1, -] Calls json.FN with the value on top; returns the Lua status, leaving the result
 * or the error message on top. */
static int call_json(lua_State *L, const char *fn) {
  lua_getglobal(L, "json");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_insert(L, -2);
  return lua_pcall(L, 1, 1, 0);
}

static void check_error(lua_State *L, const char *what) {
  const char *msg = lua_tostring(L, -1);
  FUZZ_ASSERT(msg && msg[0], "%s failed without a message", what);
  FUZZ_ASSERT(strstr(msg, "json."), "%s failed with '%s', which does not name it", what, msg);
  FUZZ_ASSERT(!strpbrk(msg, "\r\n\033"), "%s failed with '%s', not one line", what, msg);
}

/* jansson's canonical text of the input, or NULL when jansson refuses it. */
static char *canonical(const char *text, size_t len) {
  json_t *tree = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  char *s = tree ? json_dumps(tree, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(tree);
  return s;
}

static void round_trip(lua_State *L, const char *text, size_t len) {
  lua_pushlstring(L, text, len);
  if (call_json(L, "decode") != LUA_OK) {
    check_error(L, "json.decode");
    return;
  }
  char *want = canonical(text, len);
  FUZZ_ASSERT(want, "json.decode accepted what jansson refuses");
  lua_pushvalue(L, -1);
  FUZZ_ASSERT(call_json(L, "encode") == LUA_OK, "json.encode refused a decoded value: %s",
              lua_tostring(L, -1));
  size_t n;
  const char *first = lua_tolstring(L, -1, &n);
  FUZZ_ASSERT(first && strlen(want) == n && memcmp(first, want, n) == 0,
              "json.encode(json.decode(x)) gave '%s', jansson '%s'", first, want);
  lua_pushvalue(L, -1);
  FUZZ_ASSERT(call_json(L, "decode") == LUA_OK, "json.decode refused what json.encode wrote: %s",
              lua_tostring(L, -1));
  FUZZ_ASSERT(call_json(L, "encode") == LUA_OK, "json.encode failed the second time: %s",
              lua_tostring(L, -1));
  const char *second = lua_tostring(L, -1);
  FUZZ_ASSERT(second && strcmp(second, want) == 0, "a second round trip gave '%s', not '%s'",
              second, want);
  free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  lua_State *L = luaL_newstate();
  if (!L)
    return 0;
  uat_lua_open_json(L);
  round_trip(L, (const char *)data, size);
  lua_close(L);
  return 0;
}
