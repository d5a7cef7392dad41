/* Durations: what users may write in a playbook, and how uatrun prints them back. */
#include "util/duration.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct {
  const char *text;
  double seconds;
} good[] = {
    {"500ms", 0.5}, {"10s", 10},     {"2m", 120},     {"72h", 259200},
    {"1d", 86400},  {"1h30m", 5400}, {"5", 5},        {"1.5s", 1.5},
    {"0.25", 0.25}, {"1m30s", 90},   {"1d2h", 93600}, {"1ms", 0.001},
    {"2h0m", 7200}, {"0.5m", 30},    {"90s", 90},     {"3650d", 315360000},
};

static const char *const bad[] = {
    "0",
    "-1s",
    "1x",
    "",
    "0s",
    "0ms",
    "s",
    "abc",
    "1h 30m",
    " 5s",
    "5s ",
    "1s5",
    "0x10s",
    "0x10",
    "1e3s",
    "1e3",
    "inf",
    "nan",
    "1.2.3s",
    "+5s",
    "5S",
    "10 s",
    "1sec",
    "1h30",
    ".",
    "ms",
    "1..2s",
    "3651d",
    "99999999999999999999h",
};

static void test_good(void **state) {
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    double s = -1;
    if (uat_duration_parse(good[i].text, &s) != 0)
      fail_msg("'%s' should parse", good[i].text);
    if (s < good[i].seconds - 1e-9 || s > good[i].seconds + 1e-9)
      fail_msg("'%s': expected %g, got %g", good[i].text, good[i].seconds, s);
  }
}

static void test_bad(void **state) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    double s = 123;
    if (uat_duration_parse(bad[i], &s) != -1)
      fail_msg("'%s' should be refused, got %g", bad[i], s);
    assert_true(s == 123); /* untouched on failure */
  }
  double s;
  assert_int_equal(uat_duration_parse(NULL, &s), -1);
}

static void test_format(void **state) {
  static const struct {
    double seconds;
    const char *text;
  } cases[] = {
      {0, "0ms"},     {0.0004, "0ms"},   {0.85, "850ms"}, {0.9996, "1.0s"},
      {1.2, "1.2s"},  {59.94, "59.9s"},  {59.96, "1m"},   {60, "1m"},
      {200, "3m20s"}, {125, "2m05s"},    {3599.6, "1h"},  {3600, "1h"},
      {7200, "2h"},   {5400, "1h30m"},   {86400, "24h"},  {172800 - 1, "2d"},
      {259200, "3d"}, {266400, "3d02h"}, {-5, "0ms"},     {1e300, "11574074d02h"},
      /* rounded, not cut (found by tests/fuzz/fuzz_duration.c): 22h14m45s */
      {80085, "22h15m"},      {3 * 86400 + 5 * 3600 + 1799, "3d05h"}, {3 * 86400 + 5 * 3600 + 1800, "3d06h"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    const char *out = uat_duration_format(cases[i].seconds, buf, sizeof buf);
    assert_ptr_equal(out, buf);
    if (strcmp(out, cases[i].text) != 0)
      fail_msg("%g: expected '%s', got '%s'", cases[i].seconds, cases[i].text, out);
  }
}

static void test_format_small_buffer(void **state) {
  char buf[4] = "zzz";
  uat_duration_format(200, buf, sizeof buf);
  assert_string_equal(buf, "3m2");                            /* cut, but always terminated */
  assert_string_equal(uat_duration_format(1, buf, 0), "3m2"); /* size 0 writes nothing */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),
      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_format_small_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
