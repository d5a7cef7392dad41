/* HTTP exchanges with libcurl behind a small interface (its only user is lua_http.c).
 * A client owns one CURL easy handle: one per check for plain requests, one per
 * http.session() (which also turns on curl's in-memory cookie engine). Clients made with
 * the same uat_http_share share only curl's DNS cache and TLS session cache (locked, so
 * checks on different threads may use them at once); connections and cookies are never
 * shared, so each check keeps its own. The caller (main, or a test) runs curl_global_init
 * once before any client exists.
 * TLS peer and host verification always stay on; only http and https are spoken.
 * Ownership: requests are borrowed; a response owns its strings until
 * uat_http_response_release; uat_http_dump's result is the caller's. */
#ifndef UAT_HTTP_H
#define UAT_HTTP_H

#include "util/error.h"

#include <stdbool.h>
#include <stddef.h>

#define UAT_HTTP_MAX_REDIRECTS 10
#define UAT_HTTP_DUMP_BODY_MAX 2048

struct uat_http_header_field {
  char *name;  /* as the server or the caller spelled it */
  char *value; /* surrounding whitespace trimmed */
};

struct uat_redactor;

struct uat_http_request {
  const char *method; /* "GET", "POST", "HEAD", or any other token (sent as is) */
  const char *url;    /* absolute http:// or https:// URL */
  const struct uat_http_header_field *headers; /* sent as given, in order */
  size_t nheaders;
  const char *body; /* NULL: no body */
  size_t body_len;
  double timeout_s; /* whole exchange, connect included; must be > 0 */
  bool follow;      /* follow redirects, at most UAT_HTTP_MAX_REDIRECTS */
  size_t max_body;  /* response body cap in bytes; 0: no cap */
  /* Hides secrets in error texts and body dumps before they are cut; NULL: none. */
  const struct uat_redactor *redactor;
};

struct uat_http_response {
  long status;
  char *body; /* NUL-terminated (the body may hold NUL bytes: use body_len) */
  size_t body_len;
  char *url;                             /* effective URL, after redirects */
  double time_s;                         /* total time of the exchange */
  struct uat_http_header_field *headers; /* of the final response only, in order */
  size_t nheaders;
  bool timed_out; /* set when uat_http_client_send failed because of the timeout */
};

struct uat_http_client;
struct uat_http_share;

/* DNS and TLS session caches for the clients of one run (curl share interface), with their
 * locks. Free it only after every client made with it. NULL with err set on failure. */
struct uat_http_share *uat_http_share_new(struct uat_error *err);
void uat_http_share_free(struct uat_http_share *share);

/* A client with its own easy handle; `cookies` turns on an in-memory cookie jar that
 * lives as long as the client. NULL with err set when curl cannot make a handle. */
struct uat_http_client *uat_http_client_new(bool cookies, struct uat_error *err);
/* The same, using share's caches (share may be NULL: none); share must outlive the client. */
struct uat_http_client *uat_http_client_new_shared(bool cookies, struct uat_http_share *share,
                                                   struct uat_error *err);
void uat_http_client_free(struct uat_http_client *client);

/* Performs one exchange. Returns 0 with resp filled (any HTTP status is a success), or
 * -1 with err naming the method, the URL and the cause ("GET URL: connection refused
 * (...)", "... timed out after 2.0s", "response body of URL exceeds the 16 MiB cap; ...")
 * and resp empty except resp->timed_out. The URL in err is as given: redact it. */
int uat_http_client_send(struct uat_http_client *client, const struct uat_http_request *req,
                         struct uat_http_response *resp, struct uat_error *err);

void uat_http_response_release(struct uat_http_response *resp);

/* Value of the first response header called name (case-insensitive), or NULL. */
const char *uat_http_response_header(const struct uat_http_response *resp, const char *name);

/* A readable dump of an exchange for --verbose: request line, request headers, status,
 * response headers and the first UAT_HTTP_DUMP_BODY_MAX bytes of each body. resp may be
 * NULL (failed exchange), then failure says why. Authorization, Proxy-Authorization,
 * Cookie and Set-Cookie values always show as "***"; other secrets are the caller's to
 * redact. NULL only when memory ran out. */
char *uat_http_dump(const struct uat_http_request *req, const struct uat_http_response *resp,
                    const char *failure);

/* The absolute URL that ref names: ref itself when absolute, else resolved against base
 * as RFC 3986 says ("/api/x" against "http://h/app/" is "http://h/api/x"). base may be
 * NULL or "". URLs quoted in err are redacted (redactor may be NULL). Returns a new string (caller
 * frees), or NULL with err set. */
char *uat_http_resolve_url(const char *base, const char *ref, const struct uat_redactor *redactor,
                           struct uat_error *err);

/* "a=1&b=x%20y": fields percent-encoded as application/x-www-form-urlencoded, in the given
 * order. Returns a new string (caller frees), NULL when memory ran out. */
char *uat_http_form_encode(const struct uat_http_header_field *fields, size_t n);

#endif
