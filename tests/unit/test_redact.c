/* Secret redaction: plain, base64 and percent-encoded forms, overlaps, binary buffers. */
#include "util/redact.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

struct redact_case {
  const char *name;
  const char *secrets[3];
  const char *input;
  const char *output;
};

static const struct redact_case cases[] = {
    {"plain", {"hunter2"}, "token=hunter2&x=1", "token=***&x=1"},
    {"at both ends", {"hunter2"}, "hunter2 middle hunter2", "*** middle ***"},
    {"adjacent", {"hunter2"}, "hunter2hunter2", "******"},
    {"base64 form", {"hunter2"}, "Authorization: Basic aHVudGVyMg==", "Authorization: Basic ***"},
    {"percent-encoded form",
     {"p@ss word/1"},
     "GET /login?pw=p%40ss%20word%2F1&next=/",
     "GET /login?pw=***&next=/"},
    {"percent form and plain form", {"a b"}, "q=a%20b or a b", "q=*** or ***"},
    {"lower-case percent form", {"p/q=r"}, "u?k=p%2fq%3dr&x", "u?k=***&x"},
    {"longest wins", {"abc", "abcdef"}, "xabcdefy abc", "x***y ***"},
    {"longest wins, added in the other order", {"abcdef", "abc"}, "xabcdefy abc", "x***y ***"},
    {"two secrets", {"one-secret", "two-secret"}, "one-secret,two-secret", "***,***"},
    {"json-escaped form", {"pa\"ss\\word"}, "{\"p\":\"pa\\\"ss\\\\word\"}", "{\"p\":\"***\"}"},
    {"json-escaped control character", {"a\tb\001"}, "[\"a\\tb\\u0001\"]", "[\"***\"]"},
    {"no match", {"hunter2"}, "nothing to hide here", "nothing to hide here"},
    {"partial match is kept", {"hunter2"}, "hunter hunter3", "hunter hunter3"},
    {"empty text", {"hunter2"}, "", ""},
    {"empty secret ignored", {""}, "text", "text"},
    {"no secrets", {NULL}, "token=hunter2", "token=hunter2"},
};

static void build(struct uat_redactor *r, const char *const secrets[3]) {
  uat_redactor_init(r);
  for (size_t i = 0; i < 3 && secrets[i]; i++)
    assert_int_equal(uat_redactor_add(r, secrets[i]), 0);
}

static void test_table(void **state) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct uat_redactor r;
    build(&r, cases[i].secrets);
    char *out = uat_redact(&r, cases[i].input);
    assert_non_null(out);
    if (strcmp(out, cases[i].output) != 0)
      fail_msg("%s: expected '%s', got '%s'", cases[i].name, cases[i].output, out);
    assert_ptr_not_equal(out, cases[i].input);
    free(out);
    uat_redactor_release(&r);
    assert_int_equal(r.count, 0);
  }
}

static void test_needles_longest_first_and_unique(void **state) {
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "ab"), 0);
  assert_int_equal(uat_redactor_add(&r, "abcdef"), 0);
  assert_int_equal(uat_redactor_add(&r, "abcdef"), 0); /* a repeat adds nothing */
  assert_int_equal(uat_redactor_add(&r, ""), 0);
  assert_int_equal(uat_redactor_add(&r, NULL), 0);
  /* "ab" and "abcdef" are their own percent form; base64: "YWI=", "YWJjZGVm" */
  assert_int_equal(r.count, 4);
  for (size_t i = 1; i < r.count; i++)
    assert_true(strlen(r.needles[i - 1]) >= strlen(r.needles[i]));
  uat_redactor_release(&r);
}

static void test_buffer_with_nul_bytes(void **state) {
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "hunter2"), 0);
  static const char in[] = "a\0hunter2\0b\0hunter2";
  size_t out_len = 0;
  char *out = uat_redact_n(&r, in, sizeof in - 1, &out_len);
  assert_non_null(out);
  assert_int_equal(out_len, 11);
  assert_memory_equal(out, "a\0***\0b\0***", 11);
  assert_int_equal(out[out_len], '\0');
  free(out);
  /* A secret straddling the end of the given length is not there to hide. */
  out = uat_redact_n(&r, "xhunter2", 5, &out_len);
  assert_int_equal(out_len, 5);
  assert_memory_equal(out, "xhunt", 5);
  free(out);
  uat_redactor_release(&r);
}

static void test_null_redactor_copies(void **state) {
  char *out = uat_redact(NULL, "token=hunter2");
  assert_non_null(out);
  assert_string_equal(out, "token=hunter2");
  free(out);
  size_t len = 99;
  out = uat_redact_n(NULL, "a\0b", 3, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(out, "a\0b", 3);
  free(out);
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_null(uat_redact(&r, NULL));
  assert_null(uat_redact_n(&r, NULL, 0, NULL));
  uat_redactor_release(&r);
}

static void test_long_text(void **state) {
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "s3cr3t"), 0);
  size_t n = 200000;
  char *in = malloc(n + 1);
  assert_non_null(in);
  for (size_t i = 0; i < n; i++)
    in[i] = "abcdefgh"[i % 8];
  memcpy(in + n - 6, "s3cr3t", 6);
  in[n] = '\0';
  char *out = uat_redact(&r, in);
  assert_non_null(out);
  assert_int_equal(strlen(out), n - 3);
  assert_string_equal(out + n - 6, "***");
  free(out);
  free(in);
  uat_redactor_release(&r);
}

/* 200000 secrets in a 1.4 MB text: a rescan per hit took minutes; one pass takes
 * milliseconds. The clock bound is loose, the output exact. */
static void test_many_occurrences_linear(void **state) {
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "s3cr3t"), 0); /* plus its base64 form, never present */
  size_t reps = 200000, n = reps * 7;
  char *in = malloc(n + 1);
  assert_non_null(in);
  for (size_t i = 0; i < reps; i++)
    memcpy(in + i * 7, "s3cr3t ", 7);
  in[n] = '\0';
  clock_t t0 = clock();
  char *out = uat_redact(&r, in);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  assert_non_null(out);
  assert_int_equal(strlen(out), reps * 4);
  for (size_t i = 0; i < reps; i++)
    assert_memory_equal(out + i * 4, "*** ", 4);
  assert_true(secs < 2.0);
  free(out);
  free(in);
  uat_redactor_release(&r);
}

/* Overlapping and adjacent needles: the earliest hit wins, the longest at one position. */
static void test_overlaps_in_one_pass(void **state) {
  struct uat_redactor r;
  uat_redactor_init(&r);
  assert_int_equal(uat_redactor_add(&r, "abc"), 0);
  assert_int_equal(uat_redactor_add(&r, "bcdef"), 0);
  assert_int_equal(uat_redactor_add(&r, "abcxyz"), 0);
  char *out = uat_redact(&r, "abcdef abcxyz bcdefabc xbcdeabcxyzabc");
  assert_string_equal(out, "***def *** ****** xbcde******");
  free(out);
  uat_redactor_release(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_needles_longest_first_and_unique),
      cmocka_unit_test(test_buffer_with_nul_bytes),
      cmocka_unit_test(test_null_redactor_copies),
      cmocka_unit_test(test_long_text),
      cmocka_unit_test(test_many_occurrences_linear),
      cmocka_unit_test(test_overlaps_in_one_pass),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
