/* The sign-off page's identity pieces: htpasswd files (bcrypt only, FILE:LINE errors), the
 * trusted-proxy ranges, random tokens compared in constant time, the session table, and
 * --listen addresses. */
#include "serve/serve.h"
#include "serve/serve_auth.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* A bcrypt hash of password at cost 4 (the lowest: the tests need no strength). */
static char *bcrypt(const char *password) {
  char *salt = crypt_gensalt_ra("$2b$", 4, NULL, 0);
  struct crypt_data *data = calloc(1, sizeof *data);
  char *hash = strdup(crypt_r(password, salt, data));
  free(salt);
  free(data);
  return hash;
}

static char *write_file(const char *text) {
  char *path = strdup("/tmp/uat-htpasswd-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void test_htpasswd_checks_bcrypt(void **state) {
  char *h1 = bcrypt("right horse"), *h2 = bcrypt("battery staple");
  char text[512];
  snprintf(text, sizeof text, "# the support team\n\nmyriam:%s\r\nmatis:%s\n", h1, h2);
  char *path = write_file(text);
  struct uat_htpasswd *h;
  struct uat_error err;
  assert_int_equal(uat_htpasswd_load(path, &h, &err), 0);
  assert_true(uat_htpasswd_check(h, "myriam", "right horse"));
  assert_true(uat_htpasswd_check(h, "matis", "battery staple"));
  assert_false(uat_htpasswd_check(h, "myriam", "battery staple")); /* another's password */
  assert_false(uat_htpasswd_check(h, "myriam", "right hors"));
  assert_false(uat_htpasswd_check(h, "myriam", ""));
  assert_false(uat_htpasswd_check(h, "nobody", "right horse"));
  assert_false(uat_htpasswd_check(h, "", ""));
  assert_false(uat_htpasswd_check(h, NULL, "x"));
  assert_false(uat_htpasswd_check(h, "myriam", NULL));
  uat_htpasswd_free(h);
  unlink(path);
  free(path);
  free(h1);
  free(h2);
}

static const struct {
  const char *text, *error;
} bad_files[] = {
    {"myriam:$apr1$x$y\n", ":1: the password of 'myriam' is not a bcrypt hash; only bcrypt is "
                           "accepted: make the line with `htpasswd -B -C 12"},
    {"# c\nmatis:{SHA}abc\n", ":2: the password of 'matis' is not a bcrypt hash"},
    {"matis:plain\n", ":1: the password of 'matis' is not a bcrypt hash"},
    {"no colon here\n", ":1: expected 'user:bcrypt-hash'"},
    {":$2y$05$abc\n", ":1: expected 'user:bcrypt-hash'"},
    {"a:$2y$05$abc\na:$2y$05$def\n", ":2: 'a' is listed twice"},
    {"# nobody\n\n", "lists nobody: add 'user:bcrypt-hash' lines"},
};

static void test_htpasswd_refuses_other_schemes(void **state) {
  for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
    char *path = write_file(bad_files[i].text);
    struct uat_htpasswd *h = (void *)1;
    struct uat_error err;
    assert_int_equal(uat_htpasswd_load(path, &h, &err), -1);
    assert_null(h);
    if (!strstr(err.text, bad_files[i].error) || !strstr(err.text, path))
      fail_msg("%s: got '%s'", bad_files[i].text, err.text);
    unlink(path);
    free(path);
  }
  struct uat_htpasswd *h;
  struct uat_error err;
  assert_int_equal(uat_htpasswd_load("/nonexistent/htpasswd", &h, &err), -1);
  assert_non_null(strstr(err.text, "/nonexistent/htpasswd"));
}

static struct sockaddr_storage addr(const char *text) {
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
    v4->sin_family = AF_INET;
  else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1)
    v6->sin6_family = AF_INET6;
  else
    fail_msg("bad test address %s", text);
  return ss;
}

static const struct {
  const char *range, *peer;
  bool inside;
} cidr_cases[] = {
    {"127.0.0.1/32", "127.0.0.1", true},
    {"127.0.0.1/32", "127.0.0.2", false},
    {"127.0.0.1", "127.0.0.1", true},
    {"10.0.0.0/8", "10.255.1.2", true},
    {"10.0.0.0/8", "11.0.0.1", false},
    {"192.168.1.128/25", "192.168.1.200", true},
    {"192.168.1.128/25", "192.168.1.127", false},
    {"0.0.0.0/0", "8.8.8.8", true},
    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
    {"10.0.0.0/8", "::ffff:11.1.2.3", false},
    {"::1/128", "::1", true},
    {"::1/128", "::2", false},
    {"fd00::/8", "fd12:3456::1", true},
    {"fd00::/8", "fe80::1", false},
    {"127.0.0.1/32", "::1", false},
    {"::1/128", "127.0.0.1", false},
    {"10.0.0.0/7", "11.1.1.1", true},
};

static void test_cidr(void **state) {
  for (size_t i = 0; i < sizeof cidr_cases / sizeof cidr_cases[0]; i++) {
    struct uat_cidr c;
    struct uat_error err;
    assert_int_equal(uat_cidr_parse(cidr_cases[i].range, &c, &err), 0);
    struct sockaddr_storage peer = addr(cidr_cases[i].peer);
    if (uat_cidr_contains(&c, (struct sockaddr *)&peer) != cidr_cases[i].inside)
      fail_msg("%s contains %s: expected %d", cidr_cases[i].range, cidr_cases[i].peer,
               cidr_cases[i].inside);
  }
  static const char *const bad[] = {"",          "10.0.0.0/33", "::1/129",
                                    "10.0.0.0/", "10.0.0.0/x",  "host.example/8",
                                    "10.0.0/8",  "/8",          "10.0.0.0/-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct uat_cidr c;
    struct uat_error err;
    if (uat_cidr_parse(bad[i], &c, &err) != -1)
      fail_msg("'%s' was accepted", bad[i]);
    assert_true(strstr(err.text, "address range") || strstr(err.text, "prefix length"));
  }
  assert_false(uat_cidr_contains(NULL, NULL));
}

static void test_tokens(void **state) {
  char a[UAT_TOKEN_HEX], b[UAT_TOKEN_HEX];
  assert_int_equal(uat_token_new(a), 0);
  assert_int_equal(uat_token_new(b), 0);
  assert_int_equal(strlen(a), 64);
  assert_int_equal(strspn(a, "0123456789abcdef"), 64);
  assert_string_not_equal(a, b);
  assert_true(uat_token_equal(a, a));
  char copy[UAT_TOKEN_HEX];
  memcpy(copy, a, sizeof copy);
  assert_true(uat_token_equal(a, copy));
  copy[63] = copy[63] == '0' ? '1' : '0';
  assert_false(uat_token_equal(a, copy)); /* the last digit counts */
  char prefix[10];
  snprintf(prefix, sizeof prefix, "%.9s", a);
  assert_false(uat_token_equal(a, prefix)); /* a prefix is not the token */
  assert_false(uat_token_equal(a, ""));
  assert_false(uat_token_equal("", ""));
  assert_false(uat_token_equal(a, NULL));
  assert_false(uat_token_equal(NULL, NULL));
}

static void test_sessions(void **state) {
  struct uat_sessions s;
  assert_int_equal(uat_sessions_init(&s, 3, 100), 0);
  char id[UAT_TOKEN_HEX], csrf[UAT_TOKEN_HEX];
  assert_int_equal(uat_sessions_create(&s, "myriam", 1000, id, csrf), 0);
  assert_string_not_equal(id, csrf);
  struct uat_session_entry e;
  assert_true(uat_sessions_find(&s, id, 1050, &e));
  assert_string_equal(e.user, "myriam");
  assert_string_equal(e.csrf, csrf);
  assert_true(uat_sessions_find(&s, id, 1140, &e));  /* each use extends it: 1150 + 100 */
  assert_false(uat_sessions_find(&s, id, 1250, &e)); /* idle past its life */
  assert_false(uat_sessions_find(&s, NULL, 1000, &e));
  assert_false(uat_sessions_find(&s, "", 1000, &e));
  assert_false(uat_sessions_find(&s, csrf, 1000, &e)); /* the CSRF token is not an id */
  /* A full table gives the slot expiring first to the newcomer. */
  char ids[4][UAT_TOKEN_HEX];
  for (int i = 0; i < 4; i++)
    assert_int_equal(uat_sessions_create(&s, "p", 2000 + i, ids[i], csrf), 0);
  assert_false(uat_sessions_find(&s, ids[0], 2010, &e));
  for (int i = 1; i < 4; i++)
    assert_true(uat_sessions_find(&s, ids[i], 2010, &e));
  uat_sessions_remove(&s, ids[2]);
  assert_false(uat_sessions_find(&s, ids[2], 2010, &e));
  assert_true(uat_sessions_find(&s, ids[3], 2010, &e));
  char long_name[UAT_USER_MAX + 1];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[UAT_USER_MAX] = '\0';
  assert_int_equal(uat_sessions_create(&s, long_name, 2000, id, csrf), -1);
  uat_sessions_release(&s);
}

static void test_throttle(void **state) {
  struct uat_throttle t;
  assert_int_equal(uat_throttle_init(&t), 0);
  for (int i = 1; i < UAT_THROTTLE_FREE; i++) {
    uat_throttle_failed(&t, "myriam", 1000);
    assert_int_equal(uat_throttle_wait(&t, "myriam", 1000), 0); /* a few typos are free */
  }
  uat_throttle_failed(&t, "myriam", 1000);
  assert_int_equal(uat_throttle_wait(&t, "myriam", 1000), 30);
  assert_int_equal(uat_throttle_wait(&t, "myriam", 1029), 1);
  assert_int_equal(uat_throttle_wait(&t, "myriam", 1030), 0);
  assert_int_equal(uat_throttle_wait(&t, "matis", 1000), 0); /* per name */
  uat_throttle_failed(&t, "myriam", 1030);
  assert_int_equal(uat_throttle_wait(&t, "myriam", 1030), 60); /* doubling */
  for (int i = 0; i < 20; i++)
    uat_throttle_failed(&t, "myriam", 2000);
  assert_int_equal(uat_throttle_wait(&t, "myriam", 2000), 900); /* capped */
  uat_throttle_succeeded(&t, "myriam");
  assert_int_equal(uat_throttle_wait(&t, "myriam", 2000), 0);
  /* A flood of other names takes slots used longest ago, never a crash. */
  char name[32];
  for (int i = 0; i < 3 * UAT_THROTTLE_NAMES; i++) {
    snprintf(name, sizeof name, "guess%d", i);
    uat_throttle_failed(&t, name, 3000 + i);
  }
  uat_throttle_release(&t);
}

static void test_listen(void **state) {
  struct sockaddr_storage a;
  socklen_t len;
  struct uat_error err;
  assert_int_equal(uat_serve_parse_listen("127.0.0.1:8642", &a, &len, &err), 0);
  assert_int_equal(a.ss_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)&a)->sin_port), 8642);
  assert_int_equal(uat_serve_parse_listen("[::1]:0", &a, &len, &err), 0);
  assert_int_equal(a.ss_family, AF_INET6);
  static const char *const bad[] = {
      "8642",         "127.0.0.1",    "127.0.0.1:", ":8642", "127.0.0.1:70000",
      "127.0.0.1:-1", "127.0.0.1:80x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (uat_serve_parse_listen(bad[i], &a, &len, &err) != -1)
      fail_msg("--listen '%s' was accepted", bad[i]);
    assert_non_null(strstr(err.text, "is not HOST:PORT"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_htpasswd_checks_bcrypt),
      cmocka_unit_test(test_htpasswd_refuses_other_schemes),
      cmocka_unit_test(test_cidr),
      cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_sessions),
      cmocka_unit_test(test_throttle),
      cmocka_unit_test(test_listen),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
