/* The sign-off page's server: libmicrohttpd parses requests, cookies and form bodies
 * (MHD_create_post_processor); this file decides who is asking, checks the CSRF token of
 * every POST, sets the security headers and routes to the app. */
#include "serve/serve.h"

#include "report/report_text.h"
#include "util/fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SESSION_COOKIE "uatrun_session"
#define LOGIN_COOKIE "uatrun_login"
#define SESSION_TTL_S (8 * 3600)
#define LOGIN_TTL_S 600
#define FIELD_MAX 8192
#define BODY_MAX (32 * 1024)
#define ARTIFACT_MAX (16u << 20)

static const char CSP[] = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                          "form-action 'self'; frame-ancestors 'none'";

struct uat_server {
  const struct uat_serve_config *cfg;
  const struct uat_serve_app *app;
  struct MHD_Daemon *daemon;
  struct uat_sessions sessions; /* signed-in people */
  struct uat_sessions logins;   /* login forms handed out: their CSRF tokens */
  struct uat_throttle throttle; /* names with recent wrong passwords */
  bool throttle_ready;
  char url[96];
};

/* A form body's fields, filled by the post processor. */
enum field { F_CSRF, F_ITEM, F_ACTION, F_NOTE, F_USER, F_PASSWORD, F_COUNT };
static const char *const field_names[F_COUNT] = {"csrf", "item", "action",
                                                 "note", "user", "password"};

struct request {
  struct MHD_PostProcessor *pp;
  struct uat_strbuf fields[F_COUNT];
  size_t body;
  bool too_big;
};

static int64_t now_s(void) {
  return (int64_t)time(NULL);
}

/* ---------- listening ---------- */

int uat_serve_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                           struct uat_error *err) {
  char host[256];
  const char *colon = strrchr(text, ':');
  const char *h = text;
  size_t hlen = colon ? (size_t)(colon - text) : 0;
  if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
    h++;
    hlen -= 2;
  }
  char *end;
  long port = colon ? strtol(colon + 1, &end, 10) : -1;
  if (!colon || hlen == 0 || hlen >= sizeof host || !colon[1] || *end || port < 0 || port > 65535)
    return uat_error_set(err,
                         "--listen '%s' is not HOST:PORT; write it as 127.0.0.1:8642 or "
                         "[::1]:8642",
                         text);
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  char service[8];
  snprintf(service, sizeof service, "%ld", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc != 0 || !res)
    return uat_error_set(err,
                         "--listen '%s': cannot resolve '%s' (%s); give an address such "
                         "as 127.0.0.1",
                         text, host, gai_strerror(rc));
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static int bind_socket(const char *listen_text, int *fd_out, char *url, size_t urlsize,
                       struct uat_error *err) {
  struct sockaddr_storage addr;
  socklen_t len;
  if (uat_serve_parse_listen(listen_text, &addr, &len, err) != 0)
    return -1;
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, (struct sockaddr *)&addr, len) != 0 || listen(fd, 64) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    if (e == EADDRINUSE)
      return uat_error_set(err,
                           "cannot listen on %s: the port is already in use; stop what uses it "
                           "or choose another with --listen HOST:PORT",
                           listen_text);
    if (e == EADDRNOTAVAIL)
      return uat_error_set(err,
                           "cannot listen on %s: no network interface of this machine has that "
                           "address; give one it has with --listen HOST:PORT (such as 127.0.0.1)",
                           listen_text);
    return uat_error_set(err, "cannot listen on %s: %s%s", listen_text, strerror(e),
                         e == EACCES ? " (ports below 1024 need privileges; choose another "
                                       "with --listen HOST:PORT)"
                                     : "");
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
  if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
    getnameinfo((struct sockaddr *)&bound, blen, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
  bool v6 = bound.ss_family == AF_INET6;
  snprintf(url, urlsize, "http://%s%s%s:%s/", v6 ? "[" : "", host, v6 ? "]" : "", port);
  *fd_out = fd;
  return 0;
}

/* ---------- responses ---------- */

/* Whether the browser reached us over TLS: only a trusted proxy can say so. */
static bool peer_trusted(const struct uat_server *s, struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  for (size_t i = 0; info && i < s->cfg->ntrusted; i++)
    if (uat_cidr_contains(&s->cfg->trusted[i], info->client_addr))
      return true;
  return false;
}

static bool over_tls(const struct uat_server *s, struct MHD_Connection *c) {
  const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
  return proto && strcmp(proto, "https") == 0 && peer_trusted(s, c);
}

static void security_headers(struct MHD_Response *r) {
  MHD_add_response_header(r, "Content-Security-Policy", CSP);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* "NAME=VALUE; Path=/; HttpOnly; SameSite=Strict[; Secure]"; an empty value clears it. */
static void set_cookie(const struct uat_server *s, struct MHD_Connection *c, struct MHD_Response *r,
                       const char *name, const char *value) {
  char line[256];
  snprintf(line, sizeof line, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value,
           over_tls(s, c) ? "; Secure" : "", *value ? "" : "; Max-Age=0");
  MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, line);
}

struct cookie {
  const char *name, *value;
};

/* Every response leaves through here: the security headers and the cookies, then queued. */
static enum MHD_Result queue(const struct uat_server *s, struct MHD_Connection *c,
                             struct MHD_Response *r, unsigned status, const struct cookie *cookies,
                             size_t ncookies) {
  security_headers(r);
  for (size_t i = 0; i < ncookies; i++)
    set_cookie(s, c, r, cookies[i].name, cookies[i].value);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_body(const struct uat_server *s, struct MHD_Connection *c,
                                 unsigned status, const char *type, void *body, size_t len,
                                 const struct cookie *cookies, size_t ncookies) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  return queue(s, c, r, status, cookies, ncookies);
}

static enum MHD_Result send_html(const struct uat_server *s, struct MHD_Connection *c,
                                 unsigned status, struct uat_strbuf *html,
                                 const struct cookie *cookies, size_t ncookies) {
  size_t len = html->len;
  char *body = uat_strbuf_take(html);
  return send_body(s, c, status, "text/html; charset=utf-8", body, len, cookies, ncookies);
}

static enum MHD_Result send_message(const struct uat_server *s, struct MHD_Connection *c,
                                    unsigned status, const struct uat_page_who *who,
                                    const char *title, const char *message) {
  struct uat_strbuf html;
  uat_strbuf_init(&html, 0);
  if (uat_page_message(&html, who, title, message) != 0) {
    uat_strbuf_release(&html);
    return MHD_NO;
  }
  return send_html(s, c, status, &html, NULL, 0);
}

static enum MHD_Result redirect(const struct uat_server *s, struct MHD_Connection *c,
                                const char *to, const struct cookie *cookies, size_t ncookies) {
  struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, to);
  return queue(s, c, r, MHD_HTTP_SEE_OTHER, cookies, ncookies);
}

/* ---------- who is asking ---------- */

struct identity {
  struct uat_session_entry session;
  bool new_session; /* the cookie must be set on the answer */
};

/* --auth header:NAME: the proxy's header, only from a --trusted-proxy address; the session
 * carries the CSRF token and must belong to the same person. 0, or the HTTP status and
 * message of the refusal. */
static unsigned header_identity(struct uat_server *s, struct MHD_Connection *c, struct identity *id,
                                const char **why) {
  if (!peer_trusted(s, c)) {
    *why = "this page takes identities only from its trusted proxy (--trusted-proxy), and this "
           "request came from another address; open the page through the proxy";
    return MHD_HTTP_FORBIDDEN;
  }
  const char *user = MHD_lookup_connection_value(c, MHD_HEADER_KIND, s->cfg->header);
  if (!user || !*user || strlen(user) >= UAT_USER_MAX || !uat_report_text_is_line(user)) {
    *why = "the proxy sent no usable identity header; check its authentication set-up";
    return MHD_HTTP_FORBIDDEN;
  }
  const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
  if (uat_sessions_find(&s->sessions, cookie, now_s(), &id->session) &&
      strcmp(id->session.user, user) == 0)
    return 0;
  char sid[UAT_TOKEN_HEX], csrf[UAT_TOKEN_HEX];
  if (uat_sessions_create(&s->sessions, user, now_s(), sid, csrf) != 0 ||
      !uat_sessions_find(&s->sessions, sid, now_s(), &id->session)) {
    *why = "cannot start a session (no random bytes); try again";
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
  id->new_session = true;
  return 0;
}

/* 0 when someone is signed in (id filled); else the HTTP status of the refusal, 303 meaning
 * "go to /login". */
static unsigned identify(struct uat_server *s, struct MHD_Connection *c, struct identity *id,
                         const char **why) {
  memset(id, 0, sizeof *id);
  if (s->cfg->auth == UAT_SERVE_HEADER)
    return header_identity(s, c, id, why);
  const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, SESSION_COOKIE);
  if (uat_sessions_find(&s->sessions, cookie, now_s(), &id->session))
    return 0;
  *why = "you are not signed in (or your session ended): sign in again";
  return MHD_HTTP_SEE_OTHER;
}

static const char *field(const struct request *rq, enum field f) {
  return rq->fields[f].buf ? rq->fields[f].buf : "";
}

/* ---------- routes ---------- */

/* The sign-in form. A browser that already holds a live form token keeps it: a second
 * request for the form (another tab, a favicon redirected here) must not void the first. */
static enum MHD_Result login_form(struct uat_server *s, struct MHD_Connection *c, unsigned status,
                                  const char *message, bool reuse) {
  const char *held = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, LOGIN_COOKIE);
  struct uat_session_entry form;
  if (!reuse || !uat_sessions_find(&s->logins, held, now_s(), &form)) {
    if (uat_sessions_create(&s->logins, "", now_s(), form.id, form.csrf) != 0)
      return send_message(s, c, 500, NULL, "Error", "cannot start a session; try again");
  }
  struct uat_strbuf html;
  uat_strbuf_init(&html, 0);
  if (uat_page_login(&html, form.csrf, message) != 0) {
    uat_strbuf_release(&html);
    return MHD_NO;
  }
  struct cookie ck = {LOGIN_COOKIE, form.id};
  return send_html(s, c, status, &html, &ck, 1);
}

/* POST /login: the login form's own CSRF token, then the password; a new session id on
 * success (never one the browser had before: no session fixation). */
static enum MHD_Result login(struct uat_server *s, struct MHD_Connection *c, struct request *rq) {
  if (s->cfg->auth != UAT_SERVE_HTPASSWD)
    return redirect(s, c, "/", NULL, 0);
  const char *lid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, LOGIN_COOKIE);
  struct uat_session_entry form;
  if (!uat_sessions_find(&s->logins, lid, now_s(), &form) ||
      !uat_token_equal(form.csrf, field(rq, F_CSRF)))
    return login_form(s, c, MHD_HTTP_FORBIDDEN,
                      "the sign-in form was too old or not from this page; try again", false);
  uat_sessions_remove(&s->logins, lid);
  const char *user = field(rq, F_USER);
  if (strlen(user) >= UAT_USER_MAX)
    return login_form(s, c, MHD_HTTP_FORBIDDEN, "wrong user name or password", false);
  int64_t wait = uat_throttle_wait(&s->throttle, user, now_s());
  if (wait > 0) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "too many wrong passwords for this name: try again in %lld seconds (or ask whoever "
             "keeps the htpasswd file)",
             (long long)wait);
    return login_form(s, c, MHD_HTTP_TOO_MANY_REQUESTS, msg, false);
  }
  if (!uat_htpasswd_check(s->cfg->htpasswd, user, field(rq, F_PASSWORD))) {
    uat_throttle_failed(&s->throttle, user, now_s());
    return login_form(s, c, MHD_HTTP_FORBIDDEN, "wrong user name or password", false);
  }
  uat_throttle_succeeded(&s->throttle, user);
  char sid[UAT_TOKEN_HEX], csrf[UAT_TOKEN_HEX];
  if (uat_sessions_create(&s->sessions, user, now_s(), sid, csrf) != 0)
    return send_message(s, c, 500, NULL, "Error", "cannot start a session; try again");
  struct cookie cks[] = {{SESSION_COOKIE, sid}, {LOGIN_COOKIE, ""}};
  return redirect(s, c, "/", cks, 2);
}

static struct uat_page_who who_of(const struct uat_server *s, const struct identity *id) {
  return (struct uat_page_who){.user = id->session.user,
                               .csrf = id->session.csrf,
                               .can_logout = s->cfg->auth == UAT_SERVE_HTPASSWD};
}

static enum MHD_Result release_page(struct uat_server *s, struct MHD_Connection *c,
                                    const struct identity *id, unsigned status, const char *flash,
                                    bool flash_ok) {
  struct uat_page_who who = who_of(s, id);
  struct uat_strbuf html;
  uat_strbuf_init(&html, 0);
  int got = s->app->release_page(s->app->data, &who, flash, flash_ok, &html);
  struct cookie ck = {SESSION_COOKIE, id->session.id};
  return send_html(s, c, got == 200 ? status : (unsigned)got, &html, &ck, id->new_session);
}

static enum MHD_Result status_page(struct uat_server *s, struct MHD_Connection *c,
                                   const struct identity *id) {
  struct uat_page_who who = who_of(s, id);
  struct uat_strbuf html;
  uat_strbuf_init(&html, 0);
  int got = s->app->status_page(s->app->data, &who, &html);
  struct cookie ck = {SESSION_COOKIE, id->session.id};
  return send_html(s, c, (unsigned)got, &html, &ck, id->new_session);
}

static enum MHD_Result decide(struct uat_server *s, struct MHD_Connection *c,
                              const struct identity *id, struct request *rq) {
  const char *action = field(rq, F_ACTION);
  struct uat_page_who who = who_of(s, id);
  if (strcmp(action, "approve") != 0 && strcmp(action, "reject") != 0)
    return send_message(s, c, MHD_HTTP_BAD_REQUEST, &who, "Not recorded",
                        "say what you decide: approve or reject");
  struct uat_serve_decision d = {.item = field(rq, F_ITEM),
                                 .approve = strcmp(action, "approve") == 0,
                                 .note = field(rq, F_NOTE)};
  struct uat_strbuf msg;
  uat_strbuf_init(&msg, 0);
  int status = s->app->decide(s->app->data, id->session.user, &d, &msg);
  enum MHD_Result ret =
      release_page(s, c, id, (unsigned)status, msg.buf ? msg.buf : "", status == 200);
  uat_strbuf_release(&msg);
  return ret;
}

static enum MHD_Result logout(struct uat_server *s, struct MHD_Connection *c,
                              const struct identity *id) {
  uat_sessions_remove(&s->sessions, id->session.id);
  struct cookie ck = {SESSION_COOKIE, ""};
  return redirect(s, c, "/login", &ck, 1);
}

static enum MHD_Result artifact(struct uat_server *s, struct MHD_Connection *c,
                                const struct identity *id, const char *rest) {
  char *end;
  errno = 0;
  unsigned long n = strtoul(rest, &end, 10);
  char *path = (*rest && !*end && !errno && s->app->artifact_path)
                   ? s->app->artifact_path(s->app->data, (size_t)n)
                   : NULL;
  struct uat_page_who who = who_of(s, id);
  if (!path)
    return send_message(s, c, MHD_HTTP_NOT_FOUND, &who, "Not found", "no such artifact");
  size_t len = 0;
  struct uat_error err;
  char *data = uat_file_read(path, ARTIFACT_MAX, &len, &err);
  size_t plen = strlen(path);
  bool png = plen > 4 && strcmp(path + plen - 4, ".png") == 0;
  free(path);
  if (!data)
    return send_message(s, c, MHD_HTTP_NOT_FOUND, &who, "Not found",
                        "the artifact can no longer be read");
  /* Saved page HTML is shown as text: it came from staging, and must not run here. */
  return send_body(s, c, 200, png ? "image/png" : "text/plain; charset=utf-8", data, len, NULL, 0);
}

/* Routes that need someone signed in. */
static enum MHD_Result signed_in_route(struct uat_server *s, struct MHD_Connection *c,
                                       const char *url, bool post, struct request *rq) {
  struct identity id;
  const char *why = "";
  unsigned refused = identify(s, c, &id, &why);
  bool page = strcmp(url, "/") == 0 || strcmp(url, "/status") == 0;
  if (refused == MHD_HTTP_SEE_OTHER && !post && page)
    return redirect(s, c, "/login", NULL, 0);
  if (refused)
    return send_message(s, c, refused == MHD_HTTP_SEE_OTHER ? MHD_HTTP_FORBIDDEN : refused, NULL,
                        "Refused", why);
  if (post && (id.new_session || !uat_token_equal(id.session.csrf, field(rq, F_CSRF)))) {
    struct uat_page_who who = who_of(s, &id);
    return send_message(s, c, MHD_HTTP_FORBIDDEN, &who, "Refused",
                        "the form's security token is missing or wrong (an old page, or a "
                        "form from another site); reload the page and try again");
  }
  if (!post && strcmp(url, "/") == 0)
    return release_page(s, c, &id, 200, NULL, false);
  if (!post && strcmp(url, "/status") == 0)
    return status_page(s, c, &id);
  if (!post && strncmp(url, "/artifact/", 10) == 0)
    return artifact(s, c, &id, url + 10);
  if (post && strcmp(url, "/decide") == 0)
    return decide(s, c, &id, rq);
  if (post && strcmp(url, "/logout") == 0)
    return logout(s, c, &id);
  struct uat_page_who who = who_of(s, &id);
  return send_message(s, c, MHD_HTTP_NOT_FOUND, &who, "Not found", "there is no such page");
}

static enum MHD_Result route(struct uat_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, struct request *rq) {
  bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
  if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
      strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    return send_message(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "Not allowed",
                        "this page answers GET and POST only");
  if (post && rq->too_big)
    return send_message(s, c, 413, NULL, "Too large",
                        "the form is too large; keep notes under 2000 characters");
  if (post && !rq->pp)
    return send_message(s, c, MHD_HTTP_BAD_REQUEST, NULL, "Bad request",
                        "expected a form (application/x-www-form-urlencoded)");
  if (!post && strcmp(url, "/style.css") == 0) {
    char *css = strdup(uat_serve_css);
    return css ? send_body(s, c, 200, "text/css; charset=utf-8", css, strlen(css), NULL, 0)
               : MHD_NO;
  }
  if (!post && strcmp(url, "/favicon.ico") == 0) /* browsers ask; there is none */
    return send_body(s, c, MHD_HTTP_NO_CONTENT, "image/x-icon", NULL, 0, NULL, 0);
  if (strcmp(url, "/login") == 0 && s->cfg->auth == UAT_SERVE_HTPASSWD)
    return post ? login(s, c, rq) : login_form(s, c, 200, NULL, true);
  return signed_in_route(s, c, url, post, rq);
}

/* ---------- libmicrohttpd callbacks ---------- */

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size) {
  struct request *rq = cls;
  for (int f = 0; f < F_COUNT; f++)
    if (strcmp(key, field_names[f]) == 0) {
      if (rq->fields[f].len + size >= FIELD_MAX) {
        rq->too_big = true;
        return MHD_NO;
      }
      /* An empty value still makes the field present (""), as a form sends it. */
      if (uat_strbuf_add(&rq->fields[f], data ? data : "", size) != 0 ||
          uat_strbuf_adds(&rq->fields[f], "") != 0)
        return MHD_NO;
    }
  return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  struct uat_server *s = cls;
  struct request *rq = *con_cls;
  if (!rq) {
    if (!(rq = calloc(1, sizeof *rq)))
      return MHD_NO;
    for (int f = 0; f < F_COUNT; f++)
      uat_strbuf_init(&rq->fields[f], FIELD_MAX);
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
      rq->pp = MHD_create_post_processor(c, 4096, collect, rq);
    *con_cls = rq;
    return MHD_YES;
  }
  if (*upload_data_size) {
    rq->body += *upload_data_size;
    if (rq->body > BODY_MAX)
      rq->too_big = true;
    if (rq->pp && !rq->too_big)
      MHD_post_process(rq->pp, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return route(s, c, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  struct request *rq = *con_cls;
  if (!rq)
    return;
  if (rq->pp)
    MHD_destroy_post_processor(rq->pp);
  for (int f = 0; f < F_COUNT; f++) {
    if (rq->fields[f].buf) /* a password may be among them */
      memset(rq->fields[f].buf, 0, rq->fields[f].len);
    uat_strbuf_release(&rq->fields[f]);
  }
  free(rq);
  *con_cls = NULL;
}

int uat_server_start(const struct uat_serve_config *cfg, const struct uat_serve_app *app,
                     struct uat_server **out, struct uat_error *err) {
  *out = NULL;
  struct uat_server *s = calloc(1, sizeof *s);
  if (!s)
    return uat_error_set(err, "cannot start the sign-off page: out of memory");
  s->cfg = cfg;
  s->app = app;
  int fd = -1;
  if (uat_sessions_init(&s->sessions, 1024, SESSION_TTL_S) != 0 ||
      uat_sessions_init(&s->logins, 256, LOGIN_TTL_S) != 0 ||
      !(s->throttle_ready = uat_throttle_init(&s->throttle) == 0)) {
    uat_server_stop(s);
    return uat_error_set(err, "cannot start the sign-off page: out of memory");
  }
  if (bind_socket(cfg->listen, &fd, s->url, sizeof s->url, err) != 0) {
    uat_server_stop(s);
    return -1;
  }
  s->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)4,
      MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)128, MHD_OPTION_END);
  if (!s->daemon) {
    close(fd);
    uat_server_stop(s);
    return uat_error_set(err, "cannot start the sign-off page on %s (libmicrohttpd refused)",
                         cfg->listen);
  }
  *out = s;
  return 0;
}

const char *uat_server_url(const struct uat_server *s) {
  return s->url;
}

void uat_server_stop(struct uat_server *s) {
  if (!s)
    return;
  if (s->daemon)
    MHD_stop_daemon(s->daemon); /* closes the listening socket too */
  uat_sessions_release(&s->sessions);
  uat_sessions_release(&s->logins);
  if (s->throttle_ready)
    uat_throttle_release(&s->throttle);
  free(s);
}
