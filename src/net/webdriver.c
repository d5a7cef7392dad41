/* W3C WebDriver over HTTP: each command is one JSON exchange with the driver. */
#include "net/webdriver.h"

#include "net/http.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The W3C element reference key (WebDriver §12.1). */
#define ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"
/* A reply larger than this is a broken driver (screenshots of big pages stay far below). */
#define MAX_REPLY ((size_t)64 * 1024 * 1024)

struct uat_webdriver {
  struct uat_http_client *http;
  char *base;    /* http://127.0.0.1:PORT */
  char *session; /* NULL until a session exists */
  char last_error[64];
};

/* The first line of a driver's message: chromedriver appends build details and stack lines.
 * A lone CR ends the line too: a terminal would go back and overwrite the start with what
 * follows it. */
static void first_line(const char *msg, char *out, size_t size) {
  size_t n = strcspn(msg, "\r\n");
  if (n >= size)
    n = size - 1;
  memcpy(out, msg, n);
  out[n] = '\0';
  while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\r'))
    out[--n] = '\0';
}

int uat_webdriver_parse_reply(const char *body, size_t len, json_t **value, struct uat_error *err) {
  *value = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(body ? body : "", len, JSON_DISABLE_EOF_CHECK, &jerr);
  if (!json_is_object(root)) {
    json_decref(root);
    /* jansson quotes the bytes it choked on: a CR or LF there broke the one-line error */
    return uat_error_set(err, "the driver's reply is not a WebDriver JSON object (%s)",
                         root ? "another JSON value" : uat_text_one_line(jerr.text));
  }
  json_t *v = json_object_get(root, "value");
  if (!v) {
    json_decref(root);
    return uat_error_set(err, "the driver's reply has no \"value\"");
  }
  const char *code = json_is_object(v) ? json_string_value(json_object_get(v, "error")) : NULL;
  if (code) {
    /* Both cut to their first line: a broken driver's multi-line "error" spilled its stack
     * trace into the check's one-line error as much as a long "message" would. */
    const char *msg = json_string_value(json_object_get(v, "message"));
    char what[128], line[512];
    first_line(code, what, sizeof what);
    first_line(msg ? msg : "", line, sizeof line);
    if (!what[0])
      snprintf(what, sizeof what, "the driver reported an error without naming it");
    uat_error_set(err, "%s%s%s", what, line[0] ? ": " : "", line);
    json_decref(root);
    return -1;
  }
  *value = json_incref(v);
  json_decref(root);
  return 0;
}

const char *uat_webdriver_last_error(const struct uat_webdriver *wd) {
  return wd->last_error;
}

struct uat_webdriver *uat_webdriver_new(const char *base_url, struct uat_error *err) {
  struct uat_webdriver *wd = calloc(1, sizeof *wd);
  if (!wd || !(wd->base = strdup(base_url))) {
    free(wd);
    uat_error_set(err, "out of memory starting a WebDriver client");
    return NULL;
  }
  if (!(wd->http = uat_http_client_new(false, err))) {
    uat_webdriver_free(wd);
    return NULL;
  }
  return wd;
}

void uat_webdriver_free(struct uat_webdriver *wd) {
  if (!wd)
    return;
  uat_http_client_free(wd->http);
  free(wd->base);
  free(wd->session);
  free(wd);
}

/* The error code of a failed reply, kept so callers can tell "no such element" apart. */
static void keep_code(struct uat_webdriver *wd, const struct uat_error *e) {
  size_t n = strcspn(e->text, ":");
  if (n >= sizeof wd->last_error)
    n = sizeof wd->last_error - 1;
  memcpy(wd->last_error, e->text, n);
  wd->last_error[n] = '\0';
}

static int exchange(struct uat_webdriver *wd, const char *method, const char *path, json_t *body,
                    double timeout_s, json_t **value, const char *what, struct uat_error *err) {
  wd->last_error[0] = '\0';
  char *url = malloc(strlen(wd->base) + strlen(path) + 1);
  char *text = NULL;
  if (body || strcmp(method, "POST") == 0)
    text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
  if (!url || ((body || strcmp(method, "POST") == 0) && !text)) {
    free(url);
    free(text);
    return uat_error_set(err, "%s: out of memory", what);
  }
  strcpy(url, wd->base);
  strcat(url, path);
  struct uat_http_header_field ct = {(char *)"Content-Type", (char *)"application/json"};
  struct uat_http_request req = {.method = method,
                                 .url = url,
                                 .headers = text ? &ct : NULL,
                                 .nheaders = text ? 1 : 0,
                                 .body = text,
                                 .body_len = text ? strlen(text) : 0,
                                 .timeout_s = timeout_s > 0.05 ? timeout_s : 0.05,
                                 .max_body = MAX_REPLY};
  struct uat_http_response resp;
  struct uat_error e;
  int rc = uat_http_client_send(wd->http, &req, &resp, &e);
  free(url);
  free(text);
  if (rc != 0) {
    snprintf(wd->last_error, sizeof wd->last_error, "%s", resp.timed_out ? "timeout" : "transport");
    return uat_error_set(err, "%s: %s", what,
                         resp.timed_out ? "the browser did not answer before the check's timeout"
                                        : "the browser's driver stopped answering (it may have crashed)");
  }
  json_t *v = NULL;
  rc = uat_webdriver_parse_reply(resp.body, resp.body_len, &v, &e);
  uat_http_response_release(&resp);
  if (rc != 0) {
    keep_code(wd, &e);
    return uat_error_set(err, "%s: %s", what, e.text);
  }
  if (value)
    *value = v;
  else
    json_decref(v);
  return 0;
}

int uat_webdriver_ready(struct uat_webdriver *wd, double timeout_s, struct uat_error *err) {
  json_t *v = NULL;
  if (exchange(wd, "GET", "/status", NULL, timeout_s, &v, "asking the browser driver's status",
               err) != 0)
    return -1;
  int ready = json_is_true(json_object_get(v, "ready"));
  json_decref(v);
  return ready ? 0 : uat_error_set(err, "the browser driver is not ready yet");
}

int uat_webdriver_new_session(struct uat_webdriver *wd, json_t *capabilities, double timeout_s,
                              struct uat_error *err) {
  json_t *v = NULL;
  if (exchange(wd, "POST", "/session", capabilities, timeout_s, &v, "starting the browser", err) != 0)
    return -1;
  const char *id = json_string_value(json_object_get(v, "sessionId"));
  if (!id || !(wd->session = strdup(id))) {
    json_decref(v);
    return uat_error_set(err, "starting the browser: the driver gave no session id");
  }
  json_decref(v);
  return 0;
}

void uat_webdriver_end_session(struct uat_webdriver *wd, double timeout_s) {
  if (!wd || !wd->session)
    return;
  struct uat_error ignored;
  uat_webdriver_command(wd, "DELETE", "", NULL, timeout_s, NULL, "closing the browser", &ignored);
  free(wd->session);
  wd->session = NULL;
}

int uat_webdriver_command(struct uat_webdriver *wd, const char *method, const char *path,
                          json_t *body, double timeout_s, json_t **value, const char *what,
                          struct uat_error *err) {
  if (!wd->session)
    return uat_error_set(err, "%s: the browser is closed", what);
  size_t n = strlen("/session/") + strlen(wd->session) + strlen(path) + 1;
  char *full = malloc(n);
  if (!full)
    return uat_error_set(err, "%s: out of memory", what);
  snprintf(full, n, "/session/%s%s", wd->session, path);
  int rc = exchange(wd, method, full, body, timeout_s, value, what, err);
  free(full);
  return rc;
}

const char *uat_webdriver_element_id(json_t *element) {
  return json_string_value(json_object_get(element, ELEMENT_KEY));
}
