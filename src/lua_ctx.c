/* The per-check context every binding reaches through its lua_State. */
#include "lua_api.h"

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
