#include "check/build_wait.h"

#include "util/redact.h"
#include "util/strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A poll never gets less time than this, even when the wait is nearly over: a shorter
 * timeout would turn a slow answer into "cannot be reached". */
#define MIN_POLL_TIMEOUT_S 1.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps the whole time even when a handled signal interrupts it; SIGINT, unhandled during
 * the wait, ends the process at once. */
static void pause_for(double seconds) {
  if (seconds <= 0)
    return;
  struct timespec ts = {.tv_sec = (time_t)seconds,
                        .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- where the value is ---- */

static json_t *child(json_t *node, const char *name) {
  if (json_is_object(node))
    return json_object_get(node, name);
  if (!json_is_array(node) || !*name || strspn(name, "0123456789") != strlen(name) ||
      (name[0] == '0' && name[1]))
    return NULL;
  char *end;
  errno = 0;
  unsigned long long i = strtoull(name, &end, 10);
  return errno || i >= json_array_size(node) ? NULL : json_array_get(node, (size_t)i);
}

/* "~1" is '/' and "~0" is '~' inside a pointer's names (RFC 6901). */
static void unescape_pointer_name(char *name) {
  char *w = name;
  for (const char *r = name; *r; r++) {
    if (r[0] == '~' && (r[1] == '0' || r[1] == '1')) {
      *w++ = r[1] == '0' ? '~' : '/';
      r++;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

json_t *uat_build_json_at(json_t *root, const char *path) {
  bool pointer = path[0] == '/';
  char *copy = strdup(pointer ? path + 1 : path);
  if (!copy)
    return NULL;
  char sep = pointer ? '/' : '.';
  json_t *node = root;
  for (char *name = copy; node && name;) {
    char *next = strchr(name, sep);
    if (next)
      *next++ = '\0';
    if (pointer)
      unescape_pointer_name(name);
    node = child(node, name);
    name = next;
  }
  free(copy);
  return node;
}

/* ---- one poll ---- */

static int set_what(struct uat_build_poll *p, const struct uat_build_wait *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_what(struct uat_build_poll *p, const struct uat_build_wait *w, const char *fmt,
                    ...) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  va_list ap;
  va_start(ap, fmt);
  int rc = uat_strbuf_vaddf(&sb, fmt, ap);
  va_end(ap);
  char *text = rc == 0 ? uat_redact(w->redactor, sb.buf ? sb.buf : "") : NULL;
  uat_strbuf_release(&sb);
  free(p->what);
  p->what = text;
  return text ? 0 : -1;
}

/* The first UAT_BUILD_SHOWN_MAX bytes of s, cut on a UTF-8 character boundary, with "…"
 * when cut; redacted. */
static char *shown_value(const struct uat_build_wait *w, const char *s) {
  char *clean = uat_redact(w->redactor, s);
  if (!clean || strlen(clean) <= UAT_BUILD_SHOWN_MAX)
    return clean;
  size_t n = UAT_BUILD_SHOWN_MAX;
  while (n > 0 && ((unsigned char)clean[n] & 0xC0) == 0x80)
    n--;
  memcpy(clean + n, "…", sizeof "…");
  return clean;
}

static int served(struct uat_build_poll *p, const struct uat_build_wait *w, const char *value) {
  p->state = UAT_BUILD_SERVED;
  p->matched = strcmp(value, w->expect) == 0;
  p->served = shown_value(w, value);
  return p->served ? set_what(p, w, "serves \"%s\"", p->served) : -1;
}

static const char *json_kind(const json_t *v) {
  return json_is_object(v) ? "an object" : json_is_array(v) ? "a list" : "null";
}

/* A string as it is; a number or boolean as JSON writes it; anything else is no version. */
static int read_json_value(struct uat_build_poll *p, const struct uat_build_wait *w, json_t *v) {
  if (json_is_string(v))
    return served(p, w, json_string_value(v));
  if (json_is_number(v) || json_is_boolean(v)) {
    char *text = json_dumps(v, JSON_ENCODE_ANY);
    int rc = text ? served(p, w, text) : -1;
    free(text);
    return rc;
  }
  p->state = UAT_BUILD_NO_FIELD;
  if (!v)
    return set_what(p, w, "answers JSON without \"%s\"", w->json);
  return set_what(p, w, "answers JSON where \"%s\" is %s, not a version", w->json, json_kind(v));
}

static int read_json(struct uat_build_poll *p, const struct uat_build_wait *w,
                     const struct uat_http_response *r) {
  json_error_t jerr;
  json_t *root = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
  if (!root) {
    p->state = UAT_BUILD_NOT_JSON;
    return set_what(p, w, "answers something that is not JSON (line %d, column %d: %s)", jerr.line,
                    jerr.column, uat_text_one_line(jerr.text));
  }
  int rc = read_json_value(p, w, uat_build_json_at(root, w->json));
  json_decref(root);
  return rc;
}

static int read_text(struct uat_build_poll *p, const struct uat_build_wait *w,
                     const struct uat_http_response *r) {
  const char *s = r->body;
  size_t len = strnlen(r->body, r->body_len);
  while (len && strchr(" \t\r\n", *s)) {
    s++;
    len--;
  }
  while (len && strchr(" \t\r\n", s[len - 1]))
    len--;
  char *text = strndup(s, len);
  int rc = text ? served(p, w, text) : -1;
  free(text);
  return rc;
}

static int poll_once(struct uat_http_client *client, const struct uat_build_wait *w,
                     double timeout_s, struct uat_build_poll *p) {
  struct uat_http_request req = {.method = "GET",
                                 .url = w->url,
                                 .headers = w->headers,
                                 .nheaders = w->nheaders,
                                 .timeout_s = timeout_s,
                                 .follow = true,
                                 .max_body = UAT_BUILD_MAX_BODY,
                                 .redactor = w->redactor};
  struct uat_http_response r = {0};
  struct uat_error e;
  free(p->served);
  p->served = NULL;
  p->matched = false;
  if (uat_http_client_send(client, &req, &r, &e) != 0) {
    p->state = UAT_BUILD_UNREACHABLE;
    /* The URL is said once already, where the wait is described: drop "GET URL: ". */
    char *shown = uat_redact(w->redactor, w->url); /* the HTTP layer quotes it redacted */
    if (!shown)
      return -1;
    const char *cause = e.text;
    size_t n = strlen(shown);
    if (strncmp(cause, "GET ", 4) == 0 && strncmp(cause + 4, shown, n) == 0 &&
        strncmp(cause + 4 + n, ": ", 2) == 0)
      cause += 4 + n + 2;
    int rc = set_what(p, w, "cannot be reached: %s", cause);
    free(shown);
    return rc;
  }
  int rc;
  if (r.status < 200 || r.status > 299) {
    p->state = UAT_BUILD_HTTP_STATUS;
    rc = set_what(p, w, "answers HTTP %ld", r.status);
  } else {
    rc = w->json ? read_json(p, w, &r) : read_text(p, w, &r);
  }
  uat_http_response_release(&r);
  return rc;
}

void uat_build_poll_clear(struct uat_build_poll *p) {
  free(p->served);
  free(p->what);
  memset(p, 0, sizeof *p);
}

/* The terminal hears of a poll only when staging's answer changed. */
static bool changed(const struct uat_build_poll *p, enum uat_build_poll_state state,
                    const char *what) {
  return p->polls == 1 || p->state != state || !what || strcmp(p->what, what) != 0;
}

int uat_build_wait_run(const struct uat_build_wait *w, struct uat_build_poll *last,
                       struct uat_error *err) {
  memset(last, 0, sizeof *last);
  struct uat_http_client *client = uat_http_client_new(false, err);
  if (!client)
    return -1;
  double start = now_s(), deadline = start + w->wait_s;
  int rc = -1;
  for (;;) {
    double left = deadline - now_s();
    double timeout = w->timeout_s;
    if (w->wait_s > 0 && timeout > left)
      timeout = left > MIN_POLL_TIMEOUT_S ? left : MIN_POLL_TIMEOUT_S;
    enum uat_build_poll_state before = last->state;
    char *what_before = last->what ? strdup(last->what) : NULL;
    last->polls++;
    int prc = poll_once(client, w, timeout, last);
    last->elapsed_s = now_s() - start;
    if (prc == 0 && w->on_change && changed(last, before, what_before))
      w->on_change(last, w->ctx);
    free(what_before);
    if (prc != 0) {
      uat_error_set(err, "cannot poll target.build: out of memory");
      break;
    }
    if (last->matched) {
      rc = 1;
      break;
    }
    left = deadline - now_s();
    if (left <= 0) {
      rc = 0;
      break;
    }
    pause_for(w->interval_s < left ? w->interval_s : left);
  }
  uat_http_client_free(client);
  if (rc < 0)
    uat_build_poll_clear(last);
  return rc;
}
