/* json.decode / json.encode / json.null on jansson.
 * Arrays decoded from JSON carry a shared metatable so that encoding keeps
 * them arrays (an empty Lua table is otherwise an object); json.null is a
 * light userdata that tostring() shows as "null". */
#include "check/lua_api.h"
#include "util/strbuf.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 200

/* Unique addresses: the null sentinel and the registry key of the array metatable. */
static const char null_sentinel = 'n';
static const char array_mt_key = 'a';

static void push_null(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&null_sentinel);
}

static bool is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &null_sentinel;
}

/* [-0, +1, m] The metatable shared by decoded arrays, created on first use. */
static void push_array_mt(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key) == LUA_TTABLE)
    return;
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "json.array");
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
}

static void push_value(lua_State *L, const json_t *v, int depth);

static void push_array(lua_State *L, const json_t *v, int depth) {
  size_t n = json_array_size(v);
  lua_createtable(L, n > 1000000 ? 1000000 : (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_value(L, json_array_get(v, i), depth + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  push_array_mt(L);
  lua_setmetatable(L, -2);
}

static void push_object(lua_State *L, const json_t *v, int depth) {
  lua_createtable(L, 0, (int)(json_object_size(v) > 1000000 ? 1000000 : json_object_size(v)));
  const char *key;
  json_t *item;
  json_object_foreach((json_t *)v, key, item) {
    lua_pushstring(L, key);
    push_value(L, item, depth + 1);
    lua_rawset(L, -3);
  }
}

/* Arrays and objects nest at most MAX_DEPTH levels, as json.encode allows: decoding one more
 * level gave a table json.encode then refused. */
static void push_value(lua_State *L, const json_t *v, int depth) {
  if (depth >= MAX_DEPTH && (json_is_array(v) || json_is_object(v)))
    luaL_error(L, "JSON nested deeper than %d levels; decode a smaller part of it", MAX_DEPTH);
  luaL_checkstack(L, 4, "JSON nested too deeply");
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    push_object(L, v, depth);
    break;
  case JSON_ARRAY:
    push_array(L, v, depth);
    break;
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(v));
    break;
  case JSON_REAL:
    lua_pushnumber(L, (lua_Number)json_real_value(v));
    break;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    break;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    break;
  case JSON_NULL:
    push_null(L);
    break;
  }
}

void uat_lua_push_json(lua_State *L, const json_t *value) {
  if (!value)
    push_null(L);
  else
    push_value(L, value, 0);
}

/* Bytes jansson's tree of text takes, estimated from its tokens (measured on jansson
 * 2.14: about 48 bytes a value or key, 240 an object, plus the strings' bytes). */
static size_t tree_estimate(const char *text, size_t len) {
  size_t est = len + 64;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == ',' || c == '[' || c == ':')
      est += 48;
    else if (c == '{')
      est += 256;
  }
  return est;
}

/* Protected: pushes the tree given as light userdata (push_value may raise). */
static int l_push_tree(lua_State *L) {
  push_value(L, lua_touserdata(L, 1), 0);
  return 1;
}

void uat_lua_push_decoded_json(lua_State *L, const char *text, size_t len, const char *what) {
  what = what ? what : "json.decode";
  text = text ? text : "";
  size_t limit = uat_lua_parse_limit(L);
  if (len > limit)
    luaL_error(L,
               "%s: input of %I bytes exceeds the limit of %I bytes (the smaller of max_body "
               "and a quarter of the check's memory cap); decode a smaller text",
               what, (LUAI_UACINT)len, (LUAI_UACINT)limit);
  /* The tree lives outside the Lua allocator: reserve its size in the cap meanwhile. */
  size_t reserved = tree_estimate(text, len);
  if (uat_lua_reserve(L, reserved) != 0)
    uat_lua_reserve_error(L, what, len, reserved);
  lua_pushcfunction(L, l_push_tree); /* before the tree exists: pushing may raise */
  json_error_t jerr;
  json_t *tree = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
  if (!tree) {
    uat_lua_release(L, reserved);
    /* jansson quotes the bytes it choked on: keep a CR or LF there from breaking the line */
    luaL_error(L, "%s: invalid JSON at line %d column %d: %s", what, jerr.line, jerr.column,
               uat_text_one_line(jerr.text));
  }
  lua_pushlightuserdata(L, tree);
  int rc = lua_pcall(L, 1, 1, 0);
  json_decref(tree);
  uat_lua_release(L, reserved);
  /* The error names the call ("json.decode: JSON nested ..."); a memory error stays as it is. */
  if (rc == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING)
    luaL_error(L, "%s: %s", what, lua_tostring(L, -1));
  if (rc != LUA_OK)
    lua_error(L);
}

/* ---- Lua → JSON ----------------------------------------------------------------- */

struct encoder {
  lua_State *L;
  struct uat_error *err;
  /* Bytes the jansson tree may still take: it lives outside the Lua allocator, and a table
   * holding one big string many times is small in Lua but huge once copied. */
  size_t budget, limit;
  const void *path[MAX_DEPTH + 1]; /* tables being encoded, outermost first */
  int depth;
};

static json_t *to_json(struct encoder *e, int idx);

/* Charges one value of about `size` bytes to the budget; false (err set) past it. */
static bool charge(struct encoder *e, size_t size) {
  size += 32; /* the json_t itself */
  if (size <= e->budget) {
    e->budget -= size;
    return true;
  }
  uat_error_set(e->err,
                "json.encode: the value takes more than %zu bytes as JSON (the smaller of "
                "max_body and a quarter of the check's memory cap); encode less",
                e->limit);
  return false;
}

static bool is_marked_array(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx))
    return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
  bool marked = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return marked;
}

/* The real table behind a read-only proxy (sandbox.c sets "__readonly"), else idx. */
static int unwrap_readonly(lua_State *L, int idx) {
  if (luaL_getmetafield(L, idx, "__readonly") == LUA_TTABLE)
    return lua_gettop(L);
  return idx;
}

/* Classifies a table: 1 array (keys 1..n), 0 object (string keys), -1 mixed. */
static int table_shape(lua_State *L, int idx, size_t *n, lua_Integer *bad_key) {
  size_t count = 0, strings = 0;
  lua_Integer max = 0;
  *bad_key = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (lua_type(L, -2) == LUA_TSTRING)
      strings++;
    else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > 0) {
      lua_Integer k = lua_tointeger(L, -2);
      max = k > max ? k : max;
    }
    lua_pop(L, 1);
  }
  *n = count;
  if (strings == count)
    return 0;
  if (strings == 0 && (size_t)max == count)
    return 1;
  *bad_key = max;
  return -1;
}

static json_t *array_to_json(struct encoder *e, int idx, size_t n) {
  json_t *arr = json_array();
  if (!arr) {
    uat_error_set(e->err, "json.encode: out of memory");
    return NULL;
  }
  for (size_t i = 1; i <= n; i++) {
    lua_rawgeti(e->L, idx, (lua_Integer)i);
    json_t *item = to_json(e, lua_gettop(e->L));
    lua_pop(e->L, 1);
    if (!item || json_array_append_new(arr, item) != 0) {
      if (item)
        uat_error_set(e->err, "json.encode: out of memory");
      json_decref(arr);
      return NULL;
    }
  }
  return arr;
}

static json_t *object_to_json(struct encoder *e, int idx) {
  json_t *obj = json_object();
  if (!obj) {
    uat_error_set(e->err, "json.encode: out of memory");
    return NULL;
  }
  lua_State *L = e->L;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t klen;
    const char *key = lua_tolstring(L, -2, &klen); /* a string: no conversion happens */
    if (!charge(e, klen)) {
      lua_pop(L, 2);
      json_decref(obj);
      return NULL;
    }
    json_t *item = to_json(e, lua_gettop(L));
    if (!item || json_object_setn_new(obj, key, klen, item) != 0) {
      if (item)
        uat_error_set(e->err, "json.encode: key '%.64s' is not valid UTF-8", key);
      lua_pop(L, 2);
      json_decref(obj);
      return NULL;
    }
    lua_pop(L, 1);
  }
  return obj;
}

static json_t *table_to_json(struct encoder *e, int idx) {
  lua_State *L = e->L;
  const void *self = lua_topointer(L, idx);
  for (int i = 0; i < e->depth; i++)
    if (e->path[i] == self) {
      uat_error_set(e->err, "json.encode: table contains itself (a cycle); "
                            "encode a copy without the back-reference");
      return NULL;
    }
  if (e->depth >= MAX_DEPTH) {
    uat_error_set(e->err, "json.encode: tables nested deeper than %d levels", MAX_DEPTH);
    return NULL;
  }
  if (!lua_checkstack(L, 6)) {
    uat_error_set(e->err, "json.encode: tables nested too deeply");
    return NULL;
  }
  int top = lua_gettop(L);
  int real = unwrap_readonly(L, idx);
  e->path[e->depth++] = self;
  json_t *out = NULL;
  size_t n;
  lua_Integer bad;
  if (is_marked_array(L, real)) {
    out = array_to_json(e, real, lua_rawlen(L, real));
  } else {
    int shape = table_shape(L, real, &n, &bad);
    if (shape == 1)
      out = array_to_json(e, real, n);
    else if (shape == 0)
      out = object_to_json(e, real);
    else
      uat_error_set(e->err,
                    "json.encode: table mixes string keys with other keys, or has "
                    "gaps (largest integer key %lld); use keys 1..n for an array or "
                    "only string keys for an object",
                    (long long)bad);
  }
  e->depth--;
  lua_settop(L, top);
  return out;
}

static json_t *to_json(struct encoder *e, int idx) {
  lua_State *L = e->L;
  json_t *out = NULL;
  size_t bytes = 0;
  if (lua_type(L, idx) == LUA_TSTRING)
    lua_tolstring(L, idx, &bytes);
  if (!charge(e, bytes))
    return NULL;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    out = json_null();
    break;
  case LUA_TBOOLEAN:
    out = json_boolean(lua_toboolean(L, idx));
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      out = json_integer((json_int_t)lua_tointeger(L, idx));
    } else {
      double d = (double)lua_tonumber(L, idx);
      if (!isfinite(d)) {
        uat_error_set(e->err, "json.encode: cannot encode %s (JSON has no NaN or infinity)",
                      isnan(d) ? "NaN" : "an infinite number");
        return NULL;
      }
      out = json_real(d);
    }
    break;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    out = json_stringn(s, len);
    if (!out) {
      uat_error_set(e->err, "json.encode: string is not valid UTF-8");
      return NULL;
    }
    break;
  }
  case LUA_TTABLE:
    return table_to_json(e, idx);
  case LUA_TLIGHTUSERDATA:
    if (is_null(L, idx)) {
      out = json_null();
      break;
    }
    /* fall through */
  default:
    uat_error_set(e->err, "json.encode: cannot encode a %s value", luaL_typename(L, idx));
    return NULL;
  }
  if (!out)
    uat_error_set(e->err, "json.encode: out of memory");
  return out;
}

json_t *uat_lua_to_json(lua_State *L, int idx, struct uat_error *err) {
  size_t limit = uat_lua_parse_limit(L);
  struct encoder e = {.L = L, .err = err, .budget = limit, .limit = limit, .depth = 0};
  return to_json(&e, lua_absindex(L, idx));
}

/* ---- the json table ------------------------------------------------------------- */

static int l_json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  uat_lua_push_decoded_json(L, text, len, "json.decode");
  return 1;
}

/* Holds the dumped text while it is copied into Lua. */
static int l_text_box_gc(lua_State *L) {
  char **box = lua_touserdata(L, 1);
  if (box && *box) {
    free(*box);
    *box = NULL;
  }
  return 0;
}

static int l_json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  char **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_text_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  struct uat_error err;
  json_t *value = uat_lua_to_json(L, 1, &err);
  if (!value)
    return luaL_error(L, "%s", err.text);
  *box = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(value);
  if (!*box)
    return luaL_error(L, "json.encode: out of memory");
  lua_pushstring(L, *box);
  free(*box);
  *box = NULL;
  return 1;
}

static int l_null_tostring(lua_State *L) {
  lua_pushliteral(L, "null");
  return 1;
}

/* Light userdata share one metatable per state: only json.null is ever given to scripts. */
static void set_null_metatable(lua_State *L) {
  push_null(L);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_null_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "json.null");
  lua_setfield(L, -2, "__name");
  lua_pushliteral(L, "json.null");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

void uat_lua_open_json(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"decode", l_json_decode},
      {"encode", l_json_encode},
      {NULL, NULL},
  };
  set_null_metatable(L);
  push_array_mt(L);
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  push_null(L);
  lua_setfield(L, -2, "null");
  lua_setglobal(L, "json");
}
