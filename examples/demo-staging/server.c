/* libmicrohttpd glue: per-connection state, urlencoded bodies through MHD's post processor,
 * routing to the demo apps, and turning a struct reply into an MHD response. */
#include "demo.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (64 * 1024)
#define MAX_FIELD 4096

struct conn_ctx {
  struct MHD_PostProcessor *pp;
  struct form form;
  size_t received;
  bool bad_body;
};

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size) {
  struct form *f = cls;
  size_t i = f->count;
  /* MHD hands long values over in pieces: off > 0 continues the last field. */
  if (off > 0 && i > 0 && strcmp(f->names[i - 1], key) == 0) {
    i--;
  } else {
    if (f->count == FORM_MAX_FIELDS) {
      f->too_big = true;
      return MHD_NO;
    }
    f->names[i] = strdup(key);
    f->values[i] = calloc(1, 1);
    f->lens[i] = 0;
    f->count++;
    if (!f->names[i] || !f->values[i]) {
      f->too_big = true;
      return MHD_NO;
    }
  }
  if (f->lens[i] + size > MAX_FIELD) {
    f->too_big = true;
    return MHD_NO;
  }
  char *v = realloc(f->values[i], f->lens[i] + size + 1);
  if (!v) {
    f->too_big = true;
    return MHD_NO;
  }
  memcpy(v + f->lens[i], data, size);
  f->lens[i] += size;
  v[f->lens[i]] = '\0';
  f->values[i] = v;
  return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
  struct conn_ctx *ctx = *con_cls;
  if (!ctx)
    return;
  if (ctx->pp)
    MHD_destroy_post_processor(ctx->pp);
  for (size_t i = 0; i < ctx->form.count; i++) {
    free(ctx->form.names[i]);
    free(ctx->form.values[i]);
  }
  free(ctx);
  *con_cls = NULL;
}

/* Splits the (already unescaped) path into segments; false when too long or too deep. */
static bool split_path(struct request *r, const char *url) {
  size_t n = strlen(url);
  if (n >= sizeof r->segbuf)
    return false;
  memcpy(r->segbuf, url, n + 1);
  r->nseg = 0;
  char *p = r->segbuf;
  while (*p) {
    while (*p == '/')
      *p++ = '\0';
    if (!*p)
      break;
    if (r->nseg == REQ_MAX_SEGS)
      return false;
    r->seg[r->nseg++] = p;
    while (*p && *p != '/')
      p++;
  }
  return true;
}

static void demo_routes(struct demo *d, const struct request *r, struct reply *rep) {
  if (r->nseg == 2 && req_seg(r, 1, "reset") && req_is(r, "POST")) {
    rdv_state_reset(d->rdv);
    reply_json(rep, 200, json_pack("{s:b}", "reset", 1));
  } else if (r->nseg == 1 && req_is(r, "GET")) {
    json_t *breaks = json_array();
    for (size_t i = 0; breaks && i < demo_break_count; i++)
      if (demo_broken(d, demo_breaks[i].bit))
        json_array_append_new(breaks, json_string(demo_breaks[i].name));
    reply_json(rep, 200, json_pack("{s:s, s:o}", "release", demo_release_now(d), "breaks", breaks));
  } else {
    reply_json(rep, 404, json_pack("{s:s}", "error", "unknown demo route"));
  }
}

double demo_clock_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool rolled_out(const struct demo *d) {
  return d->deploy_after_s <= 0 || demo_clock_s() - d->started_s >= d->deploy_after_s;
}

const char *demo_release_now(const struct demo *d) {
  return rolled_out(d) ? d->release : d->previous_release;
}

const char *demo_commit_now(const struct demo *d) {
  return rolled_out(d) ? d->commit : d->previous_commit;
}

/* GET /api/version: what a deploy pipeline polls (uatrun's target.build). */
static void version_route(const struct demo *d, const struct request *r, struct reply *rep) {
  if (!req_is(r, "GET") && !req_is(r, "HEAD")) {
    rep->allow = "GET, HEAD";
    reply_json(rep, 405, json_pack("{s:s}", "error", "method not allowed"));
    return;
  }
  reply_json(rep, 200,
             json_pack("{s:s, s:s, s:s}", "version", demo_release_now(d), "commit",
                       demo_commit_now(d), "environment", "staging"));
}

static void not_found(const struct demo *d, struct reply *rep) {
  reply_html_start(rep, 404);
  html_open(&rep->body, "Page not found", "tm", NULL);
  buf_add(&rep->body, "<main id=\"not-found\"><h1>Page not found</h1>"
                      "<p><a href=\"/\">Home</a></p></main>\n");
  html_close(&rep->body, d);
}

/* The stylesheets the pages link and the browser's favicon request: served, so a browser
 * check sees no "failed to load resource" console error that the real sites would not give. */
static bool static_routes(const struct request *r, struct reply *rep) {
  if (!req_is(r, "GET"))
    return false;
  if (r->nseg == 1 && req_seg(r, 0, "favicon.ico")) {
    rep->status = 204;
    return true;
  }
  if (r->nseg == 2 && req_seg(r, 0, "assets") &&
      (req_seg(r, 1, "tm.css") || req_seg(r, 1, "rdv.css"))) {
    rep->status = 200;
    rep->content_type = "text/css; charset=utf-8";
    buf_add(&rep->body, "body{font-family:sans-serif;margin:0 auto;max-width:60em;padding:0 1em}\n"
                        "nav ul{display:inline-flex;gap:1em;list-style:none}\n"
                        ".paginator-btn[aria-current=page]{font-weight:bold}\n");
    return true;
  }
  return false;
}

static void route(struct demo *d, const struct request *r, struct reply *rep) {
  if (static_routes(r, rep))
    return;
  if (req_seg(r, 0, "__demo"))
    demo_routes(d, r, rep);
  else if (r->nseg == 2 && req_seg(r, 0, "api") && req_seg(r, 1, "version"))
    version_route(d, r, rep);
  else if (!tm_api_route(d, r, rep) && !rdv_route(d, r, rep) && !tm_pages_route(d, r, rep))
    not_found(d, rep);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct reply *rep) {
  if (rep->body.failed) {
    buf_free(&rep->body);
    rep->body.failed = false;
    rep->status = 500;
    rep->content_type = "text/plain; charset=utf-8";
    buf_add(&rep->body, "internal error: out of memory\n");
  }
  struct MHD_Response *resp;
  if (rep->body.len)
    resp = MHD_create_response_from_buffer(rep->body.len, rep->body.data, MHD_RESPMEM_MUST_FREE);
  else
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  if (rep->body.len)
    rep->body.data = NULL; /* the response owns it now */
  bool ok =
      MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                              rep->content_type ? rep->content_type : "text/plain") == MHD_YES &&
      MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
  if (ok && rep->location)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location) == MHD_YES;
  if (ok && rep->allow)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow) == MHD_YES;
  if (ok && rep->set_cookie)
    ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, rep->set_cookie) == MHD_YES;
  enum MHD_Result res = ok ? MHD_queue_response(conn, rep->status, resp) : MHD_NO;
  MHD_destroy_response(resp);
  return res;
}

static void reply_plain(struct reply *rep, unsigned status, const char *text) {
  rep->status = status;
  rep->content_type = "text/plain; charset=utf-8";
  buf_add(&rep->body, text);
}

/* One line per request on stderr; control characters from the unescaped path become '?'. */
static void log_request(const char *method, const char *url, unsigned status) {
  char clean[256];
  size_t n = 0;
  for (const char *p = url; *p && n < sizeof clean - 1; p++)
    clean[n++] = (unsigned char)*p < ' ' || *p == 127 ? '?' : *p;
  clean[n] = '\0';
  fprintf(stderr, "%s %s -> %u\n", method, clean, status);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  struct demo *d = cls;
  struct conn_ctx *ctx = *con_cls;
  if (!ctx) {
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
      return MHD_NO;
    *con_cls = ctx;
    /* NULL for bodies that are not form-encoded: those fields are simply absent. */
    if (strcmp(method, "POST") == 0)
      ctx->pp = MHD_create_post_processor(conn, 8192, post_field, &ctx->form);
    return MHD_YES;
  }
  if (*upload_data_size) {
    ctx->received += *upload_data_size;
    if (ctx->received > MAX_BODY)
      ctx->bad_body = true;
    else if (ctx->pp && !ctx->bad_body &&
             MHD_post_process(ctx->pp, upload_data, *upload_data_size) != MHD_YES)
      ctx->bad_body = true;
    *upload_data_size = 0;
    return MHD_YES;
  }
  struct reply rep = {.status = 200};
  struct request r = {.conn = conn, .method = method, .url = url, .form = &ctx->form};
  if (ctx->bad_body || ctx->form.too_big)
    reply_plain(&rep, 413, "request body too large or malformed\n");
  else if (!split_path(&r, url))
    reply_plain(&rep, 414, "request path too long\n");
  else
    route(d, &r, &rep);
  if (d->verbose)
    log_request(method, url, rep.status);
  enum MHD_Result res = send_reply(conn, &rep);
  buf_free(&rep.body);
  free(rep.location);
  free(rep.set_cookie);
  return res;
}

struct MHD_Daemon *demo_server_start(struct demo *d, unsigned port, unsigned *bound_port) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
      NULL, handle, d, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
      (unsigned int)4, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned int)256, MHD_OPTION_END);
  if (!daemon)
    return NULL;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  *bound_port = info ? info->port : port;
  return daemon;
}
