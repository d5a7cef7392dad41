/* Network faults of a broken staging, each met by a check that ends within its timeout
 * with one clear sentence: the URL (secrets redacted), what happened, what to do. Run
 * through the sandbox against the loopback test server and the fault servers
 * (tests/support/faultserver.h): a reset mid-body, a TLS handshake with a self-signed
 * certificate, a name under .invalid, a body trickling one byte a second, a 2 GiB body, a
 * redirect loop. Time bounds are generous (a shared, slow machine) but far below what a
 * hang or a buffered body would take. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/sandbox.h"
#include "faultserver.h"
#include "testserver.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define SECRET "n3tw0rk-s3cr3t"
#define MiB ((size_t)1024 * 1024)

struct fixture {
  struct uat_testserver *server;
  struct uat_faultserver *faults;
  char base_url[128];
  struct uat_secret secret;
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char err[256];
  f->server = uat_testserver_start(0, err, sizeof err);
  if (!f->server)
    fail_msg("test server: %s", err);
  f->faults = uat_faultserver_start(err, sizeof err);
  if (!f->faults)
    fail_msg("fault server: %s", err);
  snprintf(f->base_url, sizeof f->base_url, "http://127.0.0.1:%u/", uat_testserver_port(f->server));
  f->secret = (struct uat_secret){.name = "token", .env = "TOKEN", .value = SECRET};
  f->pb = (struct uat_playbook){.path = "playbook.yml",
                                .dir = ".",
                                .name = "network faults",
                                .base_url = f->base_url,
                                .timeout_s = 10.0,
                                .secrets = &f->secret,
                                .nsecrets = 1};
  f->check = (struct uat_check){.id = "c",
                                .title = "c",
                                .script_path = "check.lua",
                                .chunk_name = "check.lua",
                                .memory_cap = 64 * MiB};
  uat_redactor_init(&f->red);
  assert_int_equal(uat_redactor_add(&f->red, SECRET), 0);
  f->env = (struct uat_check_env){
      .playbook = &f->pb, .check = &f->check, .redactor = &f->red, .base_url = f->base_url};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_faultserver_stop(f->faults);
  uat_testserver_stop(f->server);
  uat_redactor_release(&f->red);
  free(f);
  return 0;
}

/* Replaces @PORT@, @RESET@ and @TLS@ with the servers' ports. */
static char *with_ports(const struct fixture *f, const char *text) {
  const struct {
    const char *mark;
    unsigned port;
  } marks[] = {{"@PORT@", uat_testserver_port(f->server)},
               {"@RESET@", uat_faultserver_reset_port(f->faults)},
               {"@TLS@", uat_faultserver_tls_port(f->faults)}};
  size_t n = strlen(text) * 2 + 64;
  char *out = malloc(n);
  assert_non_null(out);
  size_t o = 0;
  for (const char *p = text; *p;) {
    size_t m = 0;
    while (m < 3 && strncmp(p, marks[m].mark, strlen(marks[m].mark)) != 0)
      m++;
    if (m < 3) {
      o += (size_t)snprintf(out + o, n - o, "%u", marks[m].port);
      p += strlen(marks[m].mark);
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  return out;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct fault_case {
  const char *name;
  const char *source;
  double timeout_s;     /* the check's */
  const char *error[4]; /* substrings of the check's error, in order (after port marks) */
  double min_seconds;   /* the check must not end before (0: no lower bound) */
  double max_seconds;   /* nor after */
};

static const struct fault_case cases[] = {
    {"connection reset in the middle of the body",
     "expect.truthy(true)\n"
     "http.get('http://127.0.0.1:@RESET@/file?token=' .. secrets.token)\n",
     10,
     {"check.lua:2: GET http://127.0.0.1:@RESET@/file?token=***: ",
      "connection broken during the exchange (",
      "); check the server's logs (or a proxy in between) for why it dropped the connection"},
     0,
     8},
    {"TLS handshake with a self-signed certificate",
     "expect.truthy(true)\n"
     "http.get('https://127.0.0.1:@TLS@/health')\n",
     10,
     {"GET https://127.0.0.1:@TLS@/health: TLS error (", "self-signed certificate",
      "check the server's certificate: it must be valid for the host name and issued by a CA "
      "this system trusts"},
     0,
     8},
    {"a host name that does not resolve",
     "expect.truthy(true)\n"
     "http.get('http://uat-missing.invalid/health')\n",
     3,
     {"GET http://uat-missing.invalid/health: could not resolve host 'uat-missing.invalid'; "
      "check the host name"},
     0,
     3 + 4},
    {"a server trickling one byte a second",
     "expect.truthy(true)\n"
     "http.get('/trickle?bytes=100&token=' .. secrets.token)\n",
     2,
     {"GET http://127.0.0.1:@PORT@/trickle?bytes=100&token=***: timed out after ",
      "s without a complete reply: the check's own timeout ran out; if the server is only "
      "slow, raise the check's timeout"},
     1.9,
     2 + 4},
    {"a request timeout shorter than the check's",
     "expect.truthy(true)\n"
     "http.get('/trickle', { timeout = '500ms' })\n",
     10,
     {"GET http://127.0.0.1:@PORT@/trickle: timed out after 0.5s without a complete reply; if "
      "the server is only slow, raise the request's timeout (opts.timeout or target.timeout)"},
     0.45,
     0.5 + 4},
    {"a 2 GiB body with its length announced",
     "expect.truthy(true)\n"
     "http.get('/big?bytes=2147483648')\n",
     30,
     {"response body of GET http://127.0.0.1:@PORT@/big?bytes=2147483648 exceeds the 16 MiB "
      "cap; if such a body is expected, raise max_body in the request options"},
     0,
     10},
    {"a 2 GiB body streamed without a length",
     "expect.truthy(true)\n"
     "http.get('/big?bytes=2147483648&chunked=1', { max_body = 4 * 1024 * 1024 })\n",
     30,
     {"response body of GET http://127.0.0.1:@PORT@/big?bytes=2147483648&chunked=1 exceeds the "
      "4 MiB cap"},
     0,
     10},
    {"an endless redirect loop",
     "expect.truthy(true)\n"
     "http.get('/loop?token=' .. secrets.token)\n",
     10,
     {"GET http://127.0.0.1:@PORT@/loop?token=***: more than 10 redirects, likely a redirect "
      "loop; pass follow = false to see where the server sends it"},
     0,
     8},
};

static void assert_in_order(const char *text, const char *const *parts, const char *name) {
  const char *at = text;
  for (size_t i = 0; i < 4 && parts[i]; i++) {
    const char *hit = strstr(at, parts[i]);
    if (!hit)
      fail_msg("%s: error lacks \"%s\" (after what came before); it is: %s", name, parts[i], text);
    at = hit + strlen(parts[i]);
  }
}

static void test_faults(void **state) {
  struct fixture *f = *state;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct fault_case *c = &cases[i];
    char *source = with_ports(f, c->source);
    f->check.source = source;
    f->check.timeout_s = c->timeout_s;
    struct uat_check_result r = {0};
    struct uat_error err;
    double t0 = now_s();
    assert_int_equal(uat_sandbox_run(&f->env, &r, &err), 0);
    double took = now_s() - t0;
    /* A network failure raises (the contract): the check errors, it never passes. */
    if (r.outcome != UAT_OUTCOME_ERROR || !r.error)
      fail_msg("%s: outcome %s, error %s", c->name, uat_outcome_name(r.outcome),
               r.error ? r.error : "(none)");
    const char *expected[4] = {NULL};
    char *owned[4] = {NULL};
    for (size_t k = 0; k < 4 && c->error[k]; k++)
      expected[k] = owned[k] = with_ports(f, c->error[k]);
    assert_in_order(r.error, expected, c->name);
    if (strstr(r.error, SECRET))
      fail_msg("%s: the secret shows in: %s", c->name, r.error);
    if (took < c->min_seconds || took > c->max_seconds)
      fail_msg("%s: took %.2fs, expected %.1f..%.1fs", c->name, took, c->min_seconds,
               c->max_seconds);
    for (size_t k = 0; k < 4; k++)
      free(owned[k]);
    uat_check_result_clear(&r);
    f->check.source = NULL;
    free(source);
  }
  /* Neither 2 GiB body was held: the process never grew anywhere near it. */
  struct rusage use;
  assert_int_equal(getrusage(RUSAGE_SELF, &use), 0);
  if (use.ru_maxrss > 1024L * 1024) /* KiB */
    fail_msg("peak memory %ld KiB: a 2 GiB body was buffered", use.ru_maxrss);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  curl_global_cleanup();
  return failed;
}
