/* Capped buffers and cutting texts: the cut never splits a UTF-8 sequence and always has
 * room for its mark, even when the mark is longer than what was cut. */
#include "util/strbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct cut_case {
  const char *name;
  const char *text;
  size_t max;
  const char *mark;
  const char *want;
};

static const struct cut_case cut_cases[] = {
    {"short enough", "hello", 5, "...", "hello"},
    {"empty", "", 0, "...", ""},
    {"cut with a mark", "hello world", 5, "...", "hello..."},
    {"cut without a mark", "hello world", 5, "", "hello"},
    {"one byte over, a longer mark", "abcdef", 5, "... (truncated)", "abcde... (truncated)"},
    {"inside a 2-byte sequence", "ab\xc3\xa9z", 3, "~", "ab~"},
    {"inside a 4-byte sequence", "a\xf0\x9f\x98\x80z", 3, "~", "a~"},
    {"right after a sequence", "ab\xc3\xa9z", 4, "~", "ab\xc3\xa9~"},
    {"max 0", "abc", 0, "...", "..."},
};

static void test_text_cut(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cut_cases / sizeof cut_cases[0]; i++) {
    const struct cut_case *c = &cut_cases[i];
    /* an exact-size allocation: a mark written past the text would be out of bounds */
    size_t len = strlen(c->text);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, c->text, len + 1);
    char *got = uat_text_cut(s, c->max, c->mark);
    assert_non_null(got);
    if (strcmp(got, c->want) != 0)
      fail_msg("case '%s': got '%s', want '%s'", c->name, got, c->want);
    free(got);
  }
  assert_null(uat_text_cut(NULL, 3, "..."));
}

static void test_strbuf_toobig(void **state) {
  (void)state;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 8);
  assert_int_equal(uat_strbuf_adds(&sb, "1234567"), 0);
  assert_int_equal(uat_strbuf_adds(&sb, "8"), -1); /* would reach toobig */
  assert_string_equal(sb.buf, "1234567");          /* unchanged */
  char *s = uat_strbuf_take(&sb);
  assert_string_equal(s, "1234567");
  assert_null(sb.buf);
  free(s);
}

/* Joining: none gives "", one gives itself, the separator only between items. */
static void test_strbuf_join(void **state) {
  (void)state;
  char *items[] = {(char *)"nesserine", (char *)"myriam", (char *)""};
  char *none = uat_strbuf_join(items, 0, ", ");
  char *one = uat_strbuf_join(items, 1, ", ");
  char *three = uat_strbuf_join(items, 3, " | ");
  assert_string_equal(none, "");
  assert_string_equal(one, "nesserine");
  assert_string_equal(three, "nesserine | myriam | ");
  free(none);
  free(one);
  free(three);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_cut),
      cmocka_unit_test(test_strbuf_toobig),
      cmocka_unit_test(test_strbuf_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
