/* The libcurl wrapper (src/http.h) against the loopback test server. */
#include "net/http.h"
#include "testserver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fixture {
  struct uat_testserver *server;
  struct uat_http_client *client;
  char url[256];
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state) {
  static struct fixture fx;
  char err[256];
  fx.server = uat_testserver_start(0, err, sizeof err);
  if (!fx.server)
    return -1;
  fx.client = uat_http_client_new(false, NULL);
  if (!fx.client)
    return -1;
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;
  uat_http_client_free(fx->client);
  uat_testserver_stop(fx->server);
  return 0;
}

/* The absolute URL of path on the test server (valid until the next call). */
static const char *url_of(struct fixture *fx, const char *path) {
  snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%u%s", uat_testserver_port(fx->server), path);
  return fx->url;
}

static struct uat_http_request get(const char *url) {
  return (struct uat_http_request){
      .method = "GET", .url = url, .timeout_s = 60, .follow = true, .max_body = 1 << 20};
}

static void test_get_json(void **state) {
  struct fixture *fx = *state;
  struct uat_http_request req = get(url_of(fx, "/json"));
  struct uat_http_response resp;
  struct uat_error err = {""};
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  assert_int_equal(resp.status, 200);
  assert_non_null(strstr(resp.body, "\"name\":\"uatrun\""));
  assert_int_equal(resp.body_len, strlen(resp.body));
  assert_string_equal(uat_http_response_header(&resp, "CONTENT-TYPE"), "application/json");
  assert_null(uat_http_response_header(&resp, "x-missing"));
  assert_string_equal(resp.url, req.url);
  assert_true(resp.time_s >= 0 && resp.time_s < 5);
  uat_http_response_release(&resp);
}

/* Each method reaches the server as sent, with its body and headers. */
static void test_methods_and_bodies(void **state) {
  struct fixture *fx = *state;
  static const struct {
    const char *method, *body, *want_method, *want_body;
  } cases[] = {
      {"POST", "{\"a\":1}", "\"method\":\"POST\"", "\"body\":\"{\\\"a\\\":1}\""},
      {"PUT", "x=1&y=2", "\"method\":\"PUT\"", "\"body\":\"x=1&y=2\""},
      {"PATCH", "patch", "\"method\":\"PATCH\"", "\"body\":\"patch\""},
      {"DELETE", NULL, "\"method\":\"DELETE\"", "\"body_length\":0"},
      {"POST", NULL, "\"method\":\"POST\"", "\"content-length\":\"0\""},
      {"GET", "odd", "\"method\":\"GET\"", "\"body\":\"odd\""},
      {"GET", NULL, "\"method\":\"GET\"", "\"body_length\":0"}, /* nothing left from before */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_http_header_field headers[] = {{"Content-Type", "application/json"},
                                              {"X-Empty", ""}};
    struct uat_http_request req = get(url_of(fx, "/echo?q=1"));
    req.method = cases[i].method;
    req.body = cases[i].body;
    req.body_len = cases[i].body ? strlen(cases[i].body) : 0;
    req.headers = headers;
    req.nheaders = 2;
    struct uat_http_response resp;
    struct uat_error err = {""};
    assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, cases[i].want_method));
    assert_non_null(strstr(resp.body, cases[i].want_body));
    assert_non_null(strstr(resp.body, "\"x-empty\":\"\""));
    assert_non_null(strstr(resp.body, "\"query\":{\"q\":\"1\"}"));
    uat_http_response_release(&resp);
  }
}

static void test_head(void **state) {
  struct fixture *fx = *state;
  struct uat_http_request req = get(url_of(fx, "/status/200"));
  req.method = "HEAD";
  struct uat_http_response resp;
  struct uat_error err = {""};
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  assert_int_equal(resp.status, 200);
  assert_int_equal(resp.body_len, 0);
  assert_string_equal(resp.body, "");
  uat_http_response_release(&resp);
}

static void test_redirects(void **state) {
  struct fixture *fx = *state;
  struct uat_http_response resp;
  struct uat_error err = {""};

  struct uat_http_request req = get(url_of(fx, "/redirect/3"));
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  assert_int_equal(resp.status, 200);
  assert_non_null(strstr(resp.url, "/status/200"));
  assert_null(uat_http_response_header(&resp, "Location")); /* final response only */
  uat_http_response_release(&resp);

  req.follow = false;
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  assert_int_equal(resp.status, 302);
  assert_string_equal(uat_http_response_header(&resp, "location"), "/redirect/2");
  uat_http_response_release(&resp);

  req = get(url_of(fx, "/redirect/12"));
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
  assert_non_null(strstr(err.text, "more than 10 redirects"));
  assert_non_null(strstr(err.text, "/redirect/12"));
}

/* A redirect to another scheme must not let a script read local files. */
static void test_only_http_schemes(void **state) {
  struct fixture *fx = *state;
  struct uat_http_response resp;
  struct uat_error err = {""};
  struct uat_http_request req = get(url_of(fx, "/redirect-to?url=file:///etc/passwd"));
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
  assert_null(strstr(err.text, "root:"));
  req = get("file:///etc/passwd");
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
  assert_non_null(strstr(err.text, "GET file:///etc/passwd: not a valid http:// or https:// URL"));
}

static void test_network_failures(void **state) {
  struct fixture *fx = *state;
  static const struct {
    const char *url, *want;
  } cases[] = {
      {"http://127.0.0.1:9/x", "GET http://127.0.0.1:9/x: connection refused"},
      {"http://foo.invalid/x", "GET http://foo.invalid/x: could not resolve host 'foo.invalid'"},
      {"http://[bad/x", "GET http://[bad/x: not a valid"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_http_request req = get(cases[i].url);
    struct uat_http_response resp;
    struct uat_error err = {""};
    assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
    if (!strstr(err.text, cases[i].want))
      fail_msg("error \"%s\" lacks \"%s\"", err.text, cases[i].want);
    assert_false(resp.timed_out);
    assert_null(resp.body);
  }
}

/* A one-shot server on 127.0.0.1 that answers the first request with canned bytes, for
 * replies libmicrohttpd would never send. */
struct raw_server {
  int fd;
  unsigned port;
  const char *reply;
  size_t reply_len;
  pthread_t thread;
};

static void *raw_serve(void *arg) {
  struct raw_server *rs = arg;
  int c = accept(rs->fd, NULL, NULL);
  if (c >= 0) {
    char buf[4096];
    ssize_t n = read(c, buf, sizeof buf); /* the request fits in one read on loopback */
    (void)n;
    for (size_t done = 0; done < rs->reply_len;) {
      ssize_t w = write(c, rs->reply + done, rs->reply_len - done);
      if (w <= 0)
        break;
      done += (size_t)w;
    }
    close(c);
  }
  return NULL;
}

static void raw_start(struct raw_server *rs, const char *reply, size_t len) {
  rs->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(rs->fd >= 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(rs->fd, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(rs->fd, 1), 0);
  socklen_t alen = sizeof addr;
  assert_int_equal(getsockname(rs->fd, (struct sockaddr *)&addr, &alen), 0);
  rs->port = ntohs(addr.sin_port);
  rs->reply = reply;
  rs->reply_len = len;
  assert_int_equal(pthread_create(&rs->thread, NULL, raw_serve, rs), 0);
}

static void raw_stop(struct raw_server *rs) {
  pthread_join(rs->thread, NULL);
  close(rs->fd);
}

/* Replies that are not HTTP are named as such, not as a bad URL or as lack of memory. */
static void test_broken_replies(void **state) {
  struct fixture *fx = *state;
  static char giant[200 * 1024];
  int n = snprintf(giant, sizeof giant, "HTTP/1.1 200 OK\r\nX-Big: ");
  memset(giant + n, 'a', sizeof giant - (size_t)n);
  static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";
  memcpy(giant + sizeof giant - sizeof tail, tail, sizeof tail); /* NUL-terminated */
  static const struct {
    const char *reply;
    const char *want, *unwanted;
  } cases[] = {
      {"NOT HTTP AT ALL\r\n\r\n", "the server's reply is not HTTP (", "not a valid http"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon here\r\n\r\nok",
       "the server's reply is not valid HTTP (", NULL},
      {giant, "a response header line longer than 100 KB", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct raw_server rs;
    raw_start(&rs, cases[i].reply,
              cases[i].reply == giant ? sizeof giant - 1 : strlen(cases[i].reply));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", rs.port);
    struct uat_http_client *client = uat_http_client_new(false, NULL);
    assert_non_null(client);
    struct uat_http_request req = get(url);
    struct uat_http_response resp;
    struct uat_error err = {""};
    assert_int_equal(uat_http_client_send(client, &req, &resp, &err), -1);
    uat_http_client_free(client);
    raw_stop(&rs);
    if (!strstr(err.text, cases[i].want) || !strstr(err.text, url))
      fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err.text, cases[i].want);
    if (cases[i].unwanted && strstr(err.text, cases[i].unwanted))
      fail_msg("case %zu: error \"%s\" says \"%s\"", i, err.text, cases[i].unwanted);
  }
  /* A redirect to another scheme names the redirect. */
  struct uat_http_request req = get(url_of(fx, "/redirect-to?url=file:///etc/passwd"));
  struct uat_http_response resp;
  struct uat_error err = {""};
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
  assert_non_null(strstr(err.text, "redirected to a URL that is not a valid http:// or https://"));
}

static void test_timeout(void **state) {
  struct fixture *fx = *state;
  struct uat_http_request req = get(url_of(fx, "/slow?ms=3000"));
  req.timeout_s = 0.3;
  struct uat_http_response resp;
  struct uat_error err = {""};
  double start = now();
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
  double took = now() - start;
  assert_true(took >= 0.25 && took < 2.9); /* cut before the server answers at 3 s */
  assert_true(resp.timed_out);
  assert_non_null(strstr(err.text, "/slow?ms=3000: timed out after 0.3s"));
}

static void test_body_cap(void **state) {
  struct fixture *fx = *state;
  static const struct {
    const char *path;
    size_t cap;
    const char *want;
  } cases[] = {
      {"/big?bytes=30000000", (size_t)16 << 20, "exceeds the 16 MiB cap"},
      {"/big?bytes=30000000&chunked=1", (size_t)16 << 20, "exceeds the 16 MiB cap"},
      {"/big?bytes=5000&chunked=1", 4096, "exceeds the 4 KiB cap"},
      {"/big?bytes=101", 100, "exceeds the 100 bytes cap"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_http_request req = get(url_of(fx, cases[i].path));
    req.max_body = cases[i].cap;
    struct uat_http_response resp;
    struct uat_error err = {""};
    assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), -1);
    if (!strstr(err.text, cases[i].want) || !strstr(err.text, "response body of GET http://"))
      fail_msg("error \"%s\" lacks \"%s\"", err.text, cases[i].want);
  }
  /* Exactly at the cap is fine. */
  struct uat_http_request req = get(url_of(fx, "/big?bytes=4096&chunked=1"));
  req.max_body = 4096;
  struct uat_http_response resp;
  struct uat_error err = {""};
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  assert_int_equal(resp.body_len, 4096);
  uat_http_response_release(&resp);
}

static const char *cookie_after_set(struct uat_http_client *client, struct fixture *fx, char *buf,
                                    size_t size) {
  struct uat_http_response resp;
  struct uat_error err = {""};
  struct uat_http_request req = get(url_of(fx, "/cookie/set?flavour=oat"));
  assert_int_equal(uat_http_client_send(client, &req, &resp, &err), 0);
  uat_http_response_release(&resp);
  req = get(url_of(fx, "/cookie/get"));
  assert_int_equal(uat_http_client_send(client, &req, &resp, &err), 0);
  snprintf(buf, size, "%s", resp.body);
  uat_http_response_release(&resp);
  return buf;
}

static void test_cookie_jar_only_with_cookies(void **state) {
  struct fixture *fx = *state;
  char buf[256];
  struct uat_http_client *session = uat_http_client_new(true, NULL);
  assert_non_null(session);
  assert_string_equal(cookie_after_set(session, fx, buf, sizeof buf), "flavour=oat");
  uat_http_client_free(session);
  assert_string_equal(cookie_after_set(fx->client, fx, buf, sizeof buf), "");
}

static void test_dump_masks_credentials(void **state) {
  struct fixture *fx = *state;
  char body[3000];
  memset(body, 'b', sizeof body - 1);
  body[sizeof body - 1] = '\0';
  struct uat_http_header_field headers[] = {{"authorization", "Token hunter2"},
                                            {"Cookie", "sid=hunter2"},
                                            {"Proxy-Authorization", "Basic hunter2"},
                                            {"X-Visible", "shown"}};
  struct uat_http_request req = get(url_of(fx, "/cookie/set?sid=abc"));
  req.headers = headers;
  req.nheaders = 4;
  req.body = body;
  req.body_len = strlen(body);
  struct uat_http_response resp;
  struct uat_error err = {""};
  assert_int_equal(uat_http_client_send(fx->client, &req, &resp, &err), 0);
  char *dump = uat_http_dump(&req, &resp, NULL);
  assert_non_null(dump);
  assert_null(strstr(dump, "hunter2"));
  assert_null(strstr(dump, "sid=abc;"));
  assert_non_null(strstr(dump, "> GET http://127.0.0.1:"));
  assert_non_null(strstr(dump, "> authorization: ***"));
  assert_non_null(strstr(dump, "> Cookie: ***"));
  assert_non_null(strstr(dump, "> X-Visible: shown"));
  assert_non_null(strstr(dump, "< 200 ("));
  assert_non_null(strstr(dump, "< Set-Cookie: ***"));
  assert_non_null(strstr(dump, "[951 more bytes]"));
  free(dump);
  uat_http_response_release(&resp);

  dump = uat_http_dump(&req, NULL, "connection refused");
  assert_non_null(dump);
  assert_non_null(strstr(dump, "< failed: connection refused"));
  free(dump);
}

int main(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_json),
      cmocka_unit_test(test_methods_and_bodies),
      cmocka_unit_test(test_head),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_only_http_schemes),
      cmocka_unit_test(test_network_failures),
      cmocka_unit_test(test_broken_replies),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_body_cap),
      cmocka_unit_test(test_cookie_jar_only_with_cookies),
      cmocka_unit_test(test_dump_masks_credentials),
  };
  int failed = cmocka_run_group_tests(tests, setup, teardown);
  curl_global_cleanup();
  return failed;
}
