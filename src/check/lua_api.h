/* What the sandbox shares with the bindings that scripts see (lua_http.c,
 * lua_html.c, lua_json.c, lua_expect.c). Internal to the uat_lua layer.
 * Stack notes follow the Lua manual: [-pop, +push, errors]. */
#ifndef UAT_LUA_API_H
#define UAT_LUA_API_H

#include "util/error.h"
#include "util/result.h"
#include "check/check_env.h"

#include <jansson.h>
#include <lua.h>
#include <stdbool.h>

struct uat_strbuf;

/* One per check attempt; reachable from any function of that state. */
struct uat_lua_ctx {
  const struct uat_check_env *env;
  struct uat_check_result *result;
  double deadline;    /* CLOCK_MONOTONIC seconds when the check must stop */
  size_t mem_used;    /* bytes the allocator handed out */
  size_t mem_outside; /* estimated bytes of parser trees (jansson, libxml2) alive outside the
                       * Lua allocator; the allocator counts them against the cap too */
  size_t mem_cap;
  bool mem_exceeded; /* set once the cap refused an allocation: the hook keeps raising */
  bool timed_out;    /* set once the deadline passed: the hook keeps raising */
};

/* [-0, +0, -] Stores / fetches the context of L (a light userdata in the registry). */
void uat_lua_set_ctx(lua_State *L, struct uat_lua_ctx *ctx);
struct uat_lua_ctx *uat_lua_ctx(lua_State *L);

/* [-0, +0, -] Reserves `bytes` of the check's memory cap for a tree a C library allocates
 * outside Lua: returns 0, or -1 when that would exceed the cap (nothing reserved). Without a
 * context (tests) it always succeeds. uat_lua_release gives the bytes back. */
int uat_lua_reserve(lua_State *L, size_t bytes);
void uat_lua_release(lua_State *L, size_t bytes);
/* [-0, +0, e] Raises "WHAT: ... would take about N MiB outside Lua ..." for a refused reserve. */
int uat_lua_reserve_error(lua_State *L, const char *what, size_t text_len, size_t bytes);

/* Seconds until the check's deadline (<= 0 when passed). */
double uat_lua_remaining(lua_State *L);
/* CLOCK_MONOTONIC time at which an auto-waiting call (b:wait, expect.xpath on a browser)
 * starting now must give up: the check's deadline less a reserve (1.5 s, or a fifth of what
 * is left when that is less) so the last poll, the failure message and the artifacts still
 * fit before the deadline on a slow, loaded machine, and the check fails on what it waited
 * for instead of erroring on the timeout. */
double uat_lua_wait_deadline(lua_State *L);
double uat_monotonic_now(void);

/* "script.lua:12" of the Lua function at `level` (1 = the caller of the C function);
 * writes into buf, returns buf ("?" when unknown). */
const char *uat_lua_where(lua_State *L, int level, char *buf, size_t size);

/* A redacted copy of text (caller frees), using the check's redactor. */
char *uat_lua_redact(lua_State *L, const char *text);

/* [-0, +1, m] Pushes a userdata holding an empty strbuf, released when the userdata is
 * collected: a text built from Lua values, or being copied into Lua, then leaks nothing
 * when a push raises on the memory cap. Release it yourself once done (the __gc copes). */
struct uat_strbuf *uat_lua_push_strbuf_box(lua_State *L);

/* [-0, +1, m] Pushes a redacted copy of text (the malloc'd copy is boxed meanwhile). */
const char *uat_lua_push_redacted(lua_State *L, const char *text);

/* Each sets one global table of the script API. [-0, +0, m] */
void uat_lua_open_json(lua_State *L);   /* json.decode/encode/null */
void uat_lua_open_html(lua_State *L);   /* html.parse */
void uat_lua_open_http(lua_State *L);   /* http.get/post/put/delete/request/session */
void uat_lua_open_expect(lua_State *L); /* expect.* */
void uat_lua_open_browser(lua_State *L); /* browser.open: headless Chromium over WebDriver */

/* [-0, +1, m] Pushes a JSON value as Lua: objects and arrays as tables (arrays 1-based,
 * marked so json.encode keeps them arrays), null as json.null. */
void uat_lua_push_json(lua_State *L, const json_t *value);
/* [-0, +0, -] Converts the Lua value at idx to JSON (caller owns the result); NULL with
 * err set on cycles, functions, non-finite numbers, mixed tables. */
json_t *uat_lua_to_json(lua_State *L, int idx, struct uat_error *err);
/* Largest text json.decode / html.parse (and r:json() / r:html()) accept: the smaller of
 * max_body and a quarter of the check's memory cap, since the parsers' own trees are
 * allocated outside the Lua allocator that enforces the cap. */
size_t uat_lua_parse_limit(lua_State *L);

/* [-0, +1, e] Decodes text and pushes it; raises a Lua error naming the cause and the
 * position in the text (used by json.decode and r:json()). */
void uat_lua_push_decoded_json(lua_State *L, const char *text, size_t len, const char *what);

/* [-0, +1, e] Parses HTML leniently (soup is fine) and pushes a document object. */
void uat_lua_push_html_doc(lua_State *L, const char *text, size_t len);

#endif
