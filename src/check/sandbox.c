/* The Lua sandbox: one fresh, bounded state per check attempt.
 * Bounds: an allow-list of libraries (linit.c habit), text chunks only, a
 * counting allocator that refuses growth past the cap (HAProxy hlua_alloc),
 * and a count hook that, once the deadline or the cap is hit, re-arms itself
 * on every instruction so a script's pcall cannot swallow the stop (Redis). */
#include "check/sandbox.h"

#include "util/fsutil.h"
#include "check/lua_api.h"
#include "check/run_share.h"
#include "util/strbuf.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef UAT_BUNDLED_CHECKLISTS
#define UAT_BUNDLED_CHECKLISTS "checklists"
#endif

#define HOOK_EVERY 1000                     /* instructions between deadline checks */
#define ERROR_HEADROOM ((size_t)256 * 1024) /* lets the error path run once the cap is hit */
#define MAX_LOG_LINES 1000
#define MAX_LOG_LINE 4096
#define MAX_MODULE_SIZE ((size_t)4 * 1024 * 1024)
#define MAX_ERROR_TEXT 4096 /* bytes of an error message or traceback kept in the result */
#define MAX_REASON 320      /* bytes of a stop reason (timeout_reason's longest text) */

/* One attempt's state; the allocator's ud, so the hook reaches it without a lookup. */
struct sandbox {
  struct uat_lua_ctx ctx;
  bool closing; /* lua_close may need a little memory even past the cap */
  /* The last refused growth: Lua retries it once after an emergency collection,
   * and only a refused retry means the cap is really exceeded. */
  const void *refused_ptr;
  size_t refused_osize, refused_nsize;
  bool logs_dropped;
  double left_s; /* seconds of the check's timeout left when this attempt's script started */
};

/* Registry keys: addresses of constants, unique per process and immutable. */
static const char loaded_key = 'l';
static const char loading_key = 'i';
static const char traceback_key = 't';

static size_t limit_of(const struct sandbox *sb) {
  bool stopping = sb->ctx.mem_exceeded || sb->closing;
  return sb->ctx.mem_cap + (stopping ? ERROR_HEADROOM : 0);
}

/* lua_Alloc: frees and shrinks always succeed, so lua_close works even at the cap. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct sandbox *sb = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    sb->ctx.mem_used -= old;
    return NULL;
  }
  if (nsize > old && sb->ctx.mem_used - old + nsize + sb->ctx.mem_outside > limit_of(sb)) {
    bool retry = sb->refused_ptr == ptr && sb->refused_osize == osize && sb->refused_nsize == nsize;
    if (retry)
      sb->ctx.mem_exceeded = true;
    sb->refused_ptr = ptr;
    sb->refused_osize = osize;
    sb->refused_nsize = nsize;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p)
    return NULL;
  if (nsize > old) {
    sb->refused_ptr = NULL;
    sb->refused_osize = sb->refused_nsize = 0;
  }
  sb->ctx.mem_used = sb->ctx.mem_used - old + nsize;
  return p;
}

static struct sandbox *sandbox_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

static void format_cap(size_t cap, char *buf, size_t size) {
  const size_t mib = (size_t)1024 * 1024;
  if (cap % mib == 0)
    snprintf(buf, size, "%zu MiB", cap / mib);
  else if (cap % 1024 == 0)
    snprintf(buf, size, "%zu KiB", cap / 1024);
  else
    snprintf(buf, size, "%zu bytes", cap);
}

/* Why the attempt hit the deadline: with retries the attempts share the check's
 * timeout, so a late attempt had only what the earlier ones left. */
static const char *timeout_reason(const struct sandbox *sb, char *buf, size_t size) {
  const struct uat_check_env *env = sb->ctx.env;
  double timeout = env->check->timeout_s;
  if (env->max_attempts <= 1)
    snprintf(buf, size, "check timed out after %.1fs", timeout);
  else if (env->attempt <= 1)
    snprintf(buf, size,
             "check timed out after %.1fs, which is shared by its %d attempts: no time is "
             "left to retry; raise the check's timeout to give retries time",
             timeout, env->max_attempts);
  else
    snprintf(buf, size,
             "attempt %d of %d stopped: the check's %.1fs timeout is shared by its attempts, "
             "%.1fs were left; raise the check's timeout to give retries more time",
             env->attempt, env->max_attempts, timeout, sb->left_s);
  return buf;
}

/* Why the check was stopped, or NULL when it was not. */
static const char *stop_reason(const struct sandbox *sb, char *buf, size_t size) {
  if (sb->ctx.mem_exceeded) {
    char cap[64];
    format_cap(sb->ctx.mem_cap, cap, sizeof cap);
    snprintf(buf, size, "memory cap of %s exceeded", cap);
    return buf;
  }
  if (sb->ctx.timed_out)
    return timeout_reason(sb, buf, size);
  return NULL;
}

/* Count hook: checks the clock; once stopped it fires on every instruction and line. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  struct sandbox *sb = sandbox_of(L);
  if (!sb->ctx.timed_out && uat_monotonic_now() >= sb->ctx.deadline)
    sb->ctx.timed_out = true;
  if (!sb->ctx.timed_out && !sb->ctx.mem_exceeded)
    return;
  lua_sethook(L, stop_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
  char reason[MAX_REASON];
  lua_pushstring(L, stop_reason(sb, reason, sizeof reason));
  lua_error(L);
}

/* ---- the globals a script sees ------------------------------------------------ */

static int l_readonly_newindex(lua_State *L) {
  return luaL_error(L, "%s is read-only", lua_tostring(L, lua_upvalueindex(1)));
}

/* The iterator of a read-only proxy: `next` over the real table (a script may replace
 * the global next, so this one is our own). */
static int l_readonly_next(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  if (lua_next(L, 1))
    return 2;
  lua_pushnil(L);
  return 1;
}

static int l_readonly_pairs(lua_State *L) {
  lua_pushcfunction(L, l_readonly_next);
  luaL_getmetafield(L, 1, "__readonly");
  lua_pushnil(L);
  return 3;
}

static int l_readonly_len(lua_State *L) {
  luaL_getmetafield(L, 1, "__readonly");
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
  return 1;
}

/* [-1, +0, m] Wraps the table on top in an empty proxy that refuses writes and sets it
 * as global `name`. "__readonly" names the real table (lua_json.c encodes it). */
static void set_readonly_global(lua_State *L, const char *name) {
  int target = lua_gettop(L);
  lua_newtable(L); /* proxy */
  lua_createtable(L, 0, 6);
  lua_pushvalue(L, target);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, target);
  lua_setfield(L, -2, "__readonly");
  lua_pushstring(L, name);
  lua_pushcclosure(L, l_readonly_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, l_readonly_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, l_readonly_len);
  lua_setfield(L, -2, "__len");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_setglobal(L, name);
  lua_pop(L, 1);
}

static void push_json_object(lua_State *L, const json_t *value) {
  if (value)
    uat_lua_push_json(L, value);
  else
    lua_newtable(L);
}

static void set_script_globals(lua_State *L, const struct uat_check_env *env) {
  const struct uat_playbook *pb = env->playbook;
  push_json_object(L, env->check->params);
  set_readonly_global(L, "params");
  push_json_object(L, pb ? pb->vars : NULL);
  set_readonly_global(L, "vars");
  lua_newtable(L);
  for (size_t i = 0; pb && i < pb->nsecrets; i++) {
    lua_pushstring(L, pb->secrets[i].value ? pb->secrets[i].value : "");
    lua_setfield(L, -2, pb->secrets[i].name);
  }
  set_readonly_global(L, "secrets");
  lua_createtable(L, 0, 2);
  lua_pushstring(L, env->check->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, env->check->title ? env->check->title : env->check->id);
  lua_setfield(L, -2, "title");
  set_readonly_global(L, "check");
}

/* log(...): tostring of each argument, tab-separated, redacted, into the result. */
static int l_log(lua_State *L) {
  struct sandbox *sb = sandbox_of(L);
  struct uat_check_result *r = sb->ctx.result;
  if (r->nlogs >= MAX_LOG_LINES) {
    if (!sb->logs_dropped && uat_check_result_add_log(r, "(further log lines dropped)") == 0)
      sb->logs_dropped = true;
    return 0;
  }
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1)
      luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  /* Redact before cutting: a cut through a secret would leave a part the redactor misses. */
  char *safe = uat_lua_redact(L, lua_tostring(L, -1));
  safe = uat_text_cut(safe, MAX_LOG_LINE, "... (truncated)");
  int rc = safe ? uat_check_result_add_log(r, safe) : -1;
  free(safe);
  if (rc != 0)
    return luaL_error(L, "log: out of memory");
  return 0;
}

/* __gc of a box holding a malloc'd text while it is copied into Lua. */
static int l_text_box_gc(lua_State *L) {
  char **box = lua_touserdata(L, 1);
  free(*box);
  *box = NULL;
  return 0;
}

/* [-0, +1, m] The chunk name load() would use (the name given, else the source text),
 * redacted: Lua cuts a long name to 60 bytes for messages and tracebacks, and a cut
 * through a secret would leave a part the redactor misses. */
static void push_chunkname(lua_State *L) {
  int from = lua_type(L, 2) == LUA_TSTRING ? 2 : lua_type(L, 1) == LUA_TSTRING ? 1 : 0;
  if (!from) {
    lua_pushliteral(L, "=(load)");
    return;
  }
  size_t len, safe_len;
  const char *name = lua_tolstring(L, from, &len);
  const struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  char **box = lua_newuserdatauv(L, sizeof *box, 0); /* frees the copy if a push raises */
  *box = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_text_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  *box = uat_redact_n(ctx && ctx->env ? ctx->env->redactor : NULL, name, len, &safe_len);
  if (!*box)
    luaL_error(L, "load: out of memory");
  lua_pushlstring(L, *box, safe_len);
  free(*box);
  *box = NULL;
  lua_remove(L, -2);
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to text. */
static int l_load(lua_State *L) {
  bool has_env = lua_gettop(L) >= 4; /* load tells an absent env from a nil one */
  lua_settop(L, 4);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  push_chunkname(L);
  lua_pushliteral(L, "t");
  if (has_env)
    lua_pushvalue(L, 4);
  lua_call(L, has_env ? 4 : 3, LUA_MULTRET);
  return lua_gettop(L) - 4;
}

/* collectgarbage with only the options that cannot disable the collector. */
static int l_collectgarbage(lua_State *L) {
  static const char *const allowed[] = {"collect", "count", "step", "isrunning", NULL};
  const char *opt = luaL_optstring(L, 1, "collect");
  for (int i = 0; allowed[i]; i++)
    if (strcmp(opt, allowed[i]) == 0) {
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_insert(L, 1);
      lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
      return lua_gettop(L);
    }
  return luaL_error(L,
                    "collectgarbage: option '%s' is not allowed in checks "
                    "(use \"collect\", \"count\" or \"step\")",
                    opt);
}

static bool stopped(const struct sandbox *sb) {
  return sb->ctx.timed_out || sb->ctx.mem_exceeded;
}

/* A script's xpcall handler, skipped once the check is stopped: an error raised by
 * the hook runs handlers with hooks off, so a looping handler could never be stopped. */
static int l_guarded_handler(lua_State *L) {
  if (stopped(sandbox_of(L))) {
    lua_settop(L, 1);
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int l_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, l_guarded_handler, 1);
  lua_replace(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* setmetatable without __gc: Lua runs finalizers with hooks off, so a looping
 * finalizer would escape the deadline. */
static int l_setmetatable(lua_State *L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "setmetatable: __gc finalizers are not allowed in checks "
                           "(use a <close> variable to clean up)");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* Replaces field `name` of the table on top with closure(f, old value). */
static void wrap_field(lua_State *L, const char *name, lua_CFunction f) {
  lua_getfield(L, -1, name);
  lua_pushcclosure(L, f, 1);
  lua_setfield(L, -2, name);
}

/* Base library minus file access and binary chunks. */
static void open_base(lua_State *L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  lua_pushnil(L);
  lua_setfield(L, -2, "dofile");
  lua_pushnil(L);
  lua_setfield(L, -2, "loadfile");
  wrap_field(L, "load", l_load);
  wrap_field(L, "collectgarbage", l_collectgarbage);
  wrap_field(L, "xpcall", l_xpcall);
  wrap_field(L, "setmetatable", l_setmetatable);
  /* print would write to the runner's stdout: it logs instead. */
  lua_pushcfunction(L, l_log);
  lua_setfield(L, -2, "print");
  lua_pushcfunction(L, l_log);
  lua_setfield(L, -2, "log");
  lua_pop(L, 1);
}

/* os with only the clock functions. */
static void open_os(lua_State *L) {
  static const char *const keep[] = {"time", "clock", "date", "difftime", NULL};
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  lua_createtable(L, 0, 4);
  for (int i = 0; keep[i]; i++) {
    lua_getfield(L, -2, keep[i]);
    lua_setfield(L, -2, keep[i]);
  }
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
  /* Forget the full table so nothing can reach it through the loaded registry. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  lua_setfield(L, -2, LUA_OSLIBNAME);
  lua_pop(L, 1);
}

static int l_require(lua_State *L);

static void open_libs(lua_State *L) {
  static const luaL_Reg libs[] = {
      {LUA_STRLIBNAME, luaopen_string},
      {LUA_TABLIBNAME, luaopen_table},
      {LUA_MATHLIBNAME, luaopen_math},
      {LUA_UTF8LIBNAME, luaopen_utf8},
      {NULL, NULL},
  };
  open_base(L);
  for (const luaL_Reg *lib = libs; lib->func; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  open_os(L);
  lua_pushcfunction(L, l_require);
  lua_setglobal(L, "require");
}

/* Protected: builds the whole environment (any memory error lands in pcall). */
static int l_prepare(lua_State *L) {
  struct sandbox *sb = sandbox_of(L);
  uat_lua_set_ctx(L, &sb->ctx);
  open_libs(L);
  uat_lua_open_json(L);
  uat_lua_open_html(L);
  uat_lua_open_http(L);
  uat_lua_open_expect(L);
  uat_lua_open_browser(L);
  set_script_globals(L, sb->ctx.env);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &loading_key);
  return 0;
}

/* ---- require ------------------------------------------------------------------ */

static bool valid_module_name(const char *name) {
  if (!*name || name[0] == '.' || name[strlen(name) - 1] == '.' || strstr(name, ".."))
    return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '-'))
      return false;
  return true;
}

/* [-0, +0, e] Raises when `name` is being loaded already, naming the chain. */
static void check_cycle(lua_State *L, const char *name) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &loading_key);
  int loading = lua_gettop(L);
  lua_Integer n = (lua_Integer)lua_rawlen(L, loading);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, loading, i);
    bool same = strcmp(lua_tostring(L, -1), name) == 0;
    lua_pop(L, 1);
    if (!same)
      continue;
    luaL_checkstack(L, (int)(n - i) + 2, "require cycle too long");
    for (lua_Integer j = i; j <= n; j++) {
      lua_rawgeti(L, loading, j);
      lua_pushfstring(L, "'%s' -> ", lua_tostring(L, -1));
      lua_remove(L, -2);
    }
    lua_pushfstring(L, "'%s'", name);
    lua_concat(L, (int)(n - i) + 2);
    luaL_error(L, "require cycle: %s; move the shared code into a third module",
               lua_tostring(L, -1));
  }
  lua_pop(L, 1);
}

/* Pushes the module's chunk: the run's kept bytecode when another check compiled it
 * already, else the file read and compiled as text (then kept for the next checks). */
static void load_module(lua_State *L, const char *path, const char *chunkname) {
  struct uat_run_share *share = sandbox_of(L)->ctx.env->share;
  if (uat_run_share_load_module(share, L, path, chunkname))
    return;
  struct uat_error err;
  size_t len;
  char *src = uat_file_read(path, MAX_MODULE_SIZE, &len, &err);
  if (!src) {
    lua_pushstring(L, err.text);
    lua_error(L);
  }
  int rc = luaL_loadbufferx(L, src, len, chunkname, "t");
  free(src);
  if (rc != LUA_OK)
    lua_error(L);
  uat_run_share_keep_module(share, L, path, chunkname);
}

/* [-0, +1, m] Pushes the real path of the module file at path when it lies inside dir
 * (both resolved, so a symlink cannot lead out of the folder); else returns NULL, pushing
 * nothing. */
static const char *push_path_inside(lua_State *L, const char *path, const char *dir) {
  char *real = realpath(path, NULL);
  char *real_dir = realpath(dir, NULL);
  size_t n = real_dir ? strlen(real_dir) : 0;
  bool inside = real && real_dir && strncmp(real, real_dir, n) == 0 &&
                (real[n] == '/' || (n > 0 && real_dir[n - 1] == '/'));
  free(real_dir);
  if (!inside) {
    free(real);
    return NULL;
  }
  lua_pushstring(L, real); /* may raise on memory: copy to the stack before freeing below */
  free(real);
  return lua_tostring(L, -1);
}

/* require(name): playbook's checklists/ first, then the bundled folder; cached per state. */
static int l_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (!valid_module_name(name))
    return luaL_error(L,
                      "require: invalid module name '%s' (use letters, digits, '_', '-' "
                      "and '.' between parts, e.g. \"auth.login\")",
                      name);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &loaded_key);
  int loaded = lua_gettop(L);
  if (lua_getfield(L, loaded, name) != LUA_TNIL)
    return 1;
  lua_pop(L, 1);
  check_cycle(L, name);

  const struct uat_check_env *env = sandbox_of(L)->ctx.env;
  bool has_dir = env->playbook && env->playbook->dir;
  luaL_gsub(L, name, ".", "/");
  const char *rel = lua_pushfstring(L, "%s.lua", lua_tostring(L, -1));
  const char *local_dir =
      has_dir ? lua_pushfstring(L, "%s/checklists", env->playbook->dir) : "checklists";
  const char *local = lua_pushfstring(L, "%s/%s", local_dir, rel);
  const char *bundled_dir = uat_sandbox_bundled_dir(env);
  const char *bundled = lua_pushfstring(L, "%s/%s", bundled_dir, rel);
  const char *path;
  if (has_dir && uat_path_is_file(local)) {
    path = push_path_inside(L, local, local_dir);
    if (!path)
      return luaL_error(L, "module '%s' resolves outside checklists/ (symlink); refusing", name);
    lua_pushfstring(L, "@checklists/%s", rel);
  } else if (uat_path_is_file(bundled)) {
    path = push_path_inside(L, bundled, bundled_dir);
    if (!path)
      return luaL_error(L,
                        "module '%s' resolves outside the bundled checklists folder '%s' "
                        "(symlink); refusing",
                        name, bundled_dir);
    lua_pushfstring(L, "@bundled/%s", rel);
  } else {
    return luaL_error(L, "module '%s' not found: looked in '%s' and '%s'", name, local, bundled);
  }
  load_module(L, path, lua_tostring(L, -1));
  int chunk = lua_gettop(L);

  /* Mark as loading for cycle detection, run it, and unmark even when it fails. */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &loading_key);
  int loading = lua_gettop(L);
  lua_Integer depth = (lua_Integer)lua_rawlen(L, loading) + 1;
  lua_pushstring(L, name);
  lua_rawseti(L, loading, depth);
  lua_pushvalue(L, chunk);
  lua_pushstring(L, name);
  lua_pushstring(L, path);
  int rc = lua_pcall(L, 2, 1, 0);
  lua_pushnil(L);
  lua_rawseti(L, loading, depth);
  if (rc != LUA_OK)
    return lua_error(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, loaded, name);
  return 1;
}

const char *uat_sandbox_bundled_dir(const struct uat_check_env *env) {
  if (env && env->bundled_checklists && *env->bundled_checklists)
    return env->bundled_checklists;
  const char *fromenv = getenv("UATRUN_CHECKLISTS");
  if (fromenv && *fromenv)
    return fromenv;
  return UAT_BUNDLED_CHECKLISTS;
}

/* ---- does a check open a browser? ------------------------------------------------ */

#define BROWSER_SCAN_DEPTH 4

/* The file `require(name)` would load for env (playbook's checklists/ first, then the
 * bundled folder), or NULL. Caller frees. */
static char *module_file(const struct uat_check_env *env, const char *name) {
  char rel[256];
  size_t n = strlen(name);
  if (n == 0 || n + 5 > sizeof rel || !valid_module_name(name))
    return NULL;
  for (size_t i = 0; i <= n; i++)
    rel[i] = name[i] == '.' ? '/' : name[i];
  strcat(rel, ".lua");
  const char *dirs[2] = {env->playbook && env->playbook->dir ? env->playbook->dir : ".",
                         uat_sandbox_bundled_dir(env)};
  for (int d = 0; d < 2; d++) {
    size_t len = strlen(dirs[d]) + strlen(rel) + 16;
    char *path = malloc(len);
    if (!path)
      return NULL;
    snprintf(path, len, d == 0 ? "%s/checklists/%s" : "%s/%s", dirs[d], rel);
    if (uat_path_is_file(path))
      return path;
    free(path);
  }
  return NULL;
}

/* Whether Lua text (or a module it requires, by a literal name) calls browser.open. A text
 * scan, before anything runs: enough to ask for Chromium up front. */
static bool text_uses_browser(const struct uat_check_env *env, const char *src, int depth) {
  if (strstr(src, "browser.open"))
    return true;
  if (depth >= BROWSER_SCAN_DEPTH)
    return false;
  for (const char *p = strstr(src, "require"); p; p = strstr(p + 7, "require")) {
    const char *q = p + 7;
    while (*q == ' ' || *q == '(')
      q++;
    if (*q != '"' && *q != '\'')
      continue;
    char quote = *q++, name[128];
    size_t n = 0;
    while (q[n] && q[n] != quote && n + 1 < sizeof name) {
      name[n] = q[n];
      n++;
    }
    name[n] = '\0';
    char *path = q[n] == quote ? module_file(env, name) : NULL;
    struct uat_error err;
    size_t len;
    char *text = path ? uat_file_read(path, MAX_MODULE_SIZE, &len, &err) : NULL;
    free(path);
    bool uses = text && text_uses_browser(env, text, depth + 1);
    free(text);
    if (uses)
      return true;
  }
  return false;
}

bool uat_sandbox_uses_browser(const struct uat_check_env *env) {
  return env->check && env->check->source && text_uses_browser(env, env->check->source, 0);
}

/* ---- running ------------------------------------------------------------------ */

/* Where the script raised: level 1 is error()/assert() themselves (C, no line), so
 * the first level with a source line is the script's. [-0, +1, m] */
static void push_raise_site(lua_State *L) {
  for (int level = 1; level <= 3; level++) {
    luaL_where(L, level);
    if (lua_rawlen(L, -1) > 0)
      return;
    lua_pop(L, 1);
  }
  lua_pushliteral(L, "");
}

/* A sentence for an error raised with a number, boolean, table or nil. [-0, +1, m] */
static const char *non_string_error(lua_State *L) {
  push_raise_site(L);
  const char *where = lua_tostring(L, -1);
  const char *msg;
  if (lua_type(L, 1) == LUA_TNUMBER || lua_type(L, 1) == LUA_TBOOLEAN) {
    luaL_tolstring(L, 1, NULL);
    msg = lua_pushfstring(L,
                          "%serror raised with the %s %s instead of a message; "
                          "pass a string to error() or as assert()'s second argument",
                          where, luaL_typename(L, 1), lua_tostring(L, -1));
  } else {
    msg = lua_pushfstring(L,
                          "%serror raised with a %s value instead of a message; "
                          "pass a string to error() or as assert()'s second argument",
                          where, luaL_typename(L, 1));
  }
  return msg;
}

/* Message handler (lua.c): keeps the message, stores a traceback in the registry. */
static int l_msghandler(lua_State *L) {
  /* lua_tostring would turn error(3.47) or assert(ok, 3.47) into the bare text
   * "3.47": only a real string is a message. */
  const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
  if (!msg) {
    if (!stopped(sandbox_of(L)) && luaL_callmeta(L, 1, "__tostring") &&
        lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = non_string_error(L);
  }
  luaL_traceback(L, L, NULL, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &traceback_key);
  lua_pushstring(L, msg);
  return 1;
}

/* The chunk name and source as Lua sees them: inline `run:` text is shifted by
 * source_line_offset blank lines so line numbers are the playbook's. */
static char *chunk_source(const struct uat_check_env *env, size_t *len, char **chunkname) {
  const struct uat_check *c = env->check;
  const char *src = c->source ? c->source : "";
  bool inline_run = c->script_path == NULL;
  const char *name = c->chunk_name ? c->chunk_name : c->id;
  if (inline_run && env->playbook && env->playbook->path)
    name = env->playbook->path;
  size_t offset = inline_run && c->source_line_offset > 0 ? (size_t)c->source_line_offset : 0;
  size_t src_len = strlen(src);
  /* One allocation: the check of line 4000 of a long playbook would otherwise grow a
   * buffer 4000 times, for every check, at lint and at run time. */
  char *text = malloc(offset + src_len + 1);
  *chunkname = malloc(strlen(name) + 2);
  if (!text || !*chunkname) {
    free(text);
    return NULL;
  }
  memset(text, '\n', offset);
  memcpy(text + offset, src, src_len + 1);
  (*chunkname)[0] = '@';
  memcpy(*chunkname + 1, name, strlen(name) + 1);
  *len = offset + src_len;
  return text;
}

static int set_owned(char **slot, char *value, struct uat_error *err) {
  free(*slot);
  *slot = value;
  return value ? 0 : uat_error_set(err, "out of memory while recording a check result");
}

/* Cuts an owned, already redacted text to MAX_ERROR_TEXT bytes (after redaction,
 * so a cut can never expose part of a secret). NULL stays NULL. */
static char *cap_text(char *s) {
  return uat_text_cut(s, MAX_ERROR_TEXT, "... (truncated)");
}

/* Stores the error on top of the stack and the traceback, both redacted. */
static int record_error(lua_State *L, struct sandbox *sb, const char *fallback,
                        struct uat_error *err) {
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : fallback;
  char reason[MAX_REASON];
  const char *stopped = stop_reason(sb, reason, sizeof reason);
  const struct uat_redactor *red = sb->ctx.env->redactor;
  if (set_owned(&sb->ctx.result->error, cap_text(uat_redact(red, stopped ? stopped : msg)), err) !=
      0)
    return -1;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &traceback_key) == LUA_TSTRING) {
    char *tb = cap_text(uat_redact(red, lua_tostring(L, -1)));
    if (set_owned(&sb->ctx.result->traceback, tb, err) != 0)
      return -1;
  }
  lua_pop(L, 1);
  return 0;
}

static int decide_outcome(struct uat_check_result *out, bool raised, struct uat_error *err) {
  if (raised) {
    out->outcome = UAT_OUTCOME_ERROR;
    return 0;
  }
  if (out->nexpectations == 0) {
    out->outcome = UAT_OUTCOME_FAIL;
    return set_owned(&out->error, strdup("no expectations recorded: call expect.* at least once"),
                     err);
  }
  out->outcome = uat_check_result_failed_expectations(out) ? UAT_OUTCOME_FAIL : UAT_OUTCOME_PASS;
  return 0;
}

/* The runner's deadline shared by all attempts of the check, else the check's own timeout
 * from now. */
static double attempt_deadline(const struct uat_check_env *env) {
  return env->deadline > 0 ? env->deadline : uat_monotonic_now() + env->check->timeout_s;
}

/* Loads and runs the chunk; returns true when the script raised (or was stopped). */
static int run_state(lua_State *L, struct sandbox *sb, bool *raised, struct uat_error *err) {
  const struct uat_check_env *env = sb->ctx.env;
  lua_pushcfunction(L, l_prepare);
  int rc = lua_pcall(L, 0, 0, 0);
  if (rc != LUA_OK) {
    *raised = true;
    if (rc == LUA_ERRMEM)
      sb->ctx.mem_exceeded = true;
    return record_error(L, sb, "could not prepare the Lua state", err);
  }
  size_t len = 0;
  char *chunkname = NULL;
  char *src = chunk_source(env, &len, &chunkname);
  if (!src) {
    free(chunkname);
    return uat_error_set(err, "out of memory while preparing check '%s'", env->check->id);
  }
  lua_pushcfunction(L, l_msghandler);
  rc = luaL_loadbufferx(L, src, len, chunkname, "t");
  free(src);
  free(chunkname);
  if (rc == LUA_OK) {
    sb->ctx.deadline = attempt_deadline(env);
    sb->left_s = sb->ctx.deadline - uat_monotonic_now();
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, HOOK_EVERY);
    rc = lua_pcall(L, 0, 0, -2);
  }
  *raised = rc != LUA_OK || sb->ctx.timed_out || sb->ctx.mem_exceeded;
  if (rc == LUA_ERRMEM)
    sb->ctx.mem_exceeded = true;
  if (*raised)
    return record_error(L, sb, "the script raised an error", err);
  return 0;
}

static void init_sandbox(struct sandbox *sb, const struct uat_check_env *env,
                         struct uat_check_result *out) {
  memset(sb, 0, sizeof *sb);
  sb->ctx.env = env;
  sb->ctx.result = out;
  sb->ctx.mem_cap = env->check->memory_cap ? env->check->memory_cap : UAT_DEFAULT_MEMORY_CAP;
  sb->ctx.deadline = attempt_deadline(env);
}

int uat_sandbox_run(const struct uat_check_env *env, struct uat_check_result *out,
                    struct uat_error *err) {
  struct uat_check env_check = *env->check;
  if (env_check.timeout_s <= 0)
    env_check.timeout_s = UAT_DEFAULT_TIMEOUT_S;
  struct uat_check_env run_env = *env;
  run_env.check = &env_check;

  double start = uat_monotonic_now();
  struct sandbox sb;
  init_sandbox(&sb, &run_env, out);
  free(out->error);
  free(out->traceback);
  out->error = out->traceback = NULL;
  int rc = 0;
  lua_State *L = lua_newstate(capped_alloc, &sb);
  if (!L) {
    char cap[64], msg[160];
    format_cap(sb.ctx.mem_cap, cap, sizeof cap);
    snprintf(msg, sizeof msg, "could not create a Lua state within the memory cap of %s", cap);
    out->outcome = UAT_OUTCOME_ERROR;
    rc = set_owned(&out->error, strdup(msg), err);
  } else {
    bool raised = false;
    rc = run_state(L, &sb, &raised, err);
    if (rc == 0)
      rc = decide_outcome(out, raised, err);
    sb.closing = true;
    lua_close(L);
  }
  out->duration_s = uat_monotonic_now() - start;
  return rc;
}

/* Compiles source under chunkname in a throw-away state. */
static int compile_text(const char *src, size_t len, const char *chunkname,
                        const struct uat_redactor *red, struct uat_error *err) {
  struct uat_check check = {.id = "lint", .memory_cap = UAT_DEFAULT_MEMORY_CAP};
  struct uat_check_env env = {.check = &check};
  struct sandbox sb;
  init_sandbox(&sb, &env, NULL);
  lua_State *L = lua_newstate(capped_alloc, &sb);
  if (!L)
    return uat_error_set(err, "could not create a Lua state: out of memory");
  int rc = luaL_loadbufferx(L, src, len, chunkname, "t");
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    char *safe = uat_redact(red, msg ? msg : "out of memory");
    uat_error_set(err, "%s", safe ? safe : "out of memory");
    free(safe);
  }
  lua_close(L);
  return rc == LUA_OK ? 0 : -1;
}

int uat_sandbox_compile(const struct uat_check_env *env, struct uat_error *err) {
  size_t len = 0;
  char *chunkname = NULL;
  char *src = chunk_source(env, &len, &chunkname);
  if (!src) {
    free(chunkname);
    return uat_error_set(err, "out of memory while compiling check '%s'", env->check->id);
  }
  int rc = compile_text(src, len, chunkname, env->redactor, err);
  free(src);
  free(chunkname);
  return rc;
}

int uat_sandbox_compile_file(const char *path, struct uat_error *err) {
  size_t len;
  char *src = uat_file_read(path, MAX_MODULE_SIZE, &len, err);
  if (!src)
    return -1;
  char *chunkname = malloc(strlen(path) + 2);
  if (!chunkname) {
    free(src);
    return uat_error_set(err, "out of memory while compiling '%s'", path);
  }
  chunkname[0] = '@';
  memcpy(chunkname + 1, path, strlen(path) + 1);
  int rc = compile_text(src, len, chunkname, NULL, err);
  free(chunkname);
  free(src);
  return rc;
}
