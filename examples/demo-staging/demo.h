/* uat-demo-staging: a staging server that models Tasking Manager 4.6.2 and the
 * RDV-Solidarités admin closely enough that UAT checks written against it transfer.
 * Ownership: a returned `char *` is the caller's to free; a `const char *` is borrowed. */
#ifndef UAT_DEMO_H
#define UAT_DEMO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

/* The real regressions --break can inject, one bit each. */
enum demo_break {
  BREAK_AUTH_TOKEN = 1u << 0,
  BREAK_LABELS = 1u << 1,
  BREAK_MENTIONS = 1u << 2,
  BREAK_CONTRIBUTORS = 1u << 3,
  BREAK_PAGINATION = 1u << 4,
  BREAK_MENU = 1u << 5,
  BREAK_ACCESS_RIGHTS = 1u << 6,
};

struct demo_break_name {
  const char *name;
  unsigned bit;
  const char *what;
};

extern const struct demo_break_name demo_breaks[];
extern const size_t demo_break_count;

/* Parses a comma-separated --break list into *bits; returns false on an unknown name,
 * which is then copied into bad (truncated to bad_size). */
bool demo_breaks_parse(const char *list, unsigned *bits, char *bad, size_t bad_size);

struct rdv_state;

/* The whole server: read-only after start except rdv, which locks itself. */
struct demo {
  unsigned breaks;
  char release[65];
  char commit[65];
  /* A deploy rolling out: until deploy_after_s after start, staging still runs previous
   * (release and commit); 0: the release is deployed from the start. */
  char previous_release[65];
  char previous_commit[65];
  double deploy_after_s;
  double started_s; /* CLOCK_MONOTONIC seconds at start */
  bool verbose; /* log one line per request on stderr */
  struct rdv_state *rdv;
};

/* The release and commit staging runs now (the previous ones while a deploy rolls out). */
const char *demo_release_now(const struct demo *d);
const char *demo_commit_now(const struct demo *d);
double demo_clock_s(void);

static inline bool demo_broken(const struct demo *d, enum demo_break b) {
  return (d->breaks & (unsigned)b) != 0;
}

/* A growable text buffer; after an allocation failure it stays empty and failed. */
struct buf {
  char *data;
  size_t len;
  size_t cap;
  bool failed;
};

void buf_add(struct buf *b, const char *s);
void buf_addn(struct buf *b, const char *s, size_t n);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' replaced by entities (safe in text and attributes). */
void buf_add_html(struct buf *b, const char *s);
/* Appends s percent-encoded for a URL query value. */
void buf_add_url(struct buf *b, const char *s);
void buf_free(struct buf *b);

/* Fields of an urlencoded POST body, filled by MHD's post processor. */
#define FORM_MAX_FIELDS 16
struct form {
  size_t count;
  char *names[FORM_MAX_FIELDS];
  char *values[FORM_MAX_FIELDS];
  size_t lens[FORM_MAX_FIELDS];
  bool too_big;
};

const char *form_get(const struct form *f, const char *name);

#define REQ_MAX_SEGS 12
struct request {
  struct MHD_Connection *conn;
  const char *method;
  const char *url;
  size_t nseg;
  const char *seg[REQ_MAX_SEGS];
  const struct form *form;
  char segbuf[1024];
};

bool req_is(const struct request *r, const char *method);
/* True when segment i exists and equals s. */
bool req_seg(const struct request *r, size_t i, const char *s);
/* Parses segment i as a positive decimal id (at most 9 digits). */
bool req_id(const struct request *r, size_t i, long *id);
const char *req_header(const struct request *r, const char *name);
const char *req_query(const struct request *r, const char *name);
const char *req_cookie(const struct request *r, const char *name);

/* What a route answers; the router turns it into an MHD response. */
struct reply {
  unsigned status;
  const char *content_type;
  struct buf body;
  char *location;
  char *set_cookie;
  const char *allow; /* Allow header of a 405 */
};

/* Serialises j (stolen) as the body. */
void reply_json(struct reply *rep, unsigned status, json_t *j);
/* {"Error": error, "SubCode": subcode} like Tasking Manager's error responses. */
void reply_tm_error(struct reply *rep, unsigned status, const char *error, const char *subcode);
void reply_redirect(struct reply *rep, unsigned status, const char *location);
void reply_html_start(struct reply *rep, unsigned status);
void reply_set_cookie(struct reply *rep, const char *cookie);

/* Route families: each returns true when it handled the request. */
bool tm_api_route(const struct demo *d, const struct request *r, struct reply *rep);
bool tm_pages_route(const struct demo *d, const struct request *r, struct reply *rep);
bool rdv_route(const struct demo *d, const struct request *r, struct reply *rep);

/* Shared page chrome: doctype, head, body start; and the closing part. */
void html_open(struct buf *b, const char *title, const char *app, const char *csrf);
void html_close(struct buf *b, const struct demo *d);

/* Starts the HTTP server on 127.0.0.1:port (0 = any free port); NULL when it cannot listen.
 * *bound_port receives the port actually bound. */
struct MHD_Daemon *demo_server_start(struct demo *d, unsigned port, unsigned *bound_port);

/* RDV state: in-memory, guarded by its own mutex. */
struct rdv_state *rdv_state_new(void);
void rdv_state_free(struct rdv_state *s);
void rdv_state_reset(struct rdv_state *s);

#endif
