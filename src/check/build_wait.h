/* target.build: poll a page of staging that names what is deployed until it serves the
 * release under test, before any check runs. Knows no output format: each change of what
 * staging answers goes to a callback, and the CLI prints it.
 * Ownership: the options are borrowed; a poll owns its strings (uat_build_poll_clear). */
#ifndef UAT_BUILD_WAIT_H
#define UAT_BUILD_WAIT_H

#include "net/http.h"
#include "util/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A version page is small: a bigger answer is some other page, shown as "not JSON". */
#define UAT_BUILD_MAX_BODY ((size_t)1024 * 1024)
/* What is shown of a served value (the comparison uses all of it). */
#define UAT_BUILD_SHOWN_MAX 200

enum uat_build_poll_state {
  UAT_BUILD_SERVED,      /* a value was read: served (equal to expect when matched) */
  UAT_BUILD_HTTP_STATUS, /* answered with a status outside 2xx */
  UAT_BUILD_UNREACHABLE, /* refused, DNS, TLS, timeout */
  UAT_BUILD_NOT_JSON,    /* json: is set and the body is not JSON */
  UAT_BUILD_NO_FIELD,    /* the JSON has no such field, or it holds an object, array or null */
};

struct uat_build_poll {
  enum uat_build_poll_state state;
  bool matched;
  char *served;     /* SERVED: the value read, redacted and cut to UAT_BUILD_SHOWN_MAX bytes */
  char *what;       /* plain words, redacted: serves "v4.6.2", answers HTTP 502, ... */
  double elapsed_s; /* from the start of the wait to the end of this poll */
  int polls;        /* polls made so far, this one included */
};

struct uat_build_wait {
  const char *url;  /* absolute http(s) URL */
  const char *json; /* field path ("version", "release.version", "/release/version"); NULL:
                       the whole body, white space trimmed */
  const char *expect;
  double wait_s;     /* poll until this much time has passed; 0: one poll */
  double interval_s; /* pause between polls, cut to what is left of wait_s */
  double timeout_s;  /* of each poll, cut to what is left of wait_s (at least 1 s) */
  const struct uat_http_header_field *headers;
  size_t nheaders;
  const struct uat_redactor *redactor; /* hides secrets in everything a poll says */
  /* Called after the first poll and after each poll whose answer differs from the one
   * before (not on every poll): what a terminal shows. May be NULL. */
  void (*on_change)(const struct uat_build_poll *poll, void *ctx);
  void *ctx;
};

/* Polls until staging serves w->expect or wait_s runs out. Returns 1 when it was served, 0
 * when the wait ran out, -1 with err set when it could not poll at all (out of memory).
 * *last receives the last poll either way (but on -1); the caller clears it. */
int uat_build_wait_run(const struct uat_build_wait *w, struct uat_build_poll *last,
                       struct uat_error *err);
void uat_build_poll_clear(struct uat_build_poll *p);

/* The value at path in a JSON document: a field name, a dotted path (numbers index arrays)
 * or a JSON pointer (RFC 6901, starting with '/'). Borrowed from root; NULL when absent. */
json_t *uat_build_json_at(json_t *root, const char *path);

#endif
