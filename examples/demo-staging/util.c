/* Buffers, request accessors, replies and the page chrome shared by both demo apps. */
#include "demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct demo_break_name demo_breaks[] = {
    {"auth-token", BREAK_AUTH_TOKEN,
     "pages fetch private/draft projects without the user's token (API stays correct)"},
    {"labels", BREAK_LABELS, "profile level label computed from tasks mapped, not changesets"},
    {"mentions", BREAK_MENTIONS, "Q&A @mention suggestion list is empty"},
    {"contributors", BREAK_CONTRIBUTORS, "every task's comment box offers task 1's contributors"},
    {"pagination", BREAK_PAGINATION, "My Tasks renders no paginator"},
    {"menu", BREAK_MENU, "agents and invitations entries gone from the settings menu"},
    {"access-rights", BREAK_ACCESS_RIGHTS,
     "inviting an agent drops their access rights on other territories"},
};
const size_t demo_break_count = sizeof demo_breaks / sizeof demo_breaks[0];

static bool break_lookup(const char *name, size_t n, unsigned *bits) {
  if (n == 3 && memcmp(name, "all", 3) == 0) {
    for (size_t i = 0; i < demo_break_count; i++)
      *bits |= demo_breaks[i].bit;
    return true;
  }
  for (size_t i = 0; i < demo_break_count; i++) {
    if (strlen(demo_breaks[i].name) == n && memcmp(demo_breaks[i].name, name, n) == 0) {
      *bits |= demo_breaks[i].bit;
      return true;
    }
  }
  return false;
}

bool demo_breaks_parse(const char *list, unsigned *bits, char *bad, size_t bad_size) {
  const char *p = list;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *start = p;
    while (*p && *p != ',')
      p++;
    const char *end = p;
    while (end > start && end[-1] == ' ')
      end--;
    if (end > start && !break_lookup(start, (size_t)(end - start), bits)) {
      snprintf(bad, bad_size, "%.*s", (int)(end - start), start);
      return false;
    }
  }
  return true;
}

static bool buf_reserve(struct buf *b, size_t extra) {
  if (b->failed)
    return false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void buf_addn(struct buf *b, const char *s, size_t n) {
  if (!buf_reserve(b, n))
    return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void buf_add(struct buf *b, const char *s) {
  buf_addn(b, s, strlen(s));
}

void buf_addf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !buf_reserve(b, (size_t)n)) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void buf_add_html(struct buf *b, const char *s) {
  for (const char *p = s; *p; p++) {
    switch (*p) {
    case '&':
      buf_add(b, "&amp;");
      break;
    case '<':
      buf_add(b, "&lt;");
      break;
    case '>':
      buf_add(b, "&gt;");
      break;
    case '"':
      buf_add(b, "&quot;");
      break;
    case '\'':
      buf_add(b, "&#39;");
      break;
    default:
      buf_addn(b, p, 1);
    }
  }
}

void buf_add_url(struct buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      buf_addn(b, (const char *)p, 1);
    } else {
      char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      buf_addn(b, enc, 3);
    }
  }
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

const char *form_get(const struct form *f, const char *name) {
  if (!f)
    return NULL;
  for (size_t i = 0; i < f->count; i++)
    if (strcmp(f->names[i], name) == 0)
      return f->values[i] ? f->values[i] : "";
  return NULL;
}

bool req_is(const struct request *r, const char *method) {
  if (strcmp(method, "GET") == 0 && strcmp(r->method, "HEAD") == 0)
    return true;
  return strcmp(r->method, method) == 0;
}

bool req_seg(const struct request *r, size_t i, const char *s) {
  return i < r->nseg && strcmp(r->seg[i], s) == 0;
}

bool req_id(const struct request *r, size_t i, long *id) {
  if (i >= r->nseg)
    return false;
  const char *s = r->seg[i];
  size_t n = strlen(s);
  if (n == 0 || n > 9)
    return false;
  long v = 0;
  for (size_t k = 0; k < n; k++) {
    if (s[k] < '0' || s[k] > '9')
      return false;
    v = v * 10 + (s[k] - '0');
  }
  if (v <= 0)
    return false;
  *id = v;
  return true;
}

const char *req_header(const struct request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(const struct request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_cookie(const struct request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

void reply_json(struct reply *rep, unsigned status, json_t *j) {
  rep->status = status;
  rep->content_type = "application/json";
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) {
    rep->body.failed = true;
    return;
  }
  buf_add(&rep->body, text);
  buf_add(&rep->body, "\n");
  free(text);
}

void reply_tm_error(struct reply *rep, unsigned status, const char *error, const char *subcode) {
  reply_json(rep, status, json_pack("{s:s, s:s}", "Error", error, "SubCode", subcode));
}

void reply_redirect(struct reply *rep, unsigned status, const char *location) {
  rep->status = status;
  rep->content_type = "text/html; charset=utf-8";
  free(rep->location);
  rep->location = strdup(location);
  if (!rep->location)
    rep->body.failed = true;
  buf_add(&rep->body, "<html><body>You are being <a href=\"");
  buf_add_html(&rep->body, location);
  buf_add(&rep->body, "\">redirected</a>.</body></html>\n");
}

void reply_html_start(struct reply *rep, unsigned status) {
  rep->status = status;
  rep->content_type = "text/html; charset=utf-8";
}

void reply_set_cookie(struct reply *rep, const char *cookie) {
  free(rep->set_cookie);
  rep->set_cookie = strdup(cookie);
  if (!rep->set_cookie)
    rep->body.failed = true;
}

void html_open(struct buf *b, const char *title, const char *app, const char *csrf) {
  buf_add(b, "<!DOCTYPE html>\n<html lang=\"");
  buf_add(b, strcmp(app, "rdv") == 0 ? "fr" : "en");
  buf_add(b, "\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  if (csrf) {
    buf_add(b, "<meta name=\"csrf-param\" content=\"authenticity_token\">\n"
               "<meta name=\"csrf-token\" content=\"");
    buf_add_html(b, csrf);
    buf_add(b, "\">\n");
  }
  buf_add(b, "<title>");
  buf_add_html(b, title);
  buf_add(b, strcmp(app, "rdv") == 0 ? " - RDV Solidarités" : " | Tasking Manager");
  buf_add(b, "</title>\n<link rel=\"stylesheet\" href=\"/assets/");
  buf_add(b, app);
  buf_add(b, ".css\">\n</head>\n<body class=\"app-");
  buf_add(b, app);
  buf_add(b, "\">\n");
}

void html_close(struct buf *b, const struct demo *d) {
  buf_add(b, "<footer class=\"footer\"><span>uat-demo-staging</span> "
             "<span id=\"release\" class=\"release\">");
  buf_add_html(b, d->release);
  buf_add(b, "</span></footer>\n</body>\n</html>\n");
}
