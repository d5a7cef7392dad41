/* The sign-off page's server without a ledger: a fake app behind uat_server, driven over
 * loopback with libcurl. Who is asking (sessions from the htpasswd form, a proxy header
 * only from a trusted range), the CSRF token on every POST (the app never sees a refused
 * one), the security headers on every answer, and the routes. */
#include "serve/serve.h"

#include <crypt.h>
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* What the fake app saw and answers. */
struct fake {
  int decisions;
  char user[128], item[128], note[256];
  bool approve;
  int decide_status;
};

static int fake_page(void *data, const struct uat_page_who *who, const char *flash, bool ok,
                     struct uat_strbuf *html) {
  uat_strbuf_addf(html, "page user=%s csrf=%s flash=%s", who->user, who->csrf, flash ? flash : "-");
  return 200;
}

static int fake_status(void *data, const struct uat_page_who *who, struct uat_strbuf *html) {
  return uat_page_status(html, who, "GATE CLOSED", 3) == 0 ? 200 : 500;
}

static int fake_decide(void *data, const char *user, const struct uat_serve_decision *d,
                       struct uat_strbuf *msg) {
  struct fake *f = data;
  f->decisions++;
  snprintf(f->user, sizeof f->user, "%s", user);
  snprintf(f->item, sizeof f->item, "%s", d->item);
  snprintf(f->note, sizeof f->note, "%s", d->note);
  f->approve = d->approve;
  uat_strbuf_adds(msg, "decided");
  return f->decide_status;
}

struct answer {
  long status;
  struct uat_strbuf body, headers;
};

static size_t keep(char *data, size_t size, size_t n, void *sb) {
  return uat_strbuf_add(sb, data, size * n) == 0 ? size * n : 0;
}

/* One request on handle h (its cookie engine keeps the session); post NULL: GET. */
static void request(CURL *h, const char *url, const char *post, const char *header,
                    struct answer *a) {
  uat_strbuf_init(&a->body, 0);
  uat_strbuf_init(&a->headers, 0);
  uat_strbuf_adds(&a->body, "");
  struct curl_slist *hs = header ? curl_slist_append(NULL, header) : NULL;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a->body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, keep);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a->headers);
  if (post)
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
  else
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  assert_int_equal(curl_easy_perform(h), CURLE_OK);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
  curl_slist_free_all(hs);
}

static void answer_release(struct answer *a) {
  uat_strbuf_release(&a->body);
  uat_strbuf_release(&a->headers);
}

/* The value after marker in text, up to the next space or quote, into out. */
static void token_after(const char *text, const char *marker, char *out, size_t size) {
  const char *p = strstr(text, marker);
  assert_non_null(p);
  p += strlen(marker);
  size_t n = strcspn(p, " \"");
  assert_true(n < size);
  memcpy(out, p, n);
  out[n] = '\0';
}

struct fixture {
  struct fake fake;
  struct uat_serve_app app;
  struct uat_serve_config cfg;
  struct uat_htpasswd *htpasswd;
  struct uat_cidr trusted;
  struct uat_server *server;
  char path[64];
  char base[128];
  char url[256];
};

static void start(struct fixture *f, enum uat_serve_auth auth, const char *trusted) {
  memset(f, 0, sizeof *f);
  f->fake.decide_status = 200;
  f->app = (struct uat_serve_app){&f->fake, fake_page, fake_status, fake_decide, NULL};
  char *salt = crypt_gensalt_ra("$2b$", 4, NULL, 0);
  struct crypt_data *cd = calloc(1, sizeof *cd);
  char line[256];
  snprintf(line, sizeof line, "myriam:%s\n", crypt_r("pw-of-myriam", salt, cd));
  free(salt);
  free(cd);
  snprintf(f->path, sizeof f->path, "/tmp/uat-serve-http-XXXXXX");
  int fd = mkstemp(f->path);
  assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
  close(fd);
  struct uat_error err;
  assert_int_equal(uat_htpasswd_load(f->path, &f->htpasswd, &err), 0);
  f->cfg = (struct uat_serve_config){
      .listen = "127.0.0.1:0", .auth = auth, .htpasswd = f->htpasswd, .header = "X-Forwarded-User"};
  if (trusted) {
    assert_int_equal(uat_cidr_parse(trusted, &f->trusted, &err), 0);
    f->cfg.trusted = &f->trusted;
    f->cfg.ntrusted = 1;
  }
  assert_int_equal(uat_server_start(&f->cfg, &f->app, &f->server, &err), 0);
  snprintf(f->base, sizeof f->base, "%.*s", (int)strlen(uat_server_url(f->server)) - 1,
           uat_server_url(f->server));
}

static void stop(struct fixture *f) {
  uat_server_stop(f->server);
  uat_htpasswd_free(f->htpasswd);
  unlink(f->path);
}

/* The URL of path on the fixture's server (in f->url: one request at a time). */
static char *at(struct fixture *f, const char *path) {
  snprintf(f->url, sizeof f->url, "%s%s", f->base, path);
  return f->url;
}

static CURL *browser(void) {
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_COOKIEFILE, ""); /* cookie engine on, nothing read */
  return h;
}

/* Signs in through the form; csrf receives the session's token. */
static void sign_in(struct fixture *f, CURL *h, char csrf[UAT_TOKEN_HEX]) {
  struct answer a;
  request(h, at(f, "/login"), NULL, NULL, &a);
  char form_csrf[UAT_TOKEN_HEX];
  token_after(a.body.buf, "name=\"csrf\" value=\"", form_csrf, sizeof form_csrf);
  answer_release(&a);
  char post[256];
  snprintf(post, sizeof post, "csrf=%s&user=myriam&password=pw-of-myriam", form_csrf);
  request(h, at(f, "/login"), post, NULL, &a);
  assert_int_equal(a.status, 303);
  assert_non_null(strstr(a.headers.buf, "Set-Cookie: uatrun_session="));
  answer_release(&a);
  request(h, at(f, "/"), NULL, NULL, &a);
  assert_int_equal(a.status, 200);
  token_after(a.body.buf, "csrf=", csrf, UAT_TOKEN_HEX);
  assert_non_null(strstr(a.body.buf, "user=myriam"));
  answer_release(&a);
}

static void test_csrf_on_every_post(void **state) {
  struct fixture f;
  start(&f, UAT_SERVE_HTPASSWD, NULL);
  CURL *h = browser();
  struct answer a;
  request(h, at(&f, "/"), NULL, NULL, &a);
  assert_int_equal(a.status, 303); /* not signed in: to the form */
  assert_non_null(strstr(a.headers.buf, "Location: /login"));
  answer_release(&a);
  char csrf[UAT_TOKEN_HEX];
  sign_in(&f, h, csrf);
  static const char *const refused[] = {
      "item=x&action=approve",
      "csrf=&item=x&action=approve",
      "csrf=0000000000000000000000000000000000000000000000000000000000000000&item=x&action=approve",
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    request(h, at(&f, "/decide"), refused[i], NULL, &a);
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(a.body.buf, "security token is missing or wrong"));
    answer_release(&a);
  }
  char post[256];
  snprintf(post, sizeof post, "csrf=%.20s&item=x&action=approve", csrf); /* a prefix */
  request(h, at(&f, "/decide"), post, NULL, &a);
  assert_int_equal(a.status, 403);
  answer_release(&a);
  request(h, at(&f, "/logout"), "", NULL, &a); /* logout needs it too */
  assert_int_equal(a.status, 403);
  answer_release(&a);
  assert_int_equal(f.fake.decisions, 0);

  f.fake.decide_status = 409;
  snprintf(post, sizeof post, "csrf=%s&item=support-briefed&action=reject&note=why&user=matis",
           csrf);
  request(h, at(&f, "/decide"), post, NULL, &a);
  assert_int_equal(a.status, 409); /* the app's answer, with its page */
  assert_non_null(strstr(a.body.buf, "flash=decided"));
  answer_release(&a);
  assert_int_equal(f.fake.decisions, 1);
  assert_string_equal(f.fake.user, "myriam"); /* the session's, not the form's user= */
  assert_string_equal(f.fake.item, "support-briefed");
  assert_string_equal(f.fake.note, "why");
  assert_false(f.fake.approve);

  snprintf(post, sizeof post, "csrf=%s&item=x&action=maybe", csrf);
  request(h, at(&f, "/decide"), post, NULL, &a);
  assert_int_equal(a.status, 400);
  answer_release(&a);
  snprintf(post, sizeof post, "csrf=%s", csrf);
  request(h, at(&f, "/logout"), post, NULL, &a);
  assert_int_equal(a.status, 303);
  answer_release(&a);
  snprintf(post, sizeof post, "csrf=%s&item=x&action=approve", csrf);
  request(h, at(&f, "/decide"), post, NULL, &a);
  assert_int_equal(a.status, 403); /* the session is gone */
  answer_release(&a);
  assert_int_equal(f.fake.decisions, 1);
  curl_easy_cleanup(h);
  stop(&f);
}

static void test_login_refusals(void **state) {
  struct fixture f;
  start(&f, UAT_SERVE_HTPASSWD, NULL);
  CURL *h = browser();
  struct answer a;
  request(h, at(&f, "/login"), "user=myriam&password=pw-of-myriam", NULL, &a);
  assert_int_equal(a.status, 403); /* no form token */
  assert_non_null(strstr(a.body.buf, "the sign-in form was too old"));
  answer_release(&a);
  request(h, at(&f, "/login"), NULL, NULL, &a);
  char form_csrf[UAT_TOKEN_HEX];
  token_after(a.body.buf, "name=\"csrf\" value=\"", form_csrf, sizeof form_csrf);
  answer_release(&a);
  char post[256];
  snprintf(post, sizeof post, "csrf=%s&user=myriam&password=wrong", form_csrf);
  request(h, at(&f, "/login"), post, NULL, &a);
  assert_int_equal(a.status, 403);
  assert_non_null(strstr(a.body.buf, "wrong user name or password"));
  assert_null(strstr(a.headers.buf, "uatrun_session="));
  answer_release(&a);
  /* Wrong passwords for one name: after a few, that name waits (429), even with the right
   * password; other names do not. */
  for (int i = 1; i < UAT_THROTTLE_FREE + 1; i++) {
    request(h, at(&f, "/login"), NULL, NULL, &a);
    token_after(a.body.buf, "name=\"csrf\" value=\"", form_csrf, sizeof form_csrf);
    answer_release(&a);
    snprintf(post, sizeof post, "csrf=%s&user=myriam&password=%s", form_csrf,
             i < UAT_THROTTLE_FREE ? "wrong" : "pw-of-myriam");
    request(h, at(&f, "/login"), post, NULL, &a);
    assert_int_equal(a.status, i < UAT_THROTTLE_FREE ? 403 : 429);
    if (i == UAT_THROTTLE_FREE)
      assert_non_null(strstr(a.body.buf, "too many wrong passwords for this name: try again in"));
    answer_release(&a);
  }
  /* A used form token does not work twice. */
  snprintf(post, sizeof post, "csrf=%s&user=myriam&password=pw-of-myriam", form_csrf);
  request(h, at(&f, "/login"), post, NULL, &a);
  assert_int_equal(a.status, 403);
  answer_release(&a);
  curl_easy_cleanup(h);
  stop(&f);
}

static void test_header_identity(void **state) {
  struct fixture f;
  start(&f, UAT_SERVE_HEADER, "10.0.0.0/8"); /* loopback is not the proxy */
  CURL *h = browser();
  struct answer a;
  request(h, at(&f, "/"), NULL, "X-Forwarded-User: myriam", &a);
  assert_int_equal(a.status, 403);
  assert_non_null(strstr(a.body.buf, "only from its trusted proxy"));
  answer_release(&a);
  curl_easy_cleanup(h);
  stop(&f);

  start(&f, UAT_SERVE_HEADER, "127.0.0.0/8");
  h = browser();
  request(h, at(&f, "/"), NULL, NULL, &a);
  assert_int_equal(a.status, 403); /* the proxy named nobody */
  answer_release(&a);
  request(h, at(&f, "/"), NULL, "X-Forwarded-User: myriam", &a);
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(a.body.buf, "user=myriam"));
  char csrf[UAT_TOKEN_HEX];
  token_after(a.body.buf, "csrf=", csrf, sizeof csrf);
  answer_release(&a);
  char post[256];
  snprintf(post, sizeof post, "csrf=%s&item=x&action=approve", csrf);
  request(h, at(&f, "/decide"), post, "X-Forwarded-User: matis", &a);
  assert_int_equal(a.status, 403); /* myriam's session, matis's header */
  answer_release(&a);
  request(h, at(&f, "/decide"), post, "X-Forwarded-User: myriam", &a);
  assert_int_equal(a.status, 200);
  answer_release(&a);
  assert_int_equal(f.fake.decisions, 1);
  assert_string_equal(f.fake.user, "myriam");
  curl_easy_cleanup(h);
  stop(&f);
}

static void test_headers_and_routes(void **state) {
  struct fixture f;
  start(&f, UAT_SERVE_HTPASSWD, NULL);
  CURL *h = browser();
  static const struct {
    const char *path;
    long status;
  } routes[] = {{"/style.css", 200}, {"/favicon.ico", 204}, {"/login", 200},
                {"/nowhere", 403},   {"/status", 303},      {"/artifact/0", 403}};
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    struct answer a;
    request(h, at(&f, routes[i].path), NULL, NULL, &a);
    if (a.status != routes[i].status)
      fail_msg("GET %s: %ld, expected %ld", routes[i].path, a.status, routes[i].status);
    assert_non_null(strstr(a.headers.buf,
                           "Content-Security-Policy: default-src 'none'; style-src 'self'; "
                           "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"));
    assert_non_null(strstr(a.headers.buf, "X-Content-Type-Options: nosniff"));
    answer_release(&a);
  }
  char csrf[UAT_TOKEN_HEX];
  sign_in(&f, h, csrf);
  struct answer a;
  request(h, at(&f, "/status"), NULL, NULL, &a);
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(a.body.buf, "<pre id=\"status\">GATE CLOSED</pre>"));
  answer_release(&a);
  request(h, at(&f, "/artifact/0"), NULL, NULL, &a);
  assert_int_equal(a.status, 404); /* the app has no run report */
  answer_release(&a);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  request(h, at(&f, "/"), NULL, NULL, &a);
  assert_int_equal(a.status, 405);
  answer_release(&a);
  curl_easy_cleanup(h);
  stop(&f);
}

static void test_taken_port(void **state) {
  struct fixture f;
  start(&f, UAT_SERVE_HTPASSWD, NULL);
  const char *port = strrchr(f.base, ':') + 1;
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%s", port);
  struct uat_serve_config cfg = f.cfg;
  cfg.listen = listen;
  struct uat_server *second = (void *)1;
  struct uat_error err;
  assert_int_equal(uat_server_start(&cfg, &f.app, &second, &err), -1);
  assert_null(second);
  char want[256];
  snprintf(want, sizeof want,
           "cannot listen on %s: the port is already in use; stop what uses it or choose "
           "another with --listen HOST:PORT",
           listen);
  assert_string_equal(err.text, want);
  stop(&f);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csrf_on_every_post), cmocka_unit_test(test_login_refusals),
      cmocka_unit_test(test_header_identity),    cmocka_unit_test(test_headers_and_routes),
      cmocka_unit_test(test_taken_port),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
