/* expect.*: soft assertions. Each records an expectation in the check's result
 * (pass or fail, actual vs expected, where, all redacted) and returns true or
 * false; the script goes on. Wrong argument types raise (the check errors). */
#include "check/lua_api.h"

#include "util/strbuf.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHOW_MAX 200     /* characters of a value shown in actual/expected */
#define MESSAGE_MAX 4096 /* bytes of a script's message kept */
#define EXPECT_MAX 10000 /* expectations recorded per check */
#define EXPECT_MAX_TEXT "10000"
#define EQ_DEPTH 100  /* deep equality raises an error below this */
#define SHOW_DEPTH 20 /* nested tables shown as {...} below this */

/* ---- showing values ----------------------------------------------------------- */

/* [-0, +(0|1), -] The real table behind a read-only proxy (params, vars, secrets, check:
 * sandbox.c names it "__readonly"), pushed; else idx, pushing nothing. The proxy itself
 * is empty, so vars compared as {} and expect.eq(vars, {...}) failed. */
static int unwrap_readonly(lua_State *L, int idx) {
  if (luaL_getmetafield(L, idx, "__readonly") == LUA_TTABLE)
    return lua_gettop(L);
  return idx;
}

static void show_value(lua_State *L, int idx, struct uat_strbuf *sb, int depth, size_t limit);

static void show_escaped(const char *s, size_t len, struct uat_strbuf *sb, size_t limit) {
  uat_strbuf_add(sb, "\"", 1);
  for (size_t i = 0; i < len && sb->len < limit; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      uat_strbuf_addf(sb, "\\%c", c);
    else if (c == '\n')
      uat_strbuf_adds(sb, "\\n");
    else if (c == '\t')
      uat_strbuf_adds(sb, "\\t");
    else if (c < 0x20 || c == 0x7f)
      uat_strbuf_addf(sb, "\\x%02x", c);
    else
      uat_strbuf_add(sb, &s[i], 1);
  }
  uat_strbuf_add(sb, "\"", 1);
}

/* Redacts the raw bytes before escaping them: an escaped secret ("abc\\x0d" for a
 * value read with a stray CR) is a form the redactor does not know. Only the prefix that
 * can be shown is redacted: a secret starting inside it ends inside it. */
static void show_string(lua_State *L, const char *s, size_t len, struct uat_strbuf *sb,
                        size_t limit) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  const struct uat_redactor *r = ctx && ctx->env ? ctx->env->redactor : NULL;
  if (!r || r->count == 0) {
    show_escaped(s, len, sb, limit);
    return;
  }
  size_t prefix = limit + strlen(r->needles[0]);
  size_t safe_len;
  char *safe = uat_redact_n(r, s, len < prefix ? len : prefix, &safe_len);
  if (!safe) {
    uat_strbuf_adds(sb, "\"?\"");
    return;
  }
  show_escaped(safe, safe_len, sb, limit);
  free(safe);
}

static void show_number(lua_State *L, int idx, struct uat_strbuf *sb) {
  if (lua_isinteger(L, idx)) {
    uat_strbuf_addf(sb, "%lld", (long long)lua_tointeger(L, idx));
    return;
  }
  double d = (double)lua_tonumber(L, idx);
  if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
    uat_strbuf_addf(sb, "%.1f", d);
  else
    uat_strbuf_addf(sb, "%.14g", d);
}

/* True when the table has exactly the keys 1..n (n > 0). */
static bool is_sequence(lua_State *L, int idx, size_t *n) {
  size_t count = 0;
  lua_Integer max = 0;
  bool only_ints = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    count++;
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > 0) {
      lua_Integer k = lua_tointeger(L, -2);
      max = k > max ? k : max;
    } else {
      only_ints = false;
    }
    lua_pop(L, 1);
  }
  *n = count;
  return only_ints && count > 0 && (size_t)max == count;
}

static void show_table(lua_State *L, int idx, struct uat_strbuf *sb, int depth, size_t limit) {
  size_t n;
  if (depth >= SHOW_DEPTH || !lua_checkstack(L, 4)) {
    uat_strbuf_adds(sb, "{...}");
    return;
  }
  if (is_sequence(L, idx, &n)) {
    uat_strbuf_add(sb, "[", 1);
    for (size_t i = 1; i <= n && sb->len <= SHOW_MAX; i++) {
      if (i > 1)
        uat_strbuf_adds(sb, ", ");
      lua_rawgeti(L, idx, (lua_Integer)i);
      show_value(L, lua_gettop(L), sb, depth + 1, limit);
      lua_pop(L, 1);
    }
    uat_strbuf_add(sb, "]", 1);
    return;
  }
  uat_strbuf_add(sb, "{", 1);
  bool first = true;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (sb->len > SHOW_MAX) {
      lua_pop(L, 2);
      break;
    }
    if (!first)
      uat_strbuf_adds(sb, ", ");
    first = false;
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t klen;
      const char *k = lua_tolstring(L, -2, &klen);
      show_string(L, k, klen, sb, limit);
    } else {
      uat_strbuf_add(sb, "[", 1);
      show_value(L, lua_gettop(L) - 1, sb, depth + 1, limit);
      uat_strbuf_add(sb, "]", 1);
    }
    uat_strbuf_adds(sb, ": ");
    show_value(L, lua_gettop(L), sb, depth + 1, limit);
    lua_pop(L, 1);
  }
  uat_strbuf_add(sb, "}", 1);
}

static void show_value(lua_State *L, int idx, struct uat_strbuf *sb, int depth, size_t limit) {
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    uat_strbuf_adds(sb, "nil");
    break;
  case LUA_TBOOLEAN:
    uat_strbuf_adds(sb, lua_toboolean(L, idx) ? "true" : "false");
    break;
  case LUA_TNUMBER:
    show_number(L, idx, sb);
    break;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    show_string(L, s, len, sb, limit);
    break;
  }
  case LUA_TTABLE: {
    int top = lua_gettop(L);
    show_table(L, lua_checkstack(L, 2) ? unwrap_readonly(L, idx) : idx, sb, depth, limit);
    lua_settop(L, top);
    break;
  }
  default: {
    /* json.null and our objects have a __name; anything else shows its type. */
    int t = luaL_getmetafield(L, idx, "__name");
    if (t == LUA_TSTRING)
      uat_strbuf_addf(sb, "%s",
                      strcmp(lua_tostring(L, -1), "json.null") == 0 ? "null" : lua_tostring(L, -1));
    else
      uat_strbuf_addf(sb, "<%s>", luaL_typename(L, idx));
    if (t != LUA_TNIL)
      lua_pop(L, 1);
  }
  }
}

/* Bytes of a value to render before redacting and cutting at SHOW_MAX: enough that a
 * secret starting before the cut is rendered whole (an escape takes at most 4 bytes). */
static size_t render_limit(lua_State *L) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  const struct uat_redactor *r = ctx && ctx->env ? ctx->env->redactor : NULL;
  size_t longest = r && r->count ? strlen(r->needles[0]) : 0;
  return SHOW_MAX + 8 + 4 * longest;
}

/* [-0, +1, m] Pushes a readable, redacted, truncated rendering of the value at idx.
 * Redaction comes before the cut: a cut through a secret would leave a part the redactor misses. */
static const char *push_shown(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  /* Boxed: rendering pushes Lua values and the result is copied into Lua, and either may
   * raise on the memory cap; the box frees the text then. */
  struct uat_strbuf *sb = uat_lua_push_strbuf_box(L);
  show_value(L, idx, sb, 0, render_limit(L));
  char *safe = sb->buf ? uat_lua_redact(L, sb->buf) : NULL;
  uat_strbuf_release(sb);
  safe = uat_text_cut(safe, SHOW_MAX, "...");
  bool kept = safe && uat_strbuf_adds(sb, safe) == 0;
  free(safe);
  lua_pushstring(L, kept ? sb->buf : "?");
  uat_strbuf_release(sb);
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

/* ---- recording ---------------------------------------------------------------- */

/* Past EXPECT_MAX recorded expectations, a passing one is only counted as such and a
 * failing one is recorded once more, so the check still fails: never a false pass.
 * Returns true when this expectation should be recorded as given. */
static bool within_limit(lua_State *L, struct uat_check_result *result, bool ok, int *rc) {
  size_t n = result->nexpectations;
  *rc = 0;
  if (n < EXPECT_MAX)
    return true;
  char where[256];
  uat_lua_where(L, 1, where, sizeof where);
  if (n == EXPECT_MAX)
    *rc = uat_check_result_add_expectation(
        result, true, "limit",
        "further expectations are not recorded (limit " EXPECT_MAX_TEXT
        "); a failing one still fails the check",
        NULL, NULL, where);
  if (*rc == 0 && !ok && result->nexpectations == EXPECT_MAX + 1)
    *rc = uat_check_result_add_expectation(result, false, "limit",
                                           "an expectation past the limit of " EXPECT_MAX_TEXT
                                           " failed; record fewer to see it",
                                           NULL, NULL, where);
  return false;
}

/* Records one expectation (every text redacted) and returns ok to the script. */
static int record(lua_State *L, bool ok, const char *kind, const char *message, const char *actual,
                  const char *expected) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (!ctx || !ctx->result)
    return luaL_error(L, "expect.%s: no check is running", kind);
  int limit_rc;
  if (!within_limit(L, ctx->result, ok, &limit_rc)) {
    if (limit_rc != 0)
      return luaL_error(L, "expect.%s: out of memory recording the expectation", kind);
    lua_pushboolean(L, ok);
    return 1;
  }
  char where[256];
  uat_lua_where(L, 1, where, sizeof where);
  char *m = uat_lua_redact(L, message ? message : "");
  m = uat_text_cut(m, MESSAGE_MAX, ""); /* after redaction: a cut through a secret would leak */
  char *a = actual ? uat_lua_redact(L, actual) : NULL;
  char *e = expected ? uat_lua_redact(L, expected) : NULL;
  char *w = uat_lua_redact(L, where);
  int rc = -1;
  if (m && w && (a || !actual) && (e || !expected))
    rc = uat_check_result_add_expectation(ctx->result, ok, kind, m, a, e, w);
  free(m);
  free(a);
  free(e);
  free(w);
  if (rc != 0)
    return luaL_error(L, "expect.%s: out of memory recording the expectation", kind);
  lua_pushboolean(L, ok);
  return 1;
}

/* The script's message at idx, or NULL when absent. */
static const char *opt_message(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx))
    return NULL;
  return luaL_checkstring(L, idx);
}

/* The text of a string or number argument, or NULL for anything else. */
static const char *as_text(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  return t == LUA_TSTRING || t == LUA_TNUMBER ? lua_tostring(L, idx) : NULL;
}

/* [-0, +1, e] Runs string.find(s, pattern) (kept as upvalue 1, so a script
 * cannot replace it). Returns 1 found, 0 not found, or -1 when the pattern is
 * malformed, with the message left on the stack. */
static int find_pattern(lua_State *L, const char *s, const char *pattern) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushstring(L, s);
  lua_pushstring(L, pattern);
  int rc = lua_pcall(L, 2, 1, 0);
  if (rc == LUA_ERRRUN)
    return -1;
  if (rc != LUA_OK)
    lua_error(L);
  bool found = !lua_isnil(L, -1);
  lua_pop(L, 1);
  return found;
}

/* ---- expect.* ----------------------------------------------------------------- */

static bool status_in(lua_State *L, int list, lua_Integer status) {
  if (lua_isinteger(L, list))
    return lua_tointeger(L, list) == status;
  for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, list); i++) {
    lua_rawgeti(L, list, i);
    bool hit = lua_isinteger(L, -1) && lua_tointeger(L, -1) == status;
    lua_pop(L, 1);
    if (hit)
      return true;
  }
  return false;
}

/* [-0, +1, e] "200" or "one of 200, 201". */
static const char *push_expected_status(lua_State *L, int list) {
  if (lua_isinteger(L, list))
    return lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, list));
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "one of ");
  lua_Integer n = (lua_Integer)lua_rawlen(L, list);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    if (!lua_isinteger(L, -1))
      luaL_error(L, "expect.status: the list of codes must hold integers (item %I is %s)",
                 (LUAI_UACINT)i, luaL_typename(L, -1));
    lua_pushfstring(L, i > 1 ? ", %I" : "%I", (LUAI_UACINT)lua_tointeger(L, -1));
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static void check_object(lua_State *L, int idx, const char *what) {
  int t = lua_type(L, idx);
  if (t != LUA_TTABLE && t != LUA_TUSERDATA)
    luaL_typeerror(L, idx, what);
}

static int l_expect_status(lua_State *L) {
  check_object(L, 1, "response");
  if (!lua_isinteger(L, 2) && !lua_istable(L, 2))
    luaL_typeerror(L, 2, "status code or list of codes");
  const char *msg = opt_message(L, 3);
  lua_getfield(L, 1, "status");
  int status_idx = lua_gettop(L);
  /* lua_tointegerx: a cast of 200.5 passed as 200, and of 1e300 was undefined behaviour */
  int is_int = 0;
  lua_Integer status = lua_tointegerx(L, status_idx, &is_int);
  if (!is_int)
    return luaL_argerror(L, 1, "response has no integer 'status'");
  const char *expected = push_expected_status(L, 2);
  /* "403 from GET http://…/x": which request failed, when a script checks several. */
  lua_getfield(L, 1, "url");
  lua_getfield(L, 1, "method");
  const char *url = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
  const char *method = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  const char *actual = url ? lua_pushfstring(L, "%I from %s%s%s", (LUAI_UACINT)status,
                                             method ? method : "", method ? " " : "", url)
                           : lua_pushfstring(L, "%I", (LUAI_UACINT)status);
  if (!msg)
    msg = lua_pushfstring(L, "status is %s", expected);
  return record(L, status_in(L, 2, status), "status", msg, actual, expected);
}

/* One deep comparison: the pairs of tables on the current path (a pair met again is a
 * cycle, equal so far), and a step count for looking at the clock. */
struct eq_walk {
  const void *path[EQ_DEPTH][2];
  unsigned long steps;
};

/* [-0, +0, e] Every few thousand steps, stops the check once its deadline has passed:
 * the count hook cannot fire inside this C function. */
static void eq_step(lua_State *L, struct eq_walk *w) {
  if (++w->steps % 4096 != 0)
    return;
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (ctx && uat_monotonic_now() >= ctx->deadline) {
    ctx->timed_out = true; /* the hook keeps raising from now on, past any pcall */
    luaL_error(L, "expect.eq: check timed out while comparing tables");
  }
}

static bool deep_equal(lua_State *L, int a, int b, int depth, struct eq_walk *w);

/* Every key of a has an equal value in b, and every key of b is in a. Values are compared
 * once per key (comparing both ways doubled the work at each level: 2^depth). */
static bool same_tables(lua_State *L, int a, int b, int depth, struct eq_walk *w) {
  lua_pushnil(L);
  while (lua_next(L, a)) {
    eq_step(L, w);
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    bool same = deep_equal(L, lua_gettop(L) - 1, lua_gettop(L), depth + 1, w);
    lua_pop(L, 2);
    if (!same) {
      lua_pop(L, 1);
      return false;
    }
  }
  lua_pushnil(L);
  while (lua_next(L, b)) {
    eq_step(L, w);
    lua_pushvalue(L, -2);
    bool present = lua_rawget(L, a) != LUA_TNIL;
    lua_pop(L, 2);
    if (!present) {
      lua_pop(L, 1);
      return false;
    }
  }
  return true;
}

static bool deep_equal(lua_State *L, int a, int b, int depth, struct eq_walk *w) {
  if (lua_rawequal(L, a, b))
    return true;
  if (lua_type(L, a) != LUA_TTABLE || lua_type(L, b) != LUA_TTABLE)
    return false;
  /* Giving up as "unequal" would fail two equal tables with identical-looking values. */
  if (depth >= EQ_DEPTH)
    luaL_error(L,
               "expect.eq cannot compare tables nested deeper than %d levels; compare a part "
               "of them",
               EQ_DEPTH);
  if (!lua_checkstack(L, 8))
    luaL_error(L, "expect.eq: out of Lua stack comparing nested tables");
  int top = lua_gettop(L);
  a = unwrap_readonly(L, a);
  b = unwrap_readonly(L, b);
  const void *pa = lua_topointer(L, a), *pb = lua_topointer(L, b);
  bool cycle = pa == pb;
  for (int i = 0; i < depth && !cycle; i++)
    cycle = w->path[i][0] == pa && w->path[i][1] == pb; /* met again: equal as far as it goes */
  w->path[depth][0] = pa;
  w->path[depth][1] = pb;
  bool same = cycle || same_tables(L, a, b, depth, w);
  lua_settop(L, top);
  return same;
}

static int l_expect_eq(lua_State *L) {
  luaL_checkany(L, 2);
  const char *msg = opt_message(L, 3);
  struct eq_walk walk = {.steps = 0};
  bool ok = deep_equal(L, 1, 2, 0, &walk);
  const char *actual = push_shown(L, 1);
  const char *expected = push_shown(L, 2);
  if (!msg)
    msg = lua_pushfstring(L, "value equals %s", expected);
  return record(L, ok, "eq", msg, actual, expected);
}

static int l_expect_truthy(lua_State *L) {
  luaL_checkany(L, 1);
  const char *msg = opt_message(L, 2);
  const char *actual = push_shown(L, 1);
  return record(L, lua_toboolean(L, 1), "truthy", msg ? msg : "value is truthy", actual,
                "a truthy value (not nil or false)");
}

static int l_expect_match(lua_State *L) {
  luaL_checkany(L, 1);
  const char *pattern = luaL_checkstring(L, 2);
  const char *msg = opt_message(L, 3);
  const char *actual = push_shown(L, 1); /* before as_text turns a number into a string */
  const char *s = as_text(L, 1);
  const char *expected = lua_pushfstring(L, "matches '%s'", pattern);
  if (!msg)
    msg = lua_pushfstring(L, "value matches '%s'", pattern);
  if (!s)
    return record(L, false, "match", msg, actual, expected);
  int found = find_pattern(L, s, pattern);
  if (found < 0) {
    const char *why =
        lua_pushfstring(L, "malformed pattern '%s': %s", pattern, lua_tostring(L, -1));
    return record(L, false, "match", why, actual, expected);
  }
  return record(L, found == 1, "match", msg, actual, expected);
}

static int l_expect_header(lua_State *L) {
  check_object(L, 1, "response");
  const char *name = luaL_checkstring(L, 2);
  const char *pattern = lua_isnoneornil(L, 3) ? NULL : luaL_checkstring(L, 3);
  const char *msg = opt_message(L, 4);
  if (!msg)
    msg = pattern ? lua_pushfstring(L, "header '%s' matches '%s'", name, pattern)
                  : lua_pushfstring(L, "header '%s' is present", name);
  const char *expected = pattern ? lua_pushfstring(L, "matches '%s'", pattern) : "present";
  /* r:header(name) through Lua, so any response object with that method works. */
  lua_getfield(L, 1, "header");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_call(L, 2, 1);
  const char *value = as_text(L, -1);
  if (!value)
    return record(L, false, "header", msg, "(missing)", expected);
  const char *actual = push_shown(L, -1);
  if (!pattern)
    return record(L, true, "header", msg, actual, expected);
  int found = find_pattern(L, value, pattern);
  if (found < 0) {
    const char *why =
        lua_pushfstring(L, "malformed pattern '%s': %s", pattern, lua_tostring(L, -1));
    return record(L, false, "header", why, actual, expected);
  }
  return record(L, found == 1, "header", msg, actual, expected);
}

/* [-0, +1, e] The HTML document to query: a document or node as is, else obj:html(). */
static void push_document(lua_State *L, int idx) {
  check_object(L, idx, "HTML document, response or browser");
  if (luaL_testudata(L, idx, "uat.html.doc") || luaL_testudata(L, idx, "uat.html.node")) {
    lua_pushvalue(L, idx);
    return;
  }
  if (lua_getfield(L, idx, "html") != LUA_TFUNCTION)
    luaL_typeerror(L, idx, "HTML document, response or browser");
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
}

/* [-0, +0, e] Number of nodes expr selects in the document at idx (its :count method). */
static lua_Integer count_nodes(lua_State *L, int doc, const char *expr) {
  lua_getfield(L, doc, "count");
  lua_pushvalue(L, doc);
  lua_pushstring(L, expr);
  lua_call(L, 2, 1);
  lua_Integer n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n;
}

static const char *push_node_count(lua_State *L, lua_Integer n) {
  return lua_pushfstring(L, n == 1 ? "%I node" : "%I nodes", (LUAI_UACINT)n);
}

/* A browser's page changes on its own (an SPA renders after its API calls): expect.* on a
 * browser re-reads the page until the expectation holds or the check's time is nearly up,
 * like Playwright's web-first assertions. The last reading is what gets recorded. */
#define WEB_FIRST_POLL_S 0.1

enum count_want { AT_LEAST_ONE, NONE, EXACTLY };

static bool count_ok(lua_Integer n, enum count_want want, lua_Integer exact) {
  return want == AT_LEAST_ONE ? n >= 1 : want == NONE ? n == 0 : n == exact;
}

/* [-0, +0, e] The count of expr in the object at idx: once for a document or response,
 * retried for a browser until it is what is wanted. */
static lua_Integer count_until(lua_State *L, int idx, const char *expr, enum count_want want,
                               lua_Integer exact) {
  bool web = luaL_testudata(L, idx, "uat.browser") != NULL;
  double give_up = web ? uat_lua_wait_deadline(L) : 0;
  for (;;) {
    int top = lua_gettop(L);
    push_document(L, idx);
    lua_Integer n = count_nodes(L, lua_gettop(L), expr);
    lua_settop(L, top);
    if (!web || count_ok(n, want, exact) ||
        uat_monotonic_now() + WEB_FIRST_POLL_S >= give_up)
      return n;
    struct timespec ts = {0, (long)(WEB_FIRST_POLL_S * 1e9)};
    nanosleep(&ts, NULL);
  }
}

static int l_expect_xpath(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  const char *msg = opt_message(L, 3);
  check_object(L, 1, "HTML document, response or browser");
  lua_Integer n = count_until(L, 1, expr, AT_LEAST_ONE, 0);
  if (!msg)
    msg = lua_pushfstring(L, "xpath '%s' matches at least one node", expr);
  return record(L, n >= 1, "xpath", msg, push_node_count(L, n), "at least 1 node");
}

static int l_expect_no_xpath(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  const char *msg = opt_message(L, 3);
  check_object(L, 1, "HTML document, response or browser");
  lua_Integer n = count_until(L, 1, expr, NONE, 0);
  if (!msg)
    msg = lua_pushfstring(L, "xpath '%s' matches no node", expr);
  return record(L, n == 0, "no_xpath", msg, push_node_count(L, n), "0 nodes");
}

static int l_expect_count(lua_State *L) {
  const char *expr = luaL_checkstring(L, 2);
  lua_Integer want = luaL_checkinteger(L, 3);
  const char *msg = opt_message(L, 4);
  check_object(L, 1, "HTML document, response or browser");
  lua_Integer n = count_until(L, 1, expr, EXACTLY, want);
  if (!msg)
    msg = lua_pushfstring(L, "xpath '%s' matches %s", expr, push_node_count(L, want));
  return record(L, n == want, "count", msg, push_node_count(L, n), push_node_count(L, want));
}

static int l_expect_fail(lua_State *L) {
  const char *msg = opt_message(L, 1);
  return record(L, false, "fail", msg ? msg : "expect.fail() was called", NULL, NULL);
}

void uat_lua_open_expect(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"status", l_expect_status},     {"eq", l_expect_eq},
      {"truthy", l_expect_truthy},     {"match", l_expect_match},
      {"header", l_expect_header},     {"xpath", l_expect_xpath},
      {"no_xpath", l_expect_no_xpath}, {"count", l_expect_count},
      {"fail", l_expect_fail},         {NULL, NULL},
  };
  luaL_newlibtable(L, funcs);
  /* string.find as the shared upvalue: the script may overwrite the global one. */
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
  lua_getfield(L, -1, "find");
  lua_remove(L, -2);
  luaL_setfuncs(L, funcs, 1);
  lua_setglobal(L, "expect");
}
