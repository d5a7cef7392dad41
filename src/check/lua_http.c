/* What scripts see of HTTP: http.get/post/put/delete/patch/head/request and
 * http.session(), on top of http.h. Every C allocation of a request lives in a
 * userdata with __gc, so a Lua error (bad option, memory cap) never leaks it;
 * curl handles are freed by __gc / __close of the object that owns them. */
#include "check/lua_api.h"

#include "check/run_share.h"

#include "util/duration.h"
#include "net/http.h"
#include "playbook/playbook.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLIENT_MT "uat.http.client"
#define SESSION_MT "uat.http.session"
#define RESPONSE_MT "uat.http.response"
#define REQUEST_MT "uat.http.request"

/* Registry keys: addresses of constants, unique and immutable. */
static const char plain_client_key = 'c';
static const char html_cache_key = 'h';

/* A client userdata (plain one per state, or a session): NULL until first used / after close. */
struct client_box {
  struct uat_http_client *client;
  bool closed;
};

/* Name/value pairs with owned strings (request headers, form fields). */
struct field_list {
  struct uat_http_header_field *items;
  size_t n;
  size_t cap;
};

/* One request's C allocations, released by __gc whatever path the call takes. */
struct request_box {
  char *url;
  struct field_list headers;
  struct field_list form;
  char *owned_body;
  struct uat_http_response resp;
  char *text; /* dump text under construction */
};

static void release_fields(struct field_list *list) {
  for (size_t i = 0; i < list->n; i++) {
    free(list->items[i].name);
    free(list->items[i].value);
  }
  free(list->items);
}

static void release_request(struct request_box *box) {
  free(box->url);
  release_fields(&box->headers);
  release_fields(&box->form);
  free(box->owned_body);
  uat_http_response_release(&box->resp);
  free(box->text);
  memset(box, 0, sizeof *box);
}

static int l_request_gc(lua_State *L) {
  release_request(luaL_checkudata(L, 1, REQUEST_MT));
  return 0;
}

static int l_client_gc(lua_State *L) {
  struct client_box *box = lua_touserdata(L, 1);
  if (box) {
    uat_http_client_free(box->client);
    box->client = NULL;
    box->closed = true;
  }
  return 0;
}

/* [-0, +1, m] A request box in a safe empty state, its __gc already set. */
static struct request_box *push_request_box(lua_State *L) {
  struct request_box *box = lua_newuserdatauv(L, sizeof *box, 0);
  memset(box, 0, sizeof *box);
  luaL_setmetatable(L, REQUEST_MT);
  return box;
}

/* [-0, +1, m] Wraps before acquiring: the userdata and its metatable exist before the
 * curl handle does, so __gc copes with a half-built object. */
static struct client_box *push_client_box(lua_State *L, const char *mt) {
  struct client_box *box = lua_newuserdatauv(L, sizeof *box, 0);
  box->client = NULL;
  box->closed = false;
  luaL_setmetatable(L, mt);
  return box;
}

static struct uat_http_client *client_of(lua_State *L, struct client_box *box, bool cookies) {
  if (box->closed)
    luaL_error(L, "http.session: the session was closed; create a new one with http.session()");
  if (!box->client) {
    struct uat_error err;
    const struct uat_lua_ctx *ctx = uat_lua_ctx(L);
    struct uat_run_share *share = ctx && ctx->env ? ctx->env->share : NULL;
    box->client = uat_http_client_new_shared(cookies, uat_run_share_http(share), &err);
    if (!box->client)
      luaL_error(L, "%s", err.text);
  }
  return box->client;
}

/* The table behind a read-only proxy (params, vars, secrets), else idx itself. */
static int plain_table(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  int t = luaL_getmetafield(L, idx, "__readonly");
  if (t == LUA_TTABLE)
    lua_replace(L, idx);
  else if (t != LUA_TNIL)
    lua_pop(L, 1);
  return idx;
}

/* ---- building a request --------------------------------------------------------- */

static const char *header_value(const struct request_box *box, const char *name) {
  for (size_t i = 0; i < box->headers.n; i++)
    if (strcasecmp(box->headers.items[i].name, name) == 0)
      return box->headers.items[i].value;
  return NULL;
}

/* Appends copies of name and value; raises on memory errors. */
static void add_field(lua_State *L, struct field_list *list, const char *name, const char *value) {
  if (list->n == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 8;
    struct uat_http_header_field *grown = realloc(list->items, cap * sizeof *grown);
    if (!grown)
      luaL_error(L, "http: out of memory building the request");
    list->items = grown;
    list->cap = cap;
  }
  char *n = strdup(name), *v = strdup(value);
  if (!n || !v) {
    free(n);
    free(v);
    luaL_error(L, "http: out of memory building the request");
  }
  list->items[list->n].name = n;
  list->items[list->n].value = v;
  list->n++;
}

/* Lengths are Lua's: a NUL byte would silently cut the text at C's end of string. */
static void check_header_text(lua_State *L, const char *name, size_t name_len, const char *value,
                              size_t value_len) {
  if (!*name || strpbrk(name, ": \t\r\n") || strlen(name) != name_len)
    luaL_error(L, "http: invalid header name '%s'; names are single words like 'X-Token'", name);
  if (strpbrk(value, "\r\n"))
    luaL_error(L, "http: the value of header '%s' holds a line break; remove it", name);
  if (strlen(value) != value_len)
    luaL_error(L, "http: the value of header '%s' holds a NUL byte; remove it", name);
}

/* [-0, +1, e] The string form of a scalar option value at idx (its length in *len);
 * raises for others. */
static const char *scalar_string(lua_State *L, int idx, const char *what, const char *key,
                                 size_t *len) {
  int t = lua_type(L, idx);
  if (t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN)
    return luaL_tolstring(L, idx, len);
  luaL_error(L, "http: %s '%s' must be a string or a number, not %s", what, key,
             luaL_typename(L, idx));
  return NULL;
}

/* Script headers (opts.headers) replace playbook headers of the same name. */
static void collect_headers(lua_State *L, struct request_box *box, const struct uat_playbook *pb,
                            int opts) {
  int script = 0;
  int t = opts ? lua_getfield(L, opts, "headers") : LUA_TNIL;
  if (t != LUA_TNIL && t != LUA_TTABLE)
    luaL_error(L, "http: opts.headers must be a table, not %s", lua_typename(L, t));
  if (t == LUA_TTABLE)
    script = plain_table(L, -1);
  if (script) {
    lua_pushnil(L);
    while (lua_next(L, script)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L, "http: header names must be strings, not %s", luaL_typename(L, -2));
      size_t name_len = 0, value_len = 0;
      const char *name = lua_tolstring(L, -2, &name_len);
      const char *value = scalar_string(L, -1, "header", name, &value_len);
      check_header_text(L, name, name_len, value, value_len);
      add_field(L, &box->headers, name, value);
      lua_pop(L, 2);
    }
  }
  if (opts)
    lua_pop(L, 1);
  for (size_t i = 0; pb && i < pb->nheaders; i++)
    if (!header_value(box, pb->headers[i].name))
      add_field(L, &box->headers, pb->headers[i].name,
                pb->headers[i].value ? pb->headers[i].value : "");
}

static int compare_fields(const void *a, const void *b) {
  return strcmp(((const struct uat_http_header_field *)a)->name,
                ((const struct uat_http_header_field *)b)->name);
}

/* opts.form → urlencoded body, keys sorted so requests are reproducible. */
static void encode_form(lua_State *L, struct request_box *box, int form) {
  form = plain_table(L, form);
  lua_pushnil(L);
  while (lua_next(L, form)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "http: form field names must be strings, not %s", luaL_typename(L, -2));
    size_t name_len = 0, value_len = 0;
    const char *name = lua_tolstring(L, -2, &name_len);
    const char *value = scalar_string(L, -1, "form field", name, &value_len);
    if (strlen(name) != name_len || strlen(value) != value_len)
      luaL_error(L, "http: form field '%s' holds a NUL byte; send binary data as opts.body", name);
    add_field(L, &box->form, name, value);
    lua_pop(L, 2);
  }
  qsort(box->form.items, box->form.n, sizeof *box->form.items, compare_fields);
  box->owned_body = uat_http_form_encode(box->form.items, box->form.n);
  if (!box->owned_body)
    luaL_error(L, "http: out of memory encoding the form");
}

/* Chooses the body from opts.body, opts.json or opts.form (at most one). */
static void collect_body(lua_State *L, struct request_box *box, int opts,
                         struct uat_http_request *req) {
  if (!opts)
    return;
  int body_t = lua_getfield(L, opts, "body");
  int json_t_ = lua_getfield(L, opts, "json");
  int form_t = lua_getfield(L, opts, "form");
  int given = (body_t != LUA_TNIL) + (json_t_ != LUA_TNIL) + (form_t != LUA_TNIL);
  if (given > 1)
    luaL_error(L, "http: give only one of opts.body, opts.json and opts.form");
  if (body_t != LUA_TNIL) {
    if (body_t != LUA_TSTRING)
      luaL_error(L, "http: opts.body must be a string, not %s", lua_typename(L, body_t));
    size_t len = 0;
    const char *body = lua_tolstring(L, -3, &len);
    box->owned_body = malloc(len + 1);
    if (!box->owned_body)
      luaL_error(L, "http: out of memory copying the body");
    memcpy(box->owned_body, body, len);
    box->owned_body[len] = '\0';
    req->body_len = len;
  } else if (json_t_ != LUA_TNIL) {
    struct uat_error err;
    json_t *value = uat_lua_to_json(L, lua_absindex(L, -2), &err);
    if (!value)
      luaL_error(L, "http: opts.json cannot be sent as JSON: %s", err.text);
    box->owned_body = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    if (!box->owned_body)
      luaL_error(L, "http: out of memory encoding opts.json");
    req->body_len = strlen(box->owned_body);
    if (!header_value(box, "Content-Type"))
      add_field(L, &box->headers, "Content-Type", "application/json");
  } else if (form_t != LUA_TNIL) {
    if (form_t != LUA_TTABLE)
      luaL_error(L, "http: opts.form must be a table, not %s", lua_typename(L, form_t));
    encode_form(L, box, lua_absindex(L, -1));
    req->body_len = strlen(box->owned_body);
    if (!header_value(box, "Content-Type"))
      add_field(L, &box->headers, "Content-Type", "application/x-www-form-urlencoded");
  }
  lua_pop(L, 3);
  req->body = box->owned_body;
}

static double option_timeout(lua_State *L, int opts, double fallback) {
  double seconds = fallback;
  if (!opts)
    return seconds;
  int t = lua_getfield(L, opts, "timeout");
  if (t == LUA_TNUMBER) {
    seconds = lua_tonumber(L, -1);
    if (!(seconds > 0))
      luaL_error(L, "http: opts.timeout must be more than 0 seconds");
  } else if (t == LUA_TSTRING) {
    if (uat_duration_parse(lua_tostring(L, -1), &seconds) != 0)
      luaL_error(L,
                 "http: opts.timeout '%s' is not a duration; write seconds or \"2s\", "
                 "\"500ms\"",
                 lua_tostring(L, -1));
  } else if (t != LUA_TNIL) {
    luaL_error(L, "http: opts.timeout must be seconds or a duration string, not %s",
               lua_typename(L, t));
  }
  lua_pop(L, 1);
  return seconds;
}

static bool option_bool(lua_State *L, int opts, const char *key, bool fallback) {
  if (!opts)
    return fallback;
  int t = lua_getfield(L, opts, key);
  bool value = t == LUA_TNIL ? fallback : lua_toboolean(L, -1);
  if (t != LUA_TNIL && t != LUA_TBOOLEAN)
    luaL_error(L, "http: opts.%s must be true or false, not %s", key, lua_typename(L, t));
  lua_pop(L, 1);
  return value;
}

static size_t option_max_body(lua_State *L, int opts, size_t fallback) {
  if (!opts)
    return fallback;
  int t = lua_getfield(L, opts, "max_body");
  size_t value = fallback;
  if (t != LUA_TNIL) {
    int isint = 0;
    lua_Integer n = lua_tointegerx(L, -1, &isint);
    if (!isint || n <= 0)
      luaL_error(L, "http: opts.max_body must be a number of bytes above 0");
    value = (size_t)n;
  }
  lua_pop(L, 1);
  return value;
}

/* ---- responses -------------------------------------------------------------------- */

/* [-0, +1, m] Lowercase copy of s. */
static const char *push_lower(lua_State *L, const char *s) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (; *s; s++)
    luaL_addchar(&b, (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s));
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* [-0, +1, m] headers table: lowercased name → value, repeated names joined by ", ". */
static void push_header_table(lua_State *L, const struct uat_http_response *resp) {
  lua_createtable(L, 0, (int)resp->nheaders);
  for (size_t i = 0; i < resp->nheaders; i++) {
    push_lower(L, resp->headers[i].name);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, resp->headers[i].value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, resp->headers[i].value);
    }
    lua_rawset(L, -3);
  }
}

/* [-0, +1, m] The response object scripts get. */
static void push_response(lua_State *L, const char *method, const struct uat_http_response *resp) {
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, resp->status);
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, resp->body, resp->body_len);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, resp->url);
  lua_setfield(L, -2, "url");
  lua_pushnumber(L, resp->time_s);
  lua_setfield(L, -2, "time");
  lua_pushstring(L, method);
  lua_setfield(L, -2, "method");
  push_header_table(L, resp);
  lua_setfield(L, -2, "headers");
  luaL_setmetatable(L, RESPONSE_MT);
}

/* [-0, +1, e] Field key of the response at idx (raw: the object is a plain table). */
static int response_field(lua_State *L, int idx, const char *key) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}

static int l_response_header(lua_State *L) {
  const char *name = luaL_checkstring(L, 2);
  if (response_field(L, 1, "headers") != LUA_TTABLE)
    return luaL_error(L, "r:header: the response has no headers table");
  push_lower(L, name);
  lua_rawget(L, -2);
  return 1;
}

static int l_response_json(lua_State *L) {
  if (response_field(L, 1, "body") != LUA_TSTRING)
    return luaL_error(L, "r:json: the response has no body string");
  size_t len = 0;
  const char *body = lua_tolstring(L, -1, &len);
  response_field(L, 1, "method"); /* 3 */
  response_field(L, 1, "url");    /* 4 */
  lua_pushcfunction(L, l_response_header);
  lua_pushvalue(L, 1);
  lua_pushliteral(L, "content-type");
  lua_call(L, 2, 1); /* 5 */
  const char *type = lua_tostring(L, 5);
  const char *what =
      lua_pushfstring(L, "response body of %s %s (Content-Type: %s)", luaL_optstring(L, 3, "GET"),
                      luaL_optstring(L, 4, "?"), type ? type : "none");
  uat_lua_push_decoded_json(L, body, len, uat_lua_push_redacted(L, what));
  return 1;
}

static int l_response_html(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &html_cache_key);
  lua_pushvalue(L, 1);
  if (lua_rawget(L, -2) != LUA_TNIL)
    return 1; /* parsed before: same document */
  lua_pop(L, 1);
  if (response_field(L, 1, "body") != LUA_TSTRING)
    return luaL_error(L, "r:html: the response has no body string");
  size_t len = 0;
  const char *body = lua_tolstring(L, -1, &len);
  uat_lua_push_html_doc(L, body, len);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -2);
  lua_rawset(L, -5); /* cache[r] = doc */
  return 1;
}

/* ---- sending ---------------------------------------------------------------------- */

/* [-0, +0, v] Raises text (redacted), prefixed with where the script called from. */
static int raise_redacted(lua_State *L, const char *text) {
  char where[256];
  uat_lua_where(L, 1, where, sizeof where);
  const char *safe = uat_lua_push_redacted(L, text); /* boxed: a refused push leaks nothing */
  if (strcmp(where, "?") != 0)
    lua_pushfstring(L, "%s: %s", where, safe);
  return lua_error(L);
}

static void log_exchange(lua_State *L, struct uat_lua_ctx *ctx, struct request_box *box,
                         const struct uat_http_request *req, bool ok, const char *failure) {
  if (!ctx->env->verbose || !ctx->result)
    return;
  box->text = uat_http_dump(req, ok ? &box->resp : NULL, failure);
  char *safe = box->text ? uat_lua_redact(L, box->text) : NULL;
  free(box->text);
  box->text = NULL;
  if (!safe || uat_check_result_add_log(ctx->result, safe) != 0) {
    free(safe);
    luaL_error(L, "http: out of memory recording the request log");
  }
  free(safe);
}

/* The check's deadline has passed: make the sandbox's count hook run at the next
 * instruction, so a script that catches our error with pcall is still stopped there. */
static void stop_soon(lua_State *L) {
  lua_Hook hook = lua_gethook(L);
  if (hook)
    lua_sethook(L, hook, lua_gethookmask(L) | LUA_MASKCOUNT, 1);
}

static double target_timeout(const struct uat_check_env *env) {
  if (env->playbook && env->playbook->timeout_s > 0)
    return env->playbook->timeout_s;
  return UAT_DEFAULT_TIMEOUT_S;
}

/* [-0, +1, e] Sends method url with the options table at opts (0: none) on client box
 * `cbox` (NULL: the state's plain client) and pushes the response. */
static int perform(lua_State *L, struct client_box *cbox, bool cookies, const char *method,
                   const char *url, int opts) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (!ctx || !ctx->env)
    return luaL_error(L, "http: only available while a check runs");
  const struct uat_check_env *env = ctx->env;
  if (opts)
    opts = plain_table(L, opts);
  struct request_box *box = push_request_box(L);
  struct uat_error err;
  box->url = uat_http_resolve_url(env->base_url, url, env->redactor, &err);
  if (!box->url)
    return raise_redacted(L, err.text);

  struct uat_http_request req = {.method = method, .url = box->url, .redactor = env->redactor};
  collect_headers(L, box, env->playbook, opts);
  collect_body(L, box, opts, &req);
  req.headers = box->headers.items;
  req.nheaders = box->headers.n;
  req.follow = option_bool(L, opts, "follow", true);
  req.max_body = option_max_body(L, opts, env->max_body ? env->max_body : UAT_DEFAULT_MAX_BODY);
  double timeout = option_timeout(L, opts, target_timeout(env));
  double remaining = uat_lua_remaining(L);
  if (remaining <= 0) {
    stop_soon(L);
    lua_pushfstring(L, "%s %s: timed out: the check's time ran out before the request was sent",
                    method, box->url);
    return raise_redacted(L, lua_tostring(L, -1));
  }
  bool capped = remaining < timeout;
  req.timeout_s = capped ? remaining : timeout;

  struct uat_http_client *client = client_of(L, cbox, cookies);
  bool ok = uat_http_client_send(client, &req, &box->resp, &err) == 0;
  log_exchange(L, ctx, box, &req, ok, ok ? NULL : err.text);
  if (!ok) {
    if (box->resp.timed_out && capped) {
      /* The check's deadline cut the request short: its timeout is the one to raise. */
      stop_soon(L);
      char left[32];
      snprintf(left, sizeof left, "%.1f", req.timeout_s);
      lua_pushfstring(L,
                      "%s %s: timed out after %ss without a complete reply: the check's own "
                      "timeout ran out; if the server is only slow, raise the check's timeout",
                      method, box->url, left);
    } else
      lua_pushstring(L, err.text);
    return raise_redacted(L, lua_tostring(L, -1));
  }
  push_response(L, method, &box->resp);
  release_request(box);
  return 1;
}

static struct client_box *plain_client(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &plain_client_key);
  struct client_box *box = luaL_checkudata(L, -1, CLIENT_MT);
  lua_pop(L, 1); /* the registry keeps it alive */
  return box;
}

static int opts_index(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx))
    return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return idx;
}

/* http.get(url, opts) and friends; the method is upvalue 1. */
static int l_http_method(lua_State *L) {
  const char *method = lua_tostring(L, lua_upvalueindex(1));
  const char *url = luaL_checkstring(L, 1);
  return perform(L, plain_client(L), false, method, url, opts_index(L, 2));
}

/* [-0, +2, e] Pushes the url and the method (uppercased, default GET) of a request{...}
 * table at spec. */
static void push_request_spec(lua_State *L, int spec) {
  luaL_checktype(L, spec, LUA_TTABLE);
  spec = plain_table(L, spec);
  if (lua_getfield(L, spec, "url") != LUA_TSTRING)
    luaL_error(L, "http.request: url must be a string");
  int t = lua_getfield(L, spec, "method");
  if (t != LUA_TNIL && t != LUA_TSTRING)
    luaL_error(L, "http.request: method must be a string like \"GET\"");
  const char *m = t == LUA_TNIL ? "GET" : lua_tostring(L, -1);
  /* Methods are tokens: refuse anything that would break the request line. */
  if (!*m || strpbrk(m, " \t\r\n/:"))
    luaL_error(L, "http.request: invalid method '%s'", m);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const char *c = m; *c; c++)
    luaL_addchar(&b, (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c));
  luaL_pushresult(&b);
  lua_remove(L, -2);
}

static int l_http_request(lua_State *L) {
  push_request_spec(L, 1);
  return perform(L, plain_client(L), false, lua_tostring(L, -1), lua_tostring(L, -2), 1);
}

/* ---- sessions --------------------------------------------------------------------- */

static int l_http_session(lua_State *L) {
  struct client_box *box = push_client_box(L, SESSION_MT);
  client_of(L, box, true);
  return 1;
}

static int l_session_method(lua_State *L) {
  struct client_box *box = luaL_checkudata(L, 1, SESSION_MT);
  const char *method = lua_tostring(L, lua_upvalueindex(1));
  const char *url = luaL_checkstring(L, 2);
  return perform(L, box, true, method, url, opts_index(L, 3));
}

static int l_session_request(lua_State *L) {
  struct client_box *box = luaL_checkudata(L, 1, SESSION_MT);
  push_request_spec(L, 2);
  return perform(L, box, true, lua_tostring(L, -1), lua_tostring(L, -2), 2);
}

static int l_session_close(lua_State *L) {
  struct client_box *box = luaL_checkudata(L, 1, SESSION_MT);
  uat_http_client_free(box->client);
  box->client = NULL;
  box->closed = true;
  return 0;
}

static int l_session_tostring(lua_State *L) {
  struct client_box *box = luaL_checkudata(L, 1, SESSION_MT);
  lua_pushstring(L, box->closed ? "http.session (closed)" : "http.session");
  return 1;
}

/* ---- registration ----------------------------------------------------------------- */

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};

/* [-0, +0, m] Sets t[lower(method)] = closure(fn, method) for every method, t on top. */
static void set_method_functions(lua_State *L, lua_CFunction fn) {
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    lua_pushstring(L, methods[i]);
    lua_pushcclosure(L, fn, 1);
    push_lower(L, methods[i]);
    lua_insert(L, -2);
    lua_settable(L, -3);
  }
}

static void register_metatables(lua_State *L) {
  /* Every metatable has __metatable, so no script can reach or call a __gc itself. */
  luaL_newmetatable(L, REQUEST_MT);
  lua_pushcfunction(L, l_request_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushliteral(L, "http.request");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  luaL_newmetatable(L, CLIENT_MT);
  lua_pushcfunction(L, l_client_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushliteral(L, "http.client");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  luaL_newmetatable(L, SESSION_MT);
  lua_pushcfunction(L, l_client_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_session_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, l_session_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_createtable(L, 0, 9);
  set_method_functions(L, l_session_method);
  lua_pushcfunction(L, l_session_request);
  lua_setfield(L, -2, "request");
  lua_pushcfunction(L, l_session_close);
  lua_setfield(L, -2, "close");
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "http.session");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);

  luaL_newmetatable(L, RESPONSE_MT);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_response_header);
  lua_setfield(L, -2, "header");
  lua_pushcfunction(L, l_response_json);
  lua_setfield(L, -2, "json");
  lua_pushcfunction(L, l_response_html);
  lua_setfield(L, -2, "html");
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "http.response");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

void uat_lua_open_http(lua_State *L) {
  register_metatables(L);

  /* Parsed documents, keyed weakly by their response so both go together. */
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &html_cache_key);

  /* The state's plain client: its curl handle comes on first use, __gc frees it. */
  push_client_box(L, CLIENT_MT);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &plain_client_key);

  lua_createtable(L, 0, 8);
  set_method_functions(L, l_http_method);
  lua_pushcfunction(L, l_http_request);
  lua_setfield(L, -2, "request");
  lua_pushcfunction(L, l_http_session);
  lua_setfield(L, -2, "session");
  lua_setglobal(L, "http");
}
