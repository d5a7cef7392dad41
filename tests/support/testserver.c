/* A loopback HTTP server for unit and end-to-end tests, on libmicrohttpd.
 * One thread per connection, so a slow route never blocks the others; bound to
 * 127.0.0.1 only. End-to-end cases rely on these routes: keep them stable.
 *
 *   /status/N            replies status N (200..599), body "status N"
 *   /echo                JSON {method, path, query{}, headers{} (names lowercased),
 *                        body (string, null when not UTF-8), body_length}; any method
 *   /headers             JSON object of the request headers (names lowercased)
 *   /json                a JSON object: {"name":"uatrun","version":1,"items":[1,2,3],
 *                        "nested":{"ok":true},"nothing":null}
 *   /notjson             text/plain "this is not json"
 *   /html/soup           broken HTML (unclosed tags, stray end tags, bare attributes)
 *   /html/page           a clean page: <nav id="menu"> with links, <h1>Dashboard</h1>,
 *                        a <table id="tasks">, and links with class "page-link"
 *   /redirect/N          302 to /redirect/N-1, and /redirect/1 (or 0) to /status/200
 *   /redirect-to?url=U[&status=S]   S (default 302) with Location: U
 *   /slow?ms=N           waits N ms (capped at 30 s, cut short by stop), then 200 "slow"
 *   /big?bytes=N[&chunked=1]   streams N bytes of 'x' (capped at 4 GiB) without buffering
 *                        them; chunked=1 sends no Content-Length
 *   /trickle?bytes=N     Content-Length N (default 100), then one byte a second (cut short
 *                        by stop): a server that never quite answers
 *   /loop                302 to /loop, for ever
 *   /cookie/set?a=1&b=2  sets cookie a=1 and b=2 (Path=/), body "cookies set"
 *   /cookie/get          body: the request's Cookie header ("" without one)
 *   /login  GET          a form with a hidden input name="csrf", and a session cookie
 *           POST         form csrf, user, password: with the session's csrf token, user
 *                        "ana" and password "secret": sets cookie auth, 302 to /private;
 *                        else 403 "bad csrf token" or "bad credentials"
 *   /private             with the auth cookie: 200 "welcome ana"; else 302 to /login
 *   /auth                200 "authorized" with "Authorization: Token secret-token",
 *                        else 401 with WWW-Authenticate: Token
 *   /flaky?key=K&fail=N  the first N requests for key K get 503 "flaky N", later ones
 *                        200 "steady"; each key counts apart (for retries), up to 64 keys
 *   /deploy?key=K&old=N&to=B[&from=A]   the first N requests for key K get JSON
 *                        {"version":A,"release":{"version":A},"requests":n} (503 "deploying"
 *                        without from=), later ones the same with B; keys shared with /flaky
 *   anything else        404 "not found"
 * Request bodies over 4 MiB get 413. */
#include "testserver.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_UPLOAD ((size_t)4 * 1024 * 1024)
#define MAX_SLOW_MS 30000L
#define MAX_BIG_BYTES ((unsigned long long)4 << 30)
#define VALID_USER "ana"
#define VALID_PASSWORD "secret"
#define FLAKY_KEYS 64

struct uat_testserver {
  struct MHD_Daemon *daemon;
  unsigned port;
  atomic_bool stopping;
  atomic_uint sessions; /* numbers log-in sessions */
  pthread_mutex_t flaky_lock;
  struct {
    char key[64];
    unsigned hits;
  } flaky[FLAKY_KEYS];
};

/* One request: its uploaded body, gathered across handler calls. */
struct request {
  char *body;
  size_t len;
  bool too_big;
};

struct login_form {
  char csrf[128];
  char user[64];
  char password[64];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  if (type)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  enum MHD_Result rc = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text) {
  return reply(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *value) {
  char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(value);
  if (!text)
    return reply_text(conn, 500, "cannot encode JSON");
  enum MHD_Result rc = reply(conn, status, "application/json", text, strlen(text));
  free(text);
  return rc;
}

static enum MHD_Result reply_redirect(struct MHD_Connection *conn, unsigned status,
                                      const char *location, const char *cookie) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen("redirecting"), (void *)"redirecting", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  if (cookie)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  enum MHD_Result rc = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return rc;
}

static const char *query(struct MHD_Connection *conn, const char *name) {
  return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static long query_long(struct MHD_Connection *conn, const char *name, long fallback) {
  const char *text = query(conn, name);
  if (!text || !*text)
    return fallback;
  char *end = NULL;
  long value = strtol(text, &end, 10);
  return *end ? fallback : value;
}

/* Adds key=value to a JSON object; a repeated key gets ", value" appended. */
static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
  json_t *object = cls;
  char name[256];
  size_t i = 0;
  bool lower = kind == MHD_HEADER_KIND; /* header names are case-insensitive */
  for (; key[i] && i + 1 < sizeof name; i++)
    name[i] = (char)(lower && key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
  name[i] = '\0';
  const char *v = value ? value : "";
  json_t *old = json_object_get(object, name);
  if (old && json_is_string(old)) {
    size_t n = strlen(json_string_value(old)) + strlen(v) + 3;
    char *joined = malloc(n);
    if (!joined)
      return MHD_NO;
    snprintf(joined, n, "%s, %s", json_string_value(old), v);
    json_object_set_new(object, name, json_string(joined));
    free(joined);
  } else {
    json_object_set_new(object, name, json_string(v));
  }
  return MHD_YES;
}

static json_t *values_of(struct MHD_Connection *conn, enum MHD_ValueKind kind) {
  json_t *object = json_object();
  if (object)
    MHD_get_connection_values(conn, kind, collect_value, object);
  return object;
}

static enum MHD_Result route_echo(struct MHD_Connection *conn, const char *method, const char *path,
                                  const struct request *req) {
  json_t *body = req->body ? json_stringn(req->body, req->len) : json_string("");
  json_t *echo =
      json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}", "method", method, "path", path, "query",
                values_of(conn, MHD_GET_ARGUMENT_KIND), "headers", values_of(conn, MHD_HEADER_KIND),
                "body", body ? body : json_null(), "body_length", (json_int_t)req->len);
  return reply_json(conn, 200, echo);
}

static enum MHD_Result route_status(struct MHD_Connection *conn, const char *code_text) {
  char *end = NULL;
  long code = strtol(code_text, &end, 10);
  if (*end || code < 200 || code > 599)
    return reply_text(conn, 400, "status must be 200..599");
  char body[32];
  snprintf(body, sizeof body, "status %ld", code);
  bool no_body = code == 204 || code == 304;
  return reply(conn, (unsigned)code, "text/plain", no_body ? "" : body, no_body ? 0 : strlen(body));
}

static enum MHD_Result route_redirect(struct MHD_Connection *conn, const char *hops_text) {
  char *end = NULL;
  long hops = strtol(hops_text, &end, 10);
  if (*end || hops < 0)
    return reply_text(conn, 400, "redirect count must be a number >= 0");
  char location[64];
  if (hops <= 1)
    snprintf(location, sizeof location, "/status/200");
  else
    snprintf(location, sizeof location, "/redirect/%ld", hops - 1);
  return reply_redirect(conn, 302, location, NULL);
}

static enum MHD_Result route_redirect_to(struct MHD_Connection *conn) {
  const char *url = query(conn, "url");
  long status = query_long(conn, "status", 302);
  if (!url || status < 300 || status > 399)
    return reply_text(conn, 400, "need ?url=... and an optional 3xx status");
  return reply_redirect(conn, (unsigned)status, url, NULL);
}

static enum MHD_Result route_slow(struct uat_testserver *srv, struct MHD_Connection *conn) {
  long ms = query_long(conn, "ms", 1000);
  if (ms > MAX_SLOW_MS)
    ms = MAX_SLOW_MS;
  /* Small steps, so stopping the server never waits for a long sleep. */
  for (long waited = 0; waited < ms && !atomic_load(&srv->stopping); waited += 10) {
    struct timespec step = {0, 10 * 1000 * 1000};
    nanosleep(&step, NULL);
  }
  return reply_text(conn, 200, "slow");
}

struct big_body {
  struct uat_testserver *srv;
  uint64_t total;
};

static ssize_t read_big(void *cls, uint64_t pos, char *buf, size_t max) {
  struct big_body *big = cls;
  if (atomic_load(&big->srv->stopping))
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if (pos >= big->total)
    return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = big->total - pos < max ? (size_t)(big->total - pos) : max;
  memset(buf, 'x', n);
  return (ssize_t)n;
}

static enum MHD_Result route_big(struct uat_testserver *srv, struct MHD_Connection *conn) {
  const char *text = query(conn, "bytes");
  char *end = NULL;
  unsigned long long bytes = text ? strtoull(text, &end, 10) : 1024;
  if ((text && *end) || bytes > MAX_BIG_BYTES)
    return reply_text(conn, 400, "bytes must be a number up to 4 GiB");
  struct big_body *big = malloc(sizeof *big);
  if (!big)
    return MHD_NO;
  big->srv = srv;
  big->total = bytes;
  bool chunked = query_long(conn, "chunked", 0) != 0;
  struct MHD_Response *resp = MHD_create_response_from_callback(
      chunked ? MHD_SIZE_UNKNOWN : bytes, 64 * 1024, read_big, big, free);
  if (!resp) {
    free(big);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
  enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* One byte a second, in small sleeps so stopping the server never waits long. */
static ssize_t read_trickle(void *cls, uint64_t pos, char *buf, size_t max) {
  struct big_body *slow = cls;
  if (pos >= slow->total)
    return MHD_CONTENT_READER_END_OF_STREAM;
  for (int step = 0; step < 100; step++) {
    if (atomic_load(&slow->srv->stopping))
      return MHD_CONTENT_READER_END_WITH_ERROR;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  (void)max;
  buf[0] = 't';
  return 1;
}

static enum MHD_Result route_trickle(struct uat_testserver *srv, struct MHD_Connection *conn) {
  long bytes = query_long(conn, "bytes", 100);
  if (bytes < 1 || bytes > 100000)
    return reply_text(conn, 400, "bytes must be a number from 1 to 100000");
  struct big_body *slow = malloc(sizeof *slow);
  if (!slow)
    return MHD_NO;
  slow->srv = srv;
  slow->total = (uint64_t)bytes;
  struct MHD_Response *resp =
      MHD_create_response_from_callback((uint64_t)bytes, 1, read_trickle, slow, free);
  if (!resp) {
    free(slow);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result add_cookie(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
  char cookie[512];
  snprintf(cookie, sizeof cookie, "%s=%s; Path=/", key, value ? value : "");
  MHD_add_response_header(cls, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  return MHD_YES;
}

static enum MHD_Result route_cookie_set(struct MHD_Connection *conn) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen("cookies set"), (void *)"cookies set", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_cookie, resp);
  enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
  MHD_destroy_response(resp);
  return rc;
}

static enum MHD_Result route_cookie_get(struct MHD_Connection *conn) {
  const char *cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie");
  return reply_text(conn, 200, cookie ? cookie : "");
}

/* The CSRF token that belongs to a session id. */
static void csrf_for(const char *session, char *buf, size_t size) {
  snprintf(buf, size, "csrf-%s-%zu", session, strlen(session) * 7919u);
}

static enum MHD_Result login_form_page(struct uat_testserver *srv, struct MHD_Connection *conn) {
  char session[32], csrf[96], cookie[96], page[1024];
  snprintf(session, sizeof session, "s%u", atomic_fetch_add(&srv->sessions, 1) + 1);
  csrf_for(session, csrf, sizeof csrf);
  snprintf(cookie, sizeof cookie, "session=%s; Path=/; HttpOnly", session);
  snprintf(page, sizeof page,
           "<!DOCTYPE html><html><head><title>Log in</title></head><body>"
           "<form method=\"post\" action=\"/login\">"
           "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
           "<input name=\"user\"><input name=\"password\" type=\"password\">"
           "<button type=\"submit\">Log in</button></form></body></html>",
           csrf);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
  MHD_destroy_response(resp);
  return rc;
}

static void append_field(char *dst, size_t size, const char *data, uint64_t off, size_t len) {
  if (off >= size - 1)
    return;
  size_t n = len < size - 1 - off ? len : size - 1 - (size_t)off;
  memcpy(dst + off, data, n);
  dst[off + n] = '\0';
}

static enum MHD_Result collect_login_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *filename, const char *content_type,
                                           const char *transfer_encoding, const char *data,
                                           uint64_t off, size_t size) {
  struct login_form *form = cls;
  if (strcmp(key, "csrf") == 0)
    append_field(form->csrf, sizeof form->csrf, data, off, size);
  else if (strcmp(key, "user") == 0)
    append_field(form->user, sizeof form->user, data, off, size);
  else if (strcmp(key, "password") == 0)
    append_field(form->password, sizeof form->password, data, off, size);
  return MHD_YES;
}

static enum MHD_Result login_submit(struct MHD_Connection *conn, const struct request *req) {
  struct login_form form = {{0}, {0}, {0}};
  struct MHD_PostProcessor *pp = MHD_create_post_processor(conn, 4096, collect_login_field, &form);
  if (!pp)
    return reply_text(conn, 400, "the log-in form must be application/x-www-form-urlencoded");
  if (req->len)
    MHD_post_process(pp, req->body, req->len);
  MHD_destroy_post_processor(pp);
  const char *session = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "session");
  char expected[96];
  csrf_for(session ? session : "", expected, sizeof expected);
  if (!session || strcmp(form.csrf, expected) != 0)
    return reply_text(conn, 403, "bad csrf token");
  if (strcmp(form.user, VALID_USER) != 0 || strcmp(form.password, VALID_PASSWORD) != 0)
    return reply_text(conn, 403, "bad credentials");
  return reply_redirect(conn, 302, "/private", "auth=ok-" VALID_USER "; Path=/; HttpOnly");
}

static enum MHD_Result route_private(struct MHD_Connection *conn) {
  const char *auth = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "auth");
  if (!auth || strcmp(auth, "ok-" VALID_USER) != 0)
    return reply_redirect(conn, 302, "/login", NULL);
  return reply_text(conn, 200, "welcome " VALID_USER);
}

static enum MHD_Result route_auth(struct MHD_Connection *conn) {
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (auth && strcmp(auth, "Token secret-token") == 0)
    return reply_text(conn, 200, "authorized");
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen("unauthorized"), (void *)"unauthorized", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Token");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  enum MHD_Result rc = MHD_queue_response(conn, 401, resp);
  MHD_destroy_response(resp);
  return rc;
}

/* Counts one more request for key; false when the table of keys is full. */
static bool count_hit(struct uat_testserver *srv, const char *key, unsigned *out) {
  unsigned hits = 0;
  bool found = false;
  pthread_mutex_lock(&srv->flaky_lock);
  for (size_t i = 0; i < FLAKY_KEYS && !found; i++) {
    if (srv->flaky[i].key[0] == '\0')
      snprintf(srv->flaky[i].key, sizeof srv->flaky[i].key, "%s", key);
    if (strcmp(srv->flaky[i].key, key) == 0) {
      hits = ++srv->flaky[i].hits;
      found = true;
    }
  }
  pthread_mutex_unlock(&srv->flaky_lock);
  *out = hits;
  return found;
}

/* Counts requests per key, so a check can fail on its first attempts and pass on a retry. */
static enum MHD_Result route_flaky(struct uat_testserver *srv, struct MHD_Connection *conn) {
  const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
  const char *fail_text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fail");
  long fail = fail_text ? strtol(fail_text, NULL, 10) : 1;
  if (!key || !*key || strlen(key) >= sizeof srv->flaky[0].key)
    return reply_text(conn, 400, "flaky needs ?key=K (under 64 characters)");
  unsigned hits;
  if (!count_hit(srv, key, &hits))
    return reply_text(conn, 507, "flaky: too many keys");
  if ((long)hits <= fail) {
    char body[32];
    snprintf(body, sizeof body, "flaky %u", hits);
    return reply_text(conn, 503, body);
  }
  return reply_text(conn, 200, "steady");
}

/* A deploy rolling out, counted in requests (not time, so tests do not depend on the
 * machine's speed): the first N requests for key K see release A (503 without from=),
 * later ones release B. */
static enum MHD_Result route_deploy(struct uat_testserver *srv, struct MHD_Connection *conn) {
  const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
  const char *old_text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "old");
  const char *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
  const char *to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
  long old = old_text ? strtol(old_text, NULL, 10) : 0;
  if (!key || !*key || strlen(key) >= sizeof srv->flaky[0].key || !to)
    return reply_text(conn, 400, "deploy needs ?key=K (under 64 characters)&to=VERSION");
  unsigned hits;
  if (!count_hit(srv, key, &hits))
    return reply_text(conn, 507, "deploy: too many keys");
  const char *version = (long)hits <= old ? from : to;
  if (!version)
    return reply_text(conn, 503, "deploying");
  json_t *doc = json_pack("{s:s, s:{s:s}, s:I}", "version", version, "release", "version", version,
                          "requests", (json_int_t)hits);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (!text)
    return reply_text(conn, 500, "out of memory");
  enum MHD_Result rc = reply(conn, 200, "application/json", text, strlen(text));
  free(text);
  return rc;
}

static const char json_doc[] =
    "{\"name\":\"uatrun\",\"version\":1,\"items\":[1,2,3],\"nested\":{\"ok\":true},"
    "\"nothing\":null}";

static const char soup_doc[] =
    "<html><head><title>Soup</title><body>\n"
    "<div class=main><p>first paragraph<p>second <b>bold <i>both</b> italic</i>\n"
    "<ul><li>one<li>two<li>three</ul></span>\n"
    "<table><tr><td>cell<td>other</table>\n"
    "<a href=/next>next page<br></div></div>\n"
    "<input disabled value=x>";

static const char page_doc[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dashboard</title>"
    "</head><body>\n"
    "<nav id=\"menu\"><ul>"
    "<li><a href=\"/projects\">Projects</a></li>"
    "<li><a href=\"/tasks\">My Tasks</a></li>"
    "<li><a href=\"/agents/invitations\">Invitations</a></li>"
    "<li><a href=\"/agents\">Agents</a></li>"
    "</ul></nav>\n"
    "<main><h1>Dashboard</h1>"
    "<table id=\"tasks\"><tr><th>Task</th><th>State</th></tr>"
    "<tr><td>Map roads</td><td>open</td></tr><tr><td>Validate</td><td>done</td></tr></table>"
    "<p class=\"pager\"><a class=\"page-link\" href=\"/tasks?page=1\">1</a> "
    "<a class=\"page-link\" href=\"/tasks?page=2\">2</a></p>"
    "</main></body></html>\n";

static enum MHD_Result dispatch(struct uat_testserver *srv, struct MHD_Connection *conn,
                                const char *path, const char *method, const struct request *req) {
  if (req->too_big)
    return reply_text(conn, 413, "request body too large");
  if (strncmp(path, "/status/", 8) == 0)
    return route_status(conn, path + 8);
  if (strcmp(path, "/echo") == 0)
    return route_echo(conn, method, path, req);
  if (strcmp(path, "/headers") == 0)
    return reply_json(conn, 200, values_of(conn, MHD_HEADER_KIND));
  if (strcmp(path, "/json") == 0)
    return reply(conn, 200, "application/json", json_doc, strlen(json_doc));
  if (strcmp(path, "/notjson") == 0)
    return reply_text(conn, 200, "this is not json");
  if (strcmp(path, "/html/soup") == 0)
    return reply(conn, 200, "text/html", soup_doc, strlen(soup_doc));
  if (strcmp(path, "/html/page") == 0)
    return reply(conn, 200, "text/html; charset=utf-8", page_doc, strlen(page_doc));
  if (strncmp(path, "/redirect/", 10) == 0)
    return route_redirect(conn, path + 10);
  if (strcmp(path, "/redirect-to") == 0)
    return route_redirect_to(conn);
  if (strcmp(path, "/slow") == 0)
    return route_slow(srv, conn);
  if (strcmp(path, "/big") == 0)
    return route_big(srv, conn);
  if (strcmp(path, "/trickle") == 0)
    return route_trickle(srv, conn);
  if (strcmp(path, "/loop") == 0)
    return reply_redirect(conn, 302, "/loop", NULL);
  if (strcmp(path, "/cookie/set") == 0)
    return route_cookie_set(conn);
  if (strcmp(path, "/cookie/get") == 0)
    return route_cookie_get(conn);
  if (strcmp(path, "/login") == 0)
    return strcmp(method, "POST") == 0 ? login_submit(conn, req) : login_form_page(srv, conn);
  if (strcmp(path, "/private") == 0)
    return route_private(conn);
  if (strcmp(path, "/auth") == 0)
    return route_auth(conn);
  if (strcmp(path, "/flaky") == 0)
    return route_flaky(srv, conn);
  if (strcmp(path, "/deploy") == 0)
    return route_deploy(srv, conn);
  return reply_text(conn, 404, "not found");
}

static void append_upload(struct request *req, const char *data, size_t size) {
  if (req->too_big || size > MAX_UPLOAD - req->len) {
    req->too_big = true;
    return;
  }
  char *grown = realloc(req->body, req->len + size + 1);
  if (!grown) {
    req->too_big = true;
    return;
  }
  memcpy(grown + req->len, data, size);
  req->len += size;
  grown[req->len] = '\0';
  req->body = grown;
}

/* MHD calls this first with no data (we set up), then per chunk of upload, then once
 * more with nothing left: only then do we answer. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
  struct request *req = *req_cls;
  if (!req) {
    req = calloc(1, sizeof *req);
    if (!req)
      return MHD_NO;
    *req_cls = req;
    return MHD_YES;
  }
  if (*upload_data_size) {
    append_upload(req, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return dispatch(cls, conn, url, method, req);
}

static void request_done(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct request *req = *req_cls;
  if (req) {
    free(req->body);
    free(req);
    *req_cls = NULL;
  }
}

struct uat_testserver *uat_testserver_start(unsigned port, char *err, size_t err_size) {
  if (port > 65535) {
    if (err)
      snprintf(err, err_size, "port %u is out of range 0..65535", port);
    return NULL;
  }
  struct uat_testserver *srv = calloc(1, sizeof *srv);
  if (!srv) {
    if (err)
      snprintf(err, err_size, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&srv->flaky_lock, NULL);
  atomic_init(&srv->stopping, false);
  atomic_init(&srv->sessions, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
      (uint16_t)port, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_NOTIFY_COMPLETED, request_done, srv, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)30, MHD_OPTION_END);
  if (!srv->daemon) {
    if (err)
      snprintf(err, err_size, "cannot listen on 127.0.0.1:%u; is the port in use?", port);
    pthread_mutex_destroy(&srv->flaky_lock);
    free(srv);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = info ? info->port : port;
  return srv;
}

unsigned uat_testserver_port(const struct uat_testserver *server) {
  return server->port;
}

void uat_testserver_stop(struct uat_testserver *server) {
  if (!server)
    return;
  atomic_store(&server->stopping, true);
  MHD_stop_daemon(server->daemon);
  pthread_mutex_destroy(&server->flaky_lock);
  free(server);
}
