/* The per-check context every binding reaches through its lua_State. */
#include "check/lua_api.h"

#include "util/strbuf.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The registry key is the address of this object: unique, and not mutable state. */
static const char ctx_key = 'k';

void uat_lua_set_ctx(lua_State *L, struct uat_lua_ctx *ctx) {
  lua_pushlightuserdata(L, ctx);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &ctx_key);
}

struct uat_lua_ctx *uat_lua_ctx(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &ctx_key);
  struct uat_lua_ctx *ctx = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return ctx;
}

double uat_monotonic_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double uat_lua_remaining(lua_State *L) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  return ctx ? ctx->deadline - uat_monotonic_now() : 0;
}

#define WAIT_RESERVE_S 1.5

double uat_lua_wait_deadline(lua_State *L) {
  double now = uat_monotonic_now(), left = uat_lua_remaining(L);
  if (left <= 0)
    return now;
  double reserve = left / 5 < WAIT_RESERVE_S ? left / 5 : WAIT_RESERVE_S;
  return now + left - reserve;
}

const char *uat_lua_where(lua_State *L, int level, char *buf, size_t size) {
  lua_Debug ar;
  bool found = false;
  snprintf(buf, size, "?");
  /* Walk up to the first Lua function (C helpers in between have no line), and
   * past bundled modules: the place a user can act on is their own script. */
  for (int l = level; lua_getstack(L, l, &ar); l++) {
    if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0)
      continue;
    bool bundled = strncmp(ar.source, "@bundled/", 9) == 0;
    if (!found || !bundled)
      snprintf(buf, size, "%s:%d", ar.short_src, ar.currentline);
    found = true;
    if (!bundled)
      break;
  }
  return buf;
}

char *uat_lua_redact(lua_State *L, const char *text) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  return uat_redact(ctx && ctx->env ? ctx->env->redactor : NULL, text);
}

/* __gc of a strbuf box: releases a text a binding was building or copying into Lua. */
static int l_strbuf_box_gc(lua_State *L) {
  struct uat_strbuf *sb = lua_touserdata(L, 1);
  if (sb)
    uat_strbuf_release(sb);
  return 0;
}

struct uat_strbuf *uat_lua_push_strbuf_box(lua_State *L) {
  struct uat_strbuf *sb = lua_newuserdatauv(L, sizeof *sb, 0);
  uat_strbuf_init(sb, 0); /* safe to collect before the metatable is set, and after */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_strbuf_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  return sb;
}

const char *uat_lua_push_redacted(lua_State *L, const char *text) {
  struct uat_strbuf *sb = uat_lua_push_strbuf_box(L);
  char *safe = uat_lua_redact(L, text);
  int rc = safe ? uat_strbuf_adds(sb, safe) : -1;
  free(safe);
  if (rc != 0)
    luaL_error(L, "out of memory while redacting a message");
  lua_pushlstring(L, sb->buf ? sb->buf : "", sb->len);
  uat_strbuf_release(sb);
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

static bool fits(const struct uat_lua_ctx *ctx, size_t bytes) {
  size_t used = ctx->mem_used + ctx->mem_outside;
  return used <= ctx->mem_cap && bytes <= ctx->mem_cap - used;
}

int uat_lua_reserve(lua_State *L, size_t bytes) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (!ctx || !ctx->mem_cap)
    return 0;
  if (!fits(ctx, bytes))
    lua_gc(L, LUA_GCCOLLECT, 0); /* documents no longer reachable give their share back */
  if (!fits(ctx, bytes))
    return -1;
  ctx->mem_outside += bytes;
  return 0;
}

void uat_lua_release(lua_State *L, size_t bytes) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (!ctx || !ctx->mem_cap)
    return;
  ctx->mem_outside -= bytes < ctx->mem_outside ? bytes : ctx->mem_outside;
}

int uat_lua_reserve_error(lua_State *L, const char *what, size_t text_len, size_t bytes) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  const double mib = 1024.0 * 1024.0;
  size_t cap = ctx ? ctx->mem_cap : 0;
  size_t used = ctx ? ctx->mem_used + ctx->mem_outside : 0;
  /* `what` stays out of the fixed buffer: a long URL in it cut the reason off. */
  char msg[320];
  snprintf(msg, sizeof msg,
           "the tree of this %zu-byte text would take about %.1f MiB outside Lua, more "
           "than the %.1f MiB left of the check's memory cap (%.1f MiB); parse a smaller text "
           "or raise the check's `memory:`",
           text_len, (double)bytes / mib, used < cap ? (double)(cap - used) / mib : 0.0,
           (double)cap / mib);
  return luaL_error(L, "%s: %s", what, msg);
}

size_t uat_lua_parse_limit(lua_State *L) {
  const struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  size_t limit = ctx && ctx->env && ctx->env->max_body ? ctx->env->max_body : UAT_DEFAULT_MAX_BODY;
  if (ctx && ctx->mem_cap && ctx->mem_cap / 4 < limit)
    limit = ctx->mem_cap / 4;
  return limit;
}
