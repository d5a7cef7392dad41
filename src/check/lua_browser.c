/* The `browser` global: a real headless Chromium driven over W3C WebDriver, for pages a
 * script builds in the browser. Each browser.open starts its own chromedriver + Chromium
 * (check/browser_proc.c) with a fresh profile; the userdata's __gc/__close stops them, so a
 * check that ends, errors or times out leaves nothing behind (lua_close runs every __gc).
 * Every call is bounded by the check's remaining time. */
#include "check/browser_proc.h"
#include "check/lua_api.h"
#include "net/http.h"
#include "net/webdriver.h"
#include "util/strbuf.h"

#include <lauxlib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BROWSER_MT "uat.browser"
#define JSON_BOX_MT "uat.browser.json"
#define ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"
#define POLL_MS 100
#define STOP_TIMEOUT_S 3.0 /* closing a browser may use this much even past the deadline */
#define START_TIMEOUT_S 60.0

struct browser {
  struct uat_webdriver *wd;
  struct uat_browser_proc proc;
  json_t *console;  /* every console entry read so far: [{level, text}] */
  json_t *requests; /* every request seen so far: [{id, method, url, status, headers}] */
  int shots;        /* screenshots saved, for unique names */
  bool open;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* [-0, +0, e] Seconds left for a browser call; raises once the check's time is up. */
static double time_left(lua_State *L, const char *what) {
  double left = uat_lua_remaining(L);
  if (left <= 0)
    luaL_error(L, "%s: the check's timeout ran out", what);
  return left;
}

/* [-0, +0, e] Raises err's text, redacted (a URL or a typed value may hold a secret). */
static int raise_redacted(lua_State *L, const char *text) {
  char *safe = uat_lua_redact(L, text);
  lua_pushstring(L, safe ? safe : "browser error (out of memory while reporting it)");
  free(safe);
  return lua_error(L);
}

static struct browser *check_browser(lua_State *L, int idx) {
  struct browser *b = luaL_checkudata(L, idx, BROWSER_MT);
  if (!b->open)
    luaL_error(L, "the browser is closed");
  return b;
}

/* [-0, +0, e] One WebDriver command of b, raising on error. */
static json_t *command(lua_State *L, struct browser *b, const char *method, const char *path,
                       json_t *body, const char *what) {
  struct uat_error err;
  json_t *value = NULL;
  double left = uat_lua_remaining(L);
  if (left <= 0) {
    json_decref(body);
    time_left(L, what); /* raises */
  }
  int rc = uat_webdriver_command(b->wd, method, path, body, left, &value, what, &err);
  json_decref(body);
  if (rc != 0)
    raise_redacted(L, err.text);
  return value;
}

/* A Chrome DevTools command through chromedriver's goog/cdp/execute. */
static json_t *cdp(lua_State *L, struct browser *b, const char *cmd, json_t *params) {
  json_t *body = json_pack("{s:s, s:o}", "cmd", cmd, "params", params ? params : json_object());
  return command(L, b, "POST", "/goog/cdp/execute", body, cmd);
}

/* [-0, +0, e] The absolute URL of ref (relative to target.base_url), refusing every scheme
 * but http(s) and about:blank: a check must not read local files or browser internals. */
static char *checked_url(lua_State *L, const char *ref, const char *what) {
  if (strcmp(ref, "about:blank") == 0)
    return strdup(ref);
  const struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  struct uat_error err;
  const char *base = ctx && ctx->env ? ctx->env->base_url : NULL;
  const struct uat_redactor *red = ctx && ctx->env ? ctx->env->redactor : NULL;
  char *url = uat_http_resolve_url(base, ref, red, &err);
  if (!url)
    luaL_error(L, "%s: %s", what, err.text);
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    free(url);
    char *safe = uat_lua_redact(L, ref);
    lua_pushfstring(L,
                    "%s: only http://, https:// and about:blank may be opened in the browser, "
                    "not '%s'",
                    what, safe ? safe : "?");
    free(safe);
    lua_error(L);
  }
  return url;
}

/* "http://host:port" of an absolute http(s) URL (what localStorage is keyed by). */
static char *origin_of(const char *url) {
  const char *host = strstr(url, "://");
  if (!host)
    return NULL;
  host += 3;
  size_t n = (size_t)(host - url) + strcspn(host, "/?#");
  char *o = malloc(n + 1);
  if (o) {
    memcpy(o, url, n);
    o[n] = '\0';
  }
  return o;
}

/* [-0, +0, e] The table field `key` of opts converted to JSON (NULL when absent). */
static int l_json_box_gc(lua_State *L) {
  json_t **box = lua_touserdata(L, 1);
  if (box && *box) {
    json_decref(*box);
    *box = NULL;
  }
  return 0;
}

/* [-0, +1, m] Pushes a userdata owning j (released when collected): a browser call that
 * raises part-way through browser.open then leaks none of the options it was given. */
static json_t *push_json_box(lua_State *L, json_t *j) {
  json_t **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, JSON_BOX_MT);
  *box = j;
  return j;
}

/* [-0, +1, e] opts[key] as a JSON object, owned by a box pushed on the stack (the pointer
 * is borrowed); NULL (and a box holding nothing) when absent. */
static json_t *opt_json(lua_State *L, int opts, const char *key) {
  if (opts == 0 || lua_getfield(L, opts, key) == LUA_TNIL) {
    if (opts)
      lua_pop(L, 1);
    return push_json_box(L, NULL);
  }
  struct uat_error err;
  json_t *j = uat_lua_to_json(L, -1, &err);
  lua_pop(L, 1);
  if (!j)
    luaL_error(L, "browser.open: %s: %s", key, err.text);
  push_json_box(L, j);
  if (!json_is_object(j))
    luaL_error(L, "browser.open: %s must be a table of names to strings", key);
  return j;
}

static lua_Integer opt_int(lua_State *L, int opts, const char *key, lua_Integer def) {
  if (opts == 0)
    return def;
  lua_getfield(L, opts, key);
  lua_Integer v = luaL_optinteger(L, -1, def);
  lua_pop(L, 1);
  return v;
}

static const char *opt_string(lua_State *L, int opts, const char *key) {
  if (opts == 0)
    return NULL;
  lua_getfield(L, opts, key);
  const char *v = lua_tostring(L, -1);
  lua_pop(L, 1); /* the string stays alive in opts */
  return v;
}

/* ---- starting and stopping ------------------------------------------------------------ */

static void stop_browser(struct browser *b) {
  if (!b->open && !b->wd && b->proc.guard == 0)
    return;
  b->open = false;
  if (b->wd)
    uat_webdriver_end_session(b->wd, STOP_TIMEOUT_S);
  uat_webdriver_free(b->wd);
  b->wd = NULL;
  uat_browser_proc_stop(&b->proc);
  json_decref(b->console);
  json_decref(b->requests);
  b->console = b->requests = NULL;
}

static json_t *capabilities(lua_State *L, struct browser *b, int opts) {
  char profile_arg[300], size_arg[64];
  snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", b->proc.profile);
  snprintf(size_arg, sizeof size_arg, "--window-size=%d,%d", (int)opt_int(L, opts, "width", 1280),
           (int)opt_int(L, opts, "height", 900));
  json_t *args = json_pack("[s,s,s,s,s,s,s,s,s,s,s,s]", "--headless=new", "--disable-gpu",
                           "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                           "--no-default-browser-check", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--disable-extensions",
                           profile_arg, size_arg);
  /* Chromium's own sandbox cannot start as root; elsewhere it stays on. */
  if (geteuid() == 0)
    json_array_append_new(args, json_string("--no-sandbox"));
  const char *ua = opt_string(L, opts, "user_agent");
  if (ua) {
    char *arg = malloc(strlen(ua) + 16);
    if (arg) {
      sprintf(arg, "--user-agent=%s", ua);
      json_array_append_new(args, json_string(arg));
      free(arg);
    }
  }
  return json_pack("{s:{s:{s:s, s:s, s:{s:s, s:o}, s:{s:s, s:s}}}}", "capabilities", "alwaysMatch",
                   "browserName", "chrome", "pageLoadStrategy", "normal", "goog:chromeOptions",
                   "binary", uat_browser_binary_path(), "args", args, "goog:loggingPrefs",
                   "browser", "ALL", "performance", "ALL");
}

/* [-0, +0, e] Starts the driver, waits for it, opens a session. */
static void start_browser(lua_State *L, struct browser *b, int opts) {
  struct uat_error err;
  if (uat_browser_check_installed(&err) != 0)
    luaL_error(L, "browser.open: %s", err.text);
  if (uat_browser_proc_start(&b->proc, &err) != 0)
    luaL_error(L, "browser.open: %s", err.text);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", b->proc.port);
  if (!(b->wd = uat_webdriver_new(base, &err)))
    luaL_error(L, "browser.open: %s", err.text);
  double limit = uat_monotonic_now() + START_TIMEOUT_S;
  while (uat_webdriver_ready(b->wd, 1.0, &err) != 0) {
    if (uat_monotonic_now() > limit)
      luaL_error(L, "browser.open: chromedriver (%s) did not start within %.0fs",
                 uat_browser_driver_path(), START_TIMEOUT_S);
    time_left(L, "browser.open (waiting for chromedriver)");
    sleep_ms(50);
  }
  json_t *caps = capabilities(L, b, opts);
  int rc = caps ? uat_webdriver_new_session(b->wd, caps, time_left(L, "browser.open"), &err)
                : uat_error_set(&err, "out of memory");
  json_decref(caps);
  if (rc != 0)
    luaL_error(L, "browser.open: Chromium (%s) did not start: %s", uat_browser_binary_path(),
               err.text);
  b->open = true;
  b->console = json_array();
  b->requests = json_array();
}

/* Storage is written by a script Chromium runs before the page's own scripts, on the first
 * document of the target origin only: an app that rewrites its stored state on start sees
 * the values, and later navigations do not seed them again. */
static char *storage_script(json_t *local, json_t *session, const char *origin) {
  json_t *o = json_string(origin), *none = json_object();
  char *lj = json_dumps(local ? local : none, JSON_COMPACT | JSON_ESCAPE_SLASH);
  char *sj = json_dumps(session ? session : none, JSON_COMPACT | JSON_ESCAPE_SLASH);
  char *oj = json_dumps(o, JSON_ENCODE_ANY | JSON_ESCAPE_SLASH);
  json_decref(o);
  json_decref(none);
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int bad = !lj || !sj || !oj;
  bad = bad || uat_strbuf_adds(&sb, "(function(){if(location.origin!==") != 0 ||
        uat_strbuf_adds(&sb, oj) != 0 || uat_strbuf_adds(&sb, ")return;try{var l=") != 0 ||
        uat_strbuf_adds(&sb, lj) != 0 || uat_strbuf_adds(&sb, ",s=") != 0 ||
        uat_strbuf_adds(&sb, sj) != 0 ||
        uat_strbuf_adds(&sb, ";for(var k in l)localStorage.setItem(k,String(l[k]));"
                             "for(var k in s)sessionStorage.setItem(k,String(s[k]));}catch(e){}})();") != 0;
  free(lj);
  free(sj);
  free(oj);
  if (bad) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

static void set_cookies(lua_State *L, struct browser *b, json_t *cookies, const char *url) {
  const char *name;
  json_t *value;
  json_object_foreach(cookies, name, value) {
    const char *v = json_string_value(value);
    json_decref(cdp(L, b, "Network.setCookie",
                    json_pack("{s:s, s:s, s:s}", "name", name, "value", v ? v : "", "url", url)));
  }
}

static void navigate(lua_State *L, struct browser *b, const char *url, const char *what) {
  json_decref(command(L, b, "POST", "/url", json_pack("{s:s}", "url", url), what));
}

/* browser.open(url, opts) -> browser */
static int l_open(lua_State *L) {
  const char *ref = luaL_checkstring(L, 1);
  int opts = lua_istable(L, 2) ? 2 : 0;
  if (!opts && !lua_isnoneornil(L, 2))
    luaL_typeerror(L, 2, "table of options");
  /* wrap before acquiring: the userdata exists (and its __gc) before any process does */
  struct browser *b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  b->proc.keep_fd = -1;
  luaL_setmetatable(L, BROWSER_MT);
  int self = lua_gettop(L);
  char *url = checked_url(L, ref, "browser.open");
  lua_pushstring(L, url);
  free(url);
  url = (char *)lua_tostring(L, -1); /* kept alive on the stack */
  start_browser(L, b, opts);
  json_t *headers = opt_json(L, opts, "headers");
  if (headers) {
    json_decref(cdp(L, b, "Network.enable", NULL));
    json_decref(cdp(L, b, "Network.setExtraHTTPHeaders", json_pack("{s:O}", "headers", headers)));
  }
  bool web = strcmp(url, "about:blank") != 0;
  json_t *cookies = opt_json(L, opts, "cookies");
  if (cookies && web)
    set_cookies(L, b, cookies, url);
  json_t *local = opt_json(L, opts, "local_storage");
  json_t *session = opt_json(L, opts, "session_storage");
  const char *script_id = NULL;
  if ((local || session) && web) {
    char *origin = origin_of(url);
    char *src = origin ? storage_script(local, session, origin) : NULL;
    free(origin);
    if (!src)
      return luaL_error(L, "browser.open: out of memory");
    json_t *params = json_pack("{s:s}", "source", src);
    free(src);
    json_t *r = push_json_box(L, cdp(L, b, "Page.addScriptToEvaluateOnNewDocument", params));
    script_id = json_string_value(json_object_get(r, "identifier")); /* the box keeps it */
  }
  navigate(L, b, url, "browser.open");
  if (script_id)
    json_decref(cdp(L, b, "Page.removeScriptToEvaluateOnNewDocument",
                    json_pack("{s:s}", "identifier", script_id)));
  lua_pushvalue(L, self);
  return 1;
}

/* ---- finding elements ------------------------------------------------------------------ */

static bool is_xpath(const char *sel) {
  return sel[0] == '/' || sel[0] == '(' || strncmp(sel, "./", 2) == 0;
}

/* Element ids matching sel now (a new array), visible ones only when asked. */
static json_t *find_now(lua_State *L, struct browser *b, const char *sel, bool visible) {
  json_t *found = command(L, b, "POST", "/elements",
                          json_pack("{s:s, s:s}", "using", is_xpath(sel) ? "xpath" : "css selector",
                                    "value", sel),
                          "finding an element");
  json_t *ids = json_array();
  size_t i;
  json_t *el;
  json_array_foreach(found, i, el) {
    const char *id = uat_webdriver_element_id(el);
    if (!id)
      continue;
    if (visible) {
      char path[200];
      snprintf(path, sizeof path, "/element/%s/displayed", id);
      json_t *shown = command(L, b, "GET", path, NULL, "checking an element is visible");
      bool ok = json_is_true(shown);
      json_decref(shown);
      if (!ok)
        continue;
    }
    json_array_append_new(ids, json_string(id));
  }
  json_decref(found);
  return ids;
}

/* The page's URL for a message, or NULL when the browser cannot say in time: a failing
 * wait must report what did not appear, not a second error about the URL. */
static json_t *current_url_or_null(lua_State *L, struct browser *b) {
  double left = uat_lua_remaining(L);
  if (left <= 0)
    return NULL;
  struct uat_error err;
  json_t *value = NULL;
  if (uat_webdriver_command(b->wd, "GET", "/url", NULL, left, &value, "b:url", &err) != 0) {
    json_decref(value);
    return NULL;
  }
  return value;
}

/* [-0, +1, e] Waits until sel matches (visible when asked), at most `limit` seconds (and the
 * check's remaining time); pushes the first element's id. */
static const char *wait_for(lua_State *L, struct browser *b, const char *sel, double limit,
                            bool visible, const char *what) {
  double start = uat_monotonic_now();
  double left = uat_lua_wait_deadline(L) - start;
  if (limit <= 0 || limit > left)
    limit = left > 0 ? left : 0;
  for (;;) {
    json_t *ids = find_now(L, b, sel, visible);
    const char *id = json_string_value(json_array_get(ids, 0));
    if (id) {
      lua_pushstring(L, id);
      json_decref(ids);
      return lua_tostring(L, -1);
    }
    json_decref(ids);
    if (uat_monotonic_now() - start + POLL_MS / 1000.0 >= limit) {
      json_t *u = current_url_or_null(L, b);
      char *msg = NULL;
      size_t n = strlen(sel) + 256 + (json_string_value(u) ? strlen(json_string_value(u)) : 0);
      if ((msg = malloc(n)))
        snprintf(msg, n, "%s: '%s' did not %s within %.1fs on %s", what, sel,
                 visible ? "become visible" : "appear", limit,
                 json_string_value(u) ? json_string_value(u) : "the page");
      json_decref(u);
      lua_pushstring(L, msg ? msg : "element did not appear");
      free(msg);
      raise_redacted(L, lua_tostring(L, -1));
    }
    sleep_ms(POLL_MS);
  }
}

static json_t *element_ref(const char *id) {
  return json_pack("{s:s}", ELEMENT_KEY, id);
}

static void element_command(lua_State *L, struct browser *b, const char *id, const char *method,
                            const char *suffix, json_t *body, const char *what) {
  char path[200];
  snprintf(path, sizeof path, "/element/%s%s", id, suffix);
  json_decref(command(L, b, method, path, body, what));
}

/* ---- methods ------------------------------------------------------------------------- */

static int l_visit(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  char *url = checked_url(L, luaL_checkstring(L, 2), "b:visit");
  lua_pushstring(L, url);
  free(url);
  navigate(L, b, lua_tostring(L, -1), "b:visit");
  return 0;
}

/* b:wait(sel, {timeout=, visible=}) -> true */
static int l_wait(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *sel = luaL_checkstring(L, 2);
  double limit = 0;
  bool visible = false;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "timeout");
    limit = luaL_optnumber(L, -1, 0);
    lua_getfield(L, 3, "visible");
    visible = lua_toboolean(L, -1);
    lua_pop(L, 2);
  }
  wait_for(L, b, sel, limit, visible, "b:wait");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_click(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *id = wait_for(L, b, luaL_checkstring(L, 2), 0, true, "b:click");
  element_command(L, b, id, "POST", "/click", NULL, "b:click");
  return 0;
}

static int l_fill(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *text = luaL_checkstring(L, 3);
  const char *id = wait_for(L, b, luaL_checkstring(L, 2), 0, true, "b:fill");
  element_command(L, b, id, "POST", "/clear", NULL, "b:fill");
  element_command(L, b, id, "POST", "/value", json_pack("{s:s}", "text", text), "b:fill");
  return 0;
}

static json_t *run_script(lua_State *L, struct browser *b, const char *js, json_t *args,
                          const char *what) {
  return command(L, b, "POST", "/execute/sync", json_pack("{s:s, s:o}", "script", js, "args", args),
                 what);
}

static int l_select(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *value = luaL_checkstring(L, 3);
  const char *id = wait_for(L, b, luaL_checkstring(L, 2), 0, true, "b:select");
  json_t *r = run_script(
      L, b,
      "var s = arguments[0], v = arguments[1];"
      "for (var i = 0; i < s.options.length; i++) { var o = s.options[i];"
      "  if (o.value === v || o.text.trim() === v) { s.value = o.value;"
      "    s.dispatchEvent(new Event('input', {bubbles: true}));"
      "    s.dispatchEvent(new Event('change', {bubbles: true})); return true; } }"
      "return false;",
      json_pack("[o,s]", element_ref(id), value), "b:select");
  bool ok = json_is_true(r);
  json_decref(r);
  if (!ok)
    return luaL_error(L, "b:select: '%s' has no option with the value or text given",
                      lua_tostring(L, 2));
  return 0;
}

/* WebDriver's code points for the keys checks press (W3C WebDriver §17.4.2). */
static const char *key_code(const char *name) {
  static const struct {
    const char *name, *code;
  } keys[] = {{"Enter", "\xee\x80\x87"},     {"Tab", "\xee\x80\x84"},
              {"Escape", "\xee\x80\x8c"},    {"Backspace", "\xee\x80\x83"},
              {"Delete", "\xee\x80\x97"},    {"ArrowLeft", "\xee\x80\x92"},
              {"ArrowUp", "\xee\x80\x93"},   {"ArrowRight", "\xee\x80\x94"},
              {"ArrowDown", "\xee\x80\x95"}, {"Home", "\xee\x80\x91"},
              {"End", "\xee\x80\x90"},       {"PageUp", "\xee\x80\x8e"},
              {"PageDown", "\xee\x80\x8f"},  {"Space", " "}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(keys[i].name, name) == 0)
      return keys[i].code;
  return NULL;
}

static int l_press(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const char *code = key_code(name);
  if (!code && strlen(name) == 1)
    code = name;
  if (!code)
    return luaL_error(L,
                      "b:press: unknown key '%s'; use one character or Enter, Tab, Escape, "
                      "Backspace, Delete, Space, Home, End, PageUp, PageDown or an Arrow key",
                      name);
  json_decref(command(
      L, b, "POST", "/actions",
      json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}]}", "actions", "type", "key", "id",
                "keyboard", "actions", "type", "keyDown", "value", code, "type", "keyUp", "value",
                code),
      "b:press"));
  return 0;
}

static int l_text(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *id = wait_for(L, b, luaL_checkstring(L, 2), 0, false, "b:text");
  char path[200];
  snprintf(path, sizeof path, "/element/%s/text", id);
  json_t *t = command(L, b, "GET", path, NULL, "b:text");
  lua_pushstring(L, json_string_value(t) ? json_string_value(t) : "");
  json_decref(t);
  return 1;
}

static int push_string_command(lua_State *L, const char *path, const char *what) {
  struct browser *b = check_browser(L, 1);
  json_t *t = command(L, b, "GET", path, NULL, what);
  lua_pushstring(L, json_string_value(t) ? json_string_value(t) : "");
  json_decref(t);
  return 1;
}

static int l_url(lua_State *L) {
  return push_string_command(L, "/url", "b:url");
}

static int l_title(lua_State *L) {
  return push_string_command(L, "/title", "b:title");
}

/* b:html() -> the document as the browser shows it now, usable with html.* and expect.* */
static int l_html(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  json_t *t = command(L, b, "GET", "/source", NULL, "b:html");
  const char *text = json_string_value(t);
  size_t len = text ? json_string_length(t) : 0;
  lua_pushlstring(L, text ? text : "", len); /* on the stack: t can go before parsing raises */
  json_decref(t);
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  uat_lua_push_html_doc(L, s, n);
  return 1;
}

/* b:eval(js, ...) -> the value the script returns (js is a function body: use `return`) */
static int l_eval(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *js = luaL_checkstring(L, 2);
  json_t *args = json_array();
  for (int i = 3; i <= lua_gettop(L); i++) {
    struct uat_error err;
    json_t *a = uat_lua_to_json(L, i, &err);
    if (!a) {
      json_decref(args);
      return luaL_error(L, "b:eval: argument %d: %s", i - 2, err.text);
    }
    json_array_append_new(args, a);
  }
  json_t *r = run_script(L, b, js, args, "b:eval");
  uat_lua_push_json(L, r);
  json_decref(r);
  return 1;
}

/* A name safe in a file name: letters, digits, '-' and '_' only. */
static void safe_name(const char *in, char *out, size_t size) {
  size_t n = 0;
  for (; *in && n + 1 < size; in++)
    out[n++] = (char)((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
                              (*in >= '0' && *in <= '9') || *in == '-' || *in == '_'
                          ? *in
                          : '_');
  out[n] = '\0';
}

/* Writes a screenshot PNG (and, for failures, the page HTML) under --artifacts; returns the
 * path (caller frees) or NULL when no folder was given or writing failed. */
static char *save_screenshot(lua_State *L, struct browser *b, const char *name) {
  const struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  const char *dir = ctx && ctx->env ? ctx->env->artifacts_dir : NULL;
  if (!dir)
    return NULL;
  struct uat_error err;
  json_t *shot = NULL;
  if (uat_webdriver_command(b->wd, "GET", "/screenshot", NULL, STOP_TIMEOUT_S, &shot,
                            "taking a screenshot", &err) != 0)
    return NULL;
  const char *b64 = json_string_value(shot);
  size_t len = b64 ? strlen(b64) : 0;
  unsigned char *png = malloc(len / 4 * 3 + 4);
  int n = png && b64 ? EVP_DecodeBlock(png, (const unsigned char *)b64, (int)len) : -1;
  while (n > 0 && len > 0 && b64[len - 1] == '=') { /* EVP_DecodeBlock counts padding bytes */
    n--;
    len--;
  }
  char id[64], nm[64];
  safe_name(ctx->env->check && ctx->env->check->id ? ctx->env->check->id : "check", id, sizeof id);
  safe_name(name, nm, sizeof nm);
  size_t plen = strlen(dir) + strlen(id) + strlen(nm) + 32;
  char *path = malloc(plen);
  FILE *f = NULL;
  if (n > 0 && path) {
    snprintf(path, plen, "%s/%s-%s-%d.png", dir, id, nm, ++b->shots);
    f = fopen(path, "wb");
  }
  bool ok = f && fwrite(png, 1, (size_t)n, f) == (size_t)n;
  if (f && fclose(f) != 0)
    ok = false;
  free(png);
  json_decref(shot);
  if (!ok) {
    free(path);
    return NULL;
  }
  return path;
}

static int l_screenshot(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  const char *name = luaL_optstring(L, 2, "screenshot");
  char *path = save_screenshot(L, b, name);
  if (!path) {
    lua_pushnil(L);
    return 1;
  }
  uat_check_result_add_artifact(uat_lua_ctx(L)->result, path);
  lua_pushstring(L, path);
  free(path);
  return 1;
}

/* Reads a WebDriver log ("browser" or "performance"), which the driver empties on reading. */
static json_t *read_log(lua_State *L, struct browser *b, const char *type) {
  return command(L, b, "POST", "/se/log", json_pack("{s:s}", "type", type), "reading the browser's log");
}

/* [-0, +1, m] A redacted Lua string. */
static void push_redacted(lua_State *L, const char *text) {
  char *safe = uat_lua_redact(L, text ? text : "");
  lua_pushstring(L, safe ? safe : "");
  free(safe);
}

/* b:console() -> {messages = {{level=, text=}, ...}, errors = {text, ...}} since the start */
static int l_console(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  json_t *log = read_log(L, b, "browser");
  json_array_extend(b->console, log);
  json_decref(log);
  lua_createtable(L, 0, 2);
  lua_newtable(L); /* messages */
  lua_newtable(L); /* errors */
  size_t i, nerr = 0;
  json_t *e;
  json_array_foreach(b->console, i, e) {
    const char *level = json_string_value(json_object_get(e, "level"));
    const char *text = json_string_value(json_object_get(e, "message"));
    lua_createtable(L, 0, 2);
    lua_pushstring(L, level ? level : "INFO");
    lua_setfield(L, -2, "level");
    push_redacted(L, text);
    lua_setfield(L, -2, "text");
    lua_rawseti(L, -3, (lua_Integer)i + 1);
    if (level && strcmp(level, "SEVERE") == 0) {
      push_redacted(L, text);
      lua_rawseti(L, -2, (lua_Integer)++nerr);
    }
  }
  lua_setfield(L, -3, "errors");
  lua_setfield(L, -2, "messages");
  return 1;
}

/* Folds one DevTools network event of the performance log into b->requests. */
static void note_network_event(struct browser *b, json_t *msg) {
  const char *method = json_string_value(json_object_get(msg, "method"));
  json_t *params = json_object_get(msg, "params");
  const char *id = json_string_value(json_object_get(params, "requestId"));
  if (!method || !id)
    return;
  if (strcmp(method, "Network.requestWillBeSent") == 0) {
    json_t *req = json_object_get(params, "request");
    json_array_append_new(b->requests,
                          json_pack("{s:s, s:O?, s:O?, s:O?, s:n}", "id", id, "method",
                                    json_object_get(req, "method"), "url",
                                    json_object_get(req, "url"), "headers",
                                    json_object_get(req, "headers"), "status"));
    return;
  }
  if (strcmp(method, "Network.responseReceived") != 0 &&
      strcmp(method, "Network.requestWillBeSentExtraInfo") != 0)
    return;
  for (size_t i = json_array_size(b->requests); i-- > 0;) {
    json_t *r = json_array_get(b->requests, i);
    if (strcmp(json_string_value(json_object_get(r, "id")), id) != 0)
      continue;
    if (strcmp(method, "Network.responseReceived") == 0)
      json_object_set(r, "status", json_object_get(json_object_get(params, "response"), "status"));
    else if (json_is_object(json_object_get(params, "headers")))
      /* the headers really sent, cookies and all (requestWillBeSent has the page's view) */
      json_object_set(r, "headers", json_object_get(params, "headers"));
    return;
  }
}

static void read_network(lua_State *L, struct browser *b) {
  json_t *log = read_log(L, b, "performance");
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    const char *text = json_string_value(json_object_get(e, "message"));
    json_t *outer = text ? json_loads(text, 0, NULL) : NULL;
    note_network_event(b, json_object_get(outer, "message"));
    json_decref(outer);
  }
  json_decref(log);
}

/* b:requests() -> {{method=, url=, status=, headers={...}}, ...}, secrets redacted */
static int l_requests(lua_State *L) {
  struct browser *b = check_browser(L, 1);
  read_network(L, b);
  lua_createtable(L, (int)json_array_size(b->requests), 0);
  size_t i;
  json_t *r;
  json_array_foreach(b->requests, i, r) {
    lua_createtable(L, 0, 4);
    push_redacted(L, json_string_value(json_object_get(r, "method")));
    lua_setfield(L, -2, "method");
    push_redacted(L, json_string_value(json_object_get(r, "url")));
    lua_setfield(L, -2, "url");
    json_t *st = json_object_get(r, "status");
    if (json_is_number(st))
      lua_pushinteger(L, (lua_Integer)json_number_value(st));
    else
      lua_pushnil(L);
    lua_setfield(L, -2, "status");
    lua_newtable(L);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "headers"), k, v) {
      push_redacted(L, json_string_value(v));
      lua_setfield(L, -2, k);
    }
    lua_setfield(L, -2, "headers");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* On a failing check, what the browser showed is kept under --artifacts: a screenshot and
 * the page HTML, referenced from the reports. */
static void keep_failure_artifacts(lua_State *L, struct browser *b) {
  struct uat_lua_ctx *ctx = uat_lua_ctx(L);
  if (!ctx || !ctx->env || !ctx->env->artifacts_dir || !b->open || !ctx->result)
    return;
  if (!uat_check_result_failed_expectations(ctx->result) && !ctx->result->error &&
      !ctx->timed_out)
    return;
  char *png = save_screenshot(L, b, "failure");
  if (!png)
    return;
  uat_check_result_add_artifact(ctx->result, png);
  json_t *src = NULL;
  struct uat_error err;
  if (uat_webdriver_command(b->wd, "GET", "/source", NULL, STOP_TIMEOUT_S, &src, "reading the page",
                            &err) == 0 && json_string_value(src)) {
    strcpy(png + strlen(png) - 4, ".html");
    char *html = uat_lua_redact(L, json_string_value(src));
    FILE *f = html ? fopen(png, "w") : NULL;
    bool ok = f && fputs(html, f) >= 0;
    if (f && fclose(f) != 0)
      ok = false;
    if (ok)
      uat_check_result_add_artifact(ctx->result, png);
    free(html);
  }
  json_decref(src);
  free(png);
}

static int l_close(lua_State *L) {
  struct browser *b = luaL_checkudata(L, 1, BROWSER_MT);
  keep_failure_artifacts(L, b);
  stop_browser(b);
  return 0;
}

/* Called for every open browser when the check ends (its __gc), failure artifacts first. */
static int l_finalize(lua_State *L) {
  struct browser *b = luaL_checkudata(L, 1, BROWSER_MT);
  if (b->open)
    keep_failure_artifacts(L, b);
  stop_browser(b);
  return 0;
}

void uat_lua_open_browser(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"visit", l_visit}, {"wait", l_wait},   {"click", l_click},   {"fill", l_fill},
      {"select", l_select}, {"press", l_press}, {"text", l_text},    {"html", l_html},
      {"url", l_url},     {"title", l_title}, {"eval", l_eval},     {"screenshot", l_screenshot},
      {"console", l_console}, {"requests", l_requests}, {"close", l_close}, {NULL, NULL},
  };
  luaL_newmetatable(L, JSON_BOX_MT);
  lua_pushcfunction(L, l_json_box_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, BROWSER_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_finalize);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  lua_pushliteral(L, "browser");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_open);
  lua_setfield(L, -2, "open");
  lua_setglobal(L, "browser");
}
