/* libcurl behind the small interface of http.h: one easy handle per client, options
 * set afresh for every exchange, the body capped while it arrives, and curl's error
 * codes turned into sentences that name the URL and say what to do. */
#include "net/http.h"

#include "util/redact.h"
#include "util/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct uat_http_client {
  CURL *curl;
};

/* One mutex per kind of data curl shares, so a DNS lookup never waits for a TLS session. */
struct uat_http_share {
  CURLSH *sh;
  pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* What the callbacks fill during one exchange. */
struct exchange {
  struct uat_strbuf body;
  size_t max_body;
  bool over_cap;
  bool out_of_memory;
  struct uat_http_header_field *headers;
  size_t nheaders;
  size_t headers_cap;
};

static void free_headers(struct uat_http_header_field *headers, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(headers[i].name);
    free(headers[i].value);
  }
  free(headers);
}

void uat_http_response_release(struct uat_http_response *resp) {
  if (!resp)
    return;
  free(resp->body);
  free(resp->url);
  free_headers(resp->headers, resp->nheaders);
  bool timed_out = resp->timed_out;
  memset(resp, 0, sizeof *resp);
  resp->timed_out = timed_out;
}

const char *uat_http_response_header(const struct uat_http_response *resp, const char *name) {
  for (size_t i = 0; i < resp->nheaders; i++)
    if (strcasecmp(resp->headers[i].name, name) == 0)
      return resp->headers[i].value;
  return NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  struct exchange *ex = userdata;
  size_t n = size * nmemb;
  if (ex->max_body && (ex->body.len > ex->max_body || n > ex->max_body - ex->body.len)) {
    ex->over_cap = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (uat_strbuf_add(&ex->body, data, n) != 0) {
    ex->out_of_memory = true;
    return 0;
  }
  return n;
}

static void reset_headers(struct exchange *ex) {
  free_headers(ex->headers, ex->nheaders);
  ex->headers = NULL;
  ex->nheaders = ex->headers_cap = 0;
}

static char *trimmed_copy(const char *s, size_t len) {
  while (len && (*s == ' ' || *s == '\t')) {
    s++;
    len--;
  }
  while (len &&
         (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
    len--;
  return strndup(s, len);
}

static int add_header(struct exchange *ex, const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line)
    return 0; /* not a header field: ignore */
  if (ex->nheaders == ex->headers_cap) {
    size_t cap = ex->headers_cap ? ex->headers_cap * 2 : 16;
    struct uat_http_header_field *grown = realloc(ex->headers, cap * sizeof *grown);
    if (!grown)
      return -1;
    ex->headers = grown;
    ex->headers_cap = cap;
  }
  char *name = trimmed_copy(line, (size_t)(colon - line));
  char *value = trimmed_copy(colon + 1, len - (size_t)(colon - line) - 1);
  if (!name || !value) {
    free(name);
    free(value);
    return -1;
  }
  ex->headers[ex->nheaders].name = name;
  ex->headers[ex->nheaders].value = value;
  ex->nheaders++;
  return 0;
}

/* Keeps the header fields of the latest response: a status line starts a new list,
 * so redirects and 100 Continue leave only the final response's fields. */
static size_t on_header(char *data, size_t size, size_t nitems, void *userdata) {
  struct exchange *ex = userdata;
  size_t n = size * nitems;
  if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    reset_headers(ex);
    return n;
  }
  if (add_header(ex, data, n) != 0) {
    ex->out_of_memory = true;
    return 0;
  }
  return n;
}

static struct curl_slist *build_header_list(const struct uat_http_request *req) {
  struct curl_slist *list = NULL;
  for (size_t i = 0; i < req->nheaders; i++) {
    const char *value = req->headers[i].value ? req->headers[i].value : "";
    struct uat_strbuf line;
    uat_strbuf_init(&line, 0);
    /* "Name;" is curl's way to send a header with an empty value. */
    int rc = *value ? uat_strbuf_addf(&line, "%s: %s", req->headers[i].name, value)
                    : uat_strbuf_addf(&line, "%s;", req->headers[i].name);
    struct curl_slist *grown = rc == 0 ? curl_slist_append(list, line.buf) : NULL;
    uat_strbuf_release(&line);
    if (!grown) {
      curl_slist_free_all(list);
      return NULL;
    }
    list = grown;
  }
  return list;
}

/* Method and body; each exchange first undoes what the previous one chose. */
static CURLcode set_method(CURL *curl, const struct uat_http_request *req) {
  const char *method = req->method;
  CURLcode rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(curl, CURLOPT_NOBODY, 0L);
  if (rc == CURLE_OK)
    rc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  if (rc != CURLE_OK || (strcmp(method, "GET") == 0 && !req->body))
    return rc;
  if (strcmp(method, "HEAD") == 0)
    return curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  bool sends_body = req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
  if (sends_body) {
    rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    if (rc == CURLE_OK)
      rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
  }
  /* A plain POST lets curl turn it into GET after a 301/302/303, as browsers do. */
  if (rc == CURLE_OK && strcmp(method, "POST") != 0)
    rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  return rc;
}

/* Stops at the first option curl refuses. */
#define SET(opt, val)                                                                              \
  do {                                                                                             \
    if (rc == CURLE_OK)                                                                            \
      rc = curl_easy_setopt(curl, opt, val);                                                       \
  } while (0)

/* What stays the same for every exchange of a client. */
static CURLcode configure_client(CURL *curl, bool cookies) {
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_MAXREDIRS, (long)UAT_HTTP_MAX_REDIRECTS);
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_USERAGENT, "uatrun");
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  if (cookies)
    SET(CURLOPT_COOKIEFILE, "");
  return rc;
}

/* Every option an exchange chooses is set each time, so nothing leaks from the previous
 * one (curl_easy_reset would also do, but it leaks the cookie setting in curl 7.88). */
static CURLcode configure_exchange(CURL *curl, const struct uat_http_request *req,
                                   struct exchange *ex, struct curl_slist *headers, char *errbuf) {
  /* Rounded up: a timeout cut to the check's deadline must not end just before it. */
  double ms = req->timeout_s * 1000.0 + 0.999;
  long timeout_ms = ms >= (double)LONG_MAX ? LONG_MAX : (long)ms;
  if (timeout_ms < 1)
    timeout_ms = 1;
  curl_off_t max_file = req->max_body <= (size_t)INT64_MAX ? (curl_off_t)req->max_body : 0;
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_ERRORBUFFER, errbuf);
  SET(CURLOPT_URL, req->url);
  SET(CURLOPT_TIMEOUT_MS, timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  SET(CURLOPT_FOLLOWLOCATION, req->follow ? 1L : 0L);
  SET(CURLOPT_WRITEDATA, ex);
  SET(CURLOPT_HEADERDATA, ex);
  SET(CURLOPT_HTTPHEADER, headers);
  SET(CURLOPT_MAXFILESIZE_LARGE, max_file);
  if (rc == CURLE_OK)
    rc = set_method(curl, req);
  return rc;
}
#undef SET

static void share_lock(CURL *handle, curl_lock_data data, curl_lock_access access, void *userptr) {
  struct uat_http_share *share = userptr;
  pthread_mutex_lock(&share->locks[(unsigned)data < CURL_LOCK_DATA_LAST ? data : 0]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr) {
  struct uat_http_share *share = userptr;
  pthread_mutex_unlock(&share->locks[(unsigned)data < CURL_LOCK_DATA_LAST ? data : 0]);
}

/* DNS and TLS sessions only: connection sharing (CURL_LOCK_DATA_CONNECT) misbehaves with
 * threads in curl 7.88, and a shared cookie jar would break the per-check isolation. */
static CURLSHcode configure_share(struct uat_http_share *share) {
  CURLSHcode rc = curl_share_setopt(share->sh, CURLSHOPT_LOCKFUNC, share_lock);
  if (rc == CURLSHE_OK)
    rc = curl_share_setopt(share->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
  if (rc == CURLSHE_OK)
    rc = curl_share_setopt(share->sh, CURLSHOPT_USERDATA, share);
  if (rc == CURLSHE_OK)
    rc = curl_share_setopt(share->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  if (rc == CURLSHE_OK)
    rc = curl_share_setopt(share->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return rc;
}

struct uat_http_share *uat_http_share_new(struct uat_error *err) {
  struct uat_http_share *share = calloc(1, sizeof *share);
  if (!share) {
    uat_error_set(err, "out of memory creating the HTTP caches");
    return NULL;
  }
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&share->locks[i], NULL);
  share->sh = curl_share_init();
  CURLSHcode rc = share->sh ? configure_share(share) : CURLSHE_NOMEM;
  if (rc != CURLSHE_OK) {
    uat_http_share_free(share);
    uat_error_set(err, "libcurl could not create its shared caches (%s)", curl_share_strerror(rc));
    return NULL;
  }
  return share;
}

void uat_http_share_free(struct uat_http_share *share) {
  if (!share)
    return;
  /* Still in use means a client outlived its share: leaking beats freeing locks in use. */
  if (curl_share_cleanup(share->sh) != CURLSHE_OK)
    return;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&share->locks[i]);
  free(share);
}

struct uat_http_client *uat_http_client_new(bool cookies, struct uat_error *err) {
  return uat_http_client_new_shared(cookies, NULL, err);
}

struct uat_http_client *uat_http_client_new_shared(bool cookies, struct uat_http_share *share,
                                                   struct uat_error *err) {
  struct uat_http_client *client = calloc(1, sizeof *client);
  if (!client) {
    uat_error_set(err, "out of memory creating an HTTP client");
    return NULL;
  }
  client->curl = curl_easy_init();
  if (!client->curl) {
    free(client);
    uat_error_set(err, "libcurl could not create a handle; check that libcurl is installed and "
                       "initialised");
    return NULL;
  }
  CURLcode rc = configure_client(client->curl, cookies);
  if (rc == CURLE_OK && share)
    rc = curl_easy_setopt(client->curl, CURLOPT_SHARE, share->sh);
  if (rc != CURLE_OK) {
    uat_http_client_free(client);
    uat_error_set(err, "libcurl refused an option (%s); check the libcurl version (7.85 or newer)",
                  curl_easy_strerror(rc));
    return NULL;
  }
  return client;
}

void uat_http_client_free(struct uat_http_client *client) {
  if (!client)
    return;
  curl_easy_cleanup(client->curl);
  free(client);
}

/* "16 MiB", "512 KiB" or "1000 bytes": how people think of a cap. */
static void format_size(size_t bytes, char *buf, size_t size) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
    snprintf(buf, size, "%zu MiB", bytes / (1024 * 1024));
  else if (bytes >= 1024 && bytes % 1024 == 0)
    snprintf(buf, size, "%zu KiB", bytes / 1024);
  else
    snprintf(buf, size, "%zu bytes", bytes);
}

/* The host part of url, for "could not resolve host 'x'"; "?" when it has none. */
static void url_host(const char *url, char *buf, size_t size) {
  snprintf(buf, size, "?");
  CURLU *u = curl_url();
  if (!u)
    return;
  char *host = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
    snprintf(buf, size, "%s", host);
  curl_free(host);
  curl_url_cleanup(u);
}

static bool is_tls_error(CURLcode code) {
  switch (code) {
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_SHUTDOWN_FAILED:
    return true;
  default:
    return false;
  }
}

static bool is_http_url(const char *url) {
  return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Turns a failed transfer into one sentence: friendly cause first, curl's words after. */
static int report_failure(const struct uat_http_request *req, CURLcode code, long os_errno,
                          long status, const struct exchange *ex, const char *errbuf,
                          struct uat_http_response *resp, struct uat_error *err) {
  const char *detail = *errbuf ? errbuf : curl_easy_strerror(code);
  char extra[256];
  if (ex->over_cap || code == CURLE_FILESIZE_EXCEEDED) {
    format_size(req->max_body, extra, sizeof extra);
    return uat_error_set(err,
                         "response body of %s %s exceeds the %s cap; if such a body is expected, "
                         "raise max_body in the request options",
                         req->method, req->url, extra);
  }
  if (ex->out_of_memory)
    return uat_error_set(err, "%s %s: out of memory while receiving the response", req->method,
                         req->url);
  /* curl also says "out of memory" for a header line past its 100 KB limit. */
  if (code == CURLE_OUT_OF_MEMORY)
    return uat_error_set(err,
                         "%s %s: the response could not be received: out of memory, or a "
                         "response header line longer than 100 KB (%s)",
                         req->method, req->url, detail);
  switch (code) {
  case CURLE_COULDNT_CONNECT:
    return uat_error_set(err, "%s %s: %s (%s); check that the server is up and the URL is right",
                         req->method, req->url,
                         os_errno == ECONNREFUSED ? "connection refused" : "could not connect",
                         os_errno == ECONNREFUSED ? curl_easy_strerror(code) : detail);
  case CURLE_OPERATION_TIMEDOUT:
    resp->timed_out = true;
    return uat_error_set(err,
                         "%s %s: timed out after %.1fs without a complete reply; if the server "
                         "is only slow, raise the request's timeout (opts.timeout or "
                         "target.timeout)",
                         req->method, req->url, req->timeout_s);
  case CURLE_COULDNT_RESOLVE_HOST:
    url_host(req->url, extra, sizeof extra);
    return uat_error_set(err, "%s %s: could not resolve host '%s'; check the host name",
                         req->method, req->url, extra);
  case CURLE_TOO_MANY_REDIRECTS:
    return uat_error_set(err,
                         "%s %s: more than %d redirects, likely a redirect loop; pass "
                         "follow = false to see where the server sends it",
                         req->method, req->url, UAT_HTTP_MAX_REDIRECTS);
  case CURLE_GOT_NOTHING:
    return uat_error_set(err,
                         "%s %s: the server closed the connection without a reply; check the "
                         "server's logs",
                         req->method, req->url);
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_PARTIAL_FILE:
    return uat_error_set(err,
                         "%s %s: connection broken during the exchange (%s); check the server's "
                         "logs (or a proxy in between) for why it dropped the connection",
                         req->method, req->url, detail);
  case CURLE_UNSUPPORTED_PROTOCOL:
    /* An http(s) URL that got this far was answered: by a reply that is not HTTP (0.9 or
     * garbage, no status), or by a redirect to another scheme (a 3xx status). */
    if (is_http_url(req->url) && (status < 300 || status > 399))
      return uat_error_set(err, "%s %s: the server's reply is not HTTP (%s)", req->method, req->url,
                           detail);
    if (is_http_url(req->url))
      return uat_error_set(err,
                           "%s %s: redirected to a URL that is not a valid http:// or https:// "
                           "URL (%s); pass follow = false to see the Location",
                           req->method, req->url, detail);
    return uat_error_set(err, "%s %s: not a valid http:// or https:// URL (%s)", req->method,
                         req->url, detail);
  case CURLE_URL_MALFORMAT:
    return uat_error_set(err, "%s %s: not a valid http:// or https:// URL (%s)", req->method,
                         req->url, detail);
  case CURLE_WEIRD_SERVER_REPLY:
    return uat_error_set(err, "%s %s: the server's reply is not valid HTTP (%s)", req->method,
                         req->url, detail);
  default:
    if (is_tls_error(code))
      return uat_error_set(err,
                           "%s %s: TLS error (%s); check the server's certificate: it must be "
                           "valid for the host name and issued by a CA this system trusts",
                           req->method, req->url, detail);
    return uat_error_set(err, "%s %s: the request failed (%s); check the URL and the server",
                         req->method, req->url, detail);
  }
}

static int take_response(CURL *curl, struct exchange *ex, struct uat_http_response *resp,
                         const struct uat_http_request *req, const char *shown_url,
                         struct uat_error *err) {
  char *effective = NULL;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &resp->time_s);
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  resp->url = strdup(effective ? effective : req->url);
  if (!ex->body.buf)
    ex->body.buf = calloc(1, 1);
  if (!resp->url || !ex->body.buf) {
    free(resp->url);
    resp->url = NULL;
    return uat_error_set(err, "%s %s: out of memory while receiving the response", req->method,
                         shown_url);
  }
  resp->body_len = ex->body.len;
  resp->body = ex->body.buf;
  ex->body.buf = NULL;
  resp->headers = ex->headers;
  resp->nheaders = ex->nheaders;
  ex->headers = NULL;
  ex->nheaders = 0;
  return 0;
}

/* Sends req; error texts name the request as `shown` (its URL redacted). */
static int send_request(struct uat_http_client *client, const struct uat_http_request *req,
                        const struct uat_http_request *shown, struct uat_http_response *resp,
                        struct uat_error *err) {
  struct exchange ex = {.max_body = req->max_body};
  uat_strbuf_init(&ex.body, 0);
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = build_header_list(req);
  if (req->nheaders && !headers)
    return uat_error_set(err, "%s %s: out of memory building the request", shown->method,
                         shown->url);

  CURLcode code = configure_exchange(client->curl, req, &ex, headers, errbuf);
  int rc = 0;
  if (code != CURLE_OK) {
    rc = uat_error_set(err, "%s %s: cannot set up the request (%s)", shown->method, shown->url,
                       curl_easy_strerror(code));
  } else {
    code = curl_easy_perform(client->curl);
    long os_errno = 0, status = 0;
    curl_easy_getinfo(client->curl, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || ex.out_of_memory)
      rc = report_failure(shown, code, os_errno, status, &ex, errbuf, resp, err);
    else
      rc = take_response(client->curl, &ex, resp, req, shown->url, err);
  }
  /* The handle must not keep pointers into this frame or into the freed header list. */
  curl_easy_setopt(client->curl, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(headers);
  uat_strbuf_release(&ex.body);
  reset_headers(&ex);
  return rc;
}

int uat_http_client_send(struct uat_http_client *client, const struct uat_http_request *req,
                         struct uat_http_response *resp, struct uat_error *err) {
  memset(resp, 0, sizeof *resp);
  if (!req->redactor)
    return send_request(client, req, req, resp, err);
  /* Redact the URL before an error text is composed: uat_error cuts long texts, and a cut
   * through a secret would leave a part the redactor misses. */
  char *url = uat_redact(req->redactor, req->url);
  if (!url)
    return uat_error_set(err, "%s: out of memory preparing the request", req->method);
  struct uat_http_request shown = *req;
  shown.url = url;
  int rc = send_request(client, req, &shown, resp, err);
  free(url);
  return rc;
}

static bool is_masked_header(const char *name) {
  static const char *const masked[] = {"Authorization", "Proxy-Authorization", "Cookie",
                                       "Set-Cookie"};
  for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++)
    if (strcasecmp(name, masked[i]) == 0)
      return true;
  return false;
}

static int dump_headers(struct uat_strbuf *sb, const char *prefix,
                        const struct uat_http_header_field *headers, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *value = is_masked_header(headers[i].name) ? "***" : headers[i].value;
    if (uat_strbuf_addf(sb, "%s %s: %s\n", prefix, headers[i].name, value ? value : "") != 0)
      return -1;
  }
  return 0;
}

/* The first bytes of a body; binary data is summarised rather than dumped. */
static int dump_shown_body(struct uat_strbuf *sb, const char *prefix, const char *body,
                           size_t len) {
  if (memchr(body, '\0', len))
    return uat_strbuf_addf(sb, "%s [%zu bytes of binary data]\n", prefix, len);
  size_t shown = len < UAT_HTTP_DUMP_BODY_MAX ? len : UAT_HTTP_DUMP_BODY_MAX;
  if (uat_strbuf_addf(sb, "%s\n", prefix) != 0 || uat_strbuf_add(sb, body, shown) != 0)
    return -1;
  if (shown < len)
    return uat_strbuf_addf(sb, "\n%s [%zu more bytes]\n", prefix, len - shown);
  return uat_strbuf_adds(sb, "\n");
}

/* Redacts the whole body before the dump cuts it: a cut through a secret would leave a
 * part the redactor misses. */
static int dump_body(struct uat_strbuf *sb, const char *prefix, const char *body, size_t len,
                     const struct uat_redactor *redactor) {
  if (!body || len == 0)
    return 0;
  if (!redactor)
    return dump_shown_body(sb, prefix, body, len);
  size_t safe_len = 0;
  char *safe = uat_redact_n(redactor, body, len, &safe_len);
  int rc = safe ? dump_shown_body(sb, prefix, safe, safe_len) : -1;
  free(safe);
  return rc;
}

char *uat_http_dump(const struct uat_http_request *req, const struct uat_http_response *resp,
                    const char *failure) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_addf(&sb, "> %s %s\n", req->method, req->url);
  if (rc == 0)
    rc = dump_headers(&sb, ">", req->headers, req->nheaders);
  if (rc == 0)
    rc = dump_body(&sb, ">", req->body, req->body_len, req->redactor);
  if (rc == 0 && resp) {
    rc = uat_strbuf_addf(&sb, "< %ld (%.3fs) %s\n", resp->status, resp->time_s,
                         resp->url ? resp->url : req->url);
    if (rc == 0)
      rc = dump_headers(&sb, "<", resp->headers, resp->nheaders);
    if (rc == 0)
      rc = dump_body(&sb, "<", resp->body, resp->body_len, req->redactor);
  } else if (rc == 0) {
    rc = uat_strbuf_addf(&sb, "< failed: %s\n", failure ? failure : "unknown error");
  }
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  /* Drop the final newline: the dump is one log entry. */
  if (sb.len && sb.buf[sb.len - 1] == '\n')
    sb.buf[--sb.len] = '\0';
  return uat_strbuf_take(&sb);
}

static const char *url_problem(CURLUcode code) {
  return curl_url_strerror(code);
}

char *uat_http_resolve_url(const char *base, const char *ref, const struct uat_redactor *redactor,
                           struct uat_error *err) {
  /* Messages quote the URLs: redact them whole before the error text can cut them. */
  char *ref_shown = uat_redact(redactor, ref);
  char *base_shown = uat_redact(redactor, base ? base : "");
  CURLU *u = curl_url();
  if (!u || !ref_shown || !base_shown) {
    uat_error_set(err, "out of memory resolving a URL");
    free(ref_shown);
    free(base_shown);
    curl_url_cleanup(u);
    return NULL;
  }
  char *resolved = NULL;
  CURLUcode code = CURLUE_OK;
  if (base && *base) {
    code = curl_url_set(u, CURLUPART_URL, base, 0);
    if (code != CURLUE_OK) {
      uat_error_set(err,
                    "base URL '%s' is not a valid URL (%s); fix target.base_url or "
                    "--base-url",
                    base_shown, url_problem(code));
      goto done;
    }
  }
  /* With a base in place, curl resolves a relative reference against it. */
  code = curl_url_set(u, CURLUPART_URL, ref, 0);
  if (code != CURLUE_OK) {
    if (base && *base)
      uat_error_set(err, "URL '%s' is not valid (%s)", ref_shown, url_problem(code));
    else
      uat_error_set(err,
                    "URL '%s' is not absolute and there is no base URL (%s); set "
                    "target.base_url or pass a full http:// URL",
                    ref_shown, url_problem(code));
    goto done;
  }
  char *text = NULL;
  code = curl_url_get(u, CURLUPART_URL, &text, 0);
  if (code != CURLUE_OK) {
    uat_error_set(err, "URL '%s' is not valid (%s)", ref_shown, url_problem(code));
    goto done;
  }
  resolved = strdup(text);
  curl_free(text);
  if (!resolved)
    uat_error_set(err, "out of memory resolving URL '%s'", ref_shown);
done:
  curl_url_cleanup(u);
  free(ref_shown);
  free(base_shown);
  return resolved;
}

static int add_escaped(struct uat_strbuf *sb, const char *text) {
  /* Since curl 7.82 the handle argument is unused: no handle is needed to escape. */
  char *escaped = curl_easy_escape(NULL, text ? text : "", 0);
  if (!escaped)
    return -1;
  int rc = uat_strbuf_adds(sb, escaped);
  curl_free(escaped);
  return rc;
}

char *uat_http_form_encode(const struct uat_http_header_field *fields, size_t n) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  for (size_t i = 0; i < n; i++) {
    if ((i && uat_strbuf_adds(&sb, "&") != 0) || add_escaped(&sb, fields[i].name) != 0 ||
        uat_strbuf_adds(&sb, "=") != 0 || add_escaped(&sb, fields[i].value) != 0) {
      uat_strbuf_release(&sb);
      return NULL;
    }
  }
  return uat_strbuf_take(&sb);
}
