/* Tasking Manager frontend: like the real single-page app, every page of the app gets the
 * same empty HTML shell; js/tm-app.js (embedded at build time) renders it in the browser from
 * its own API calls. /config.js tells the script the release and which regressions --break
 * injected, so those live in the JavaScript, as they did in 4.6.2. */
#include "tm.h"

#include <stdlib.h>
#include <string.h>

/* js/tm-app.js, embedded by CMake (embed_js.cmake). */
extern const unsigned char tm_app_js[];
extern const size_t tm_app_js_len;

static void shell_page(struct reply *rep) {
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  buf_add(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<title>Tasking Manager</title>\n<link rel=\"stylesheet\" href=\"/assets/tm.css\">\n"
             "<script src=\"/config.js\"></script>\n"
             "<script src=\"/static/js/tm-app.js\" defer></script>\n</head>\n"
             "<body class=\"app-tm\">\n"
             "<noscript>You need to enable JavaScript to run this app.</noscript>\n"
             "<div id=\"root\"></div>\n</body>\n</html>\n");
}

static void config_js(const struct demo *d, struct reply *rep) {
  json_t *breaks = json_array();
  for (size_t i = 0; i < demo_break_count; i++)
    if (demo_broken(d, demo_breaks[i].bit))
      json_array_append_new(breaks, json_string(demo_breaks[i].name));
  json_t *cfg = json_pack("{s:s, s:o}", "release", d->release, "breaks", breaks);
  /* JSON_ESCAPE_SLASH: a release text holding "</script>" stays inert */
  char *text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_ESCAPE_SLASH) : NULL;
  json_decref(cfg);
  rep->status = 200;
  rep->content_type = "text/javascript; charset=utf-8";
  if (!text) {
    rep->body.failed = true;
    return;
  }
  buf_add(&rep->body, "window.TM_CONFIG = ");
  buf_add(&rep->body, text);
  buf_add(&rep->body, ";\n");
  free(text);
}

static bool tm_app_path(const struct request *r) {
  if (r->nseg == 0)
    return true;
  if (r->nseg == 1)
    return req_seg(r, 0, "explore") || req_seg(r, 0, "login");
  if (req_seg(r, 0, "users"))
    return r->nseg == 2;
  if (req_seg(r, 0, "contributions"))
    return r->nseg == 2 && req_seg(r, 1, "tasks");
  long id, task;
  if (!req_seg(r, 0, "projects") || !req_id(r, 1, &id))
    return false;
  return r->nseg == 2 || (r->nseg == 3 && req_seg(r, 2, "questions")) ||
         (r->nseg == 4 && req_seg(r, 2, "tasks") && req_id(r, 3, &task));
}

bool tm_pages_route(const struct demo *d, const struct request *r, struct reply *rep) {
  if (!req_is(r, "GET"))
    return false;
  if (r->nseg == 1 && req_seg(r, 0, "config.js")) {
    config_js(d, rep);
    return true;
  }
  if (r->nseg == 3 && req_seg(r, 0, "static") && req_seg(r, 1, "js") &&
      req_seg(r, 2, "tm-app.js")) {
    rep->status = 200;
    rep->content_type = "text/javascript; charset=utf-8";
    buf_addn(&rep->body, (const char *)tm_app_js, tm_app_js_len);
    return true;
  }
  if (!tm_app_path(r))
    return false;
  shell_page(rep);
  return true;
}
