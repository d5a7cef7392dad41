/* ${VAR} / ${VAR:-default} expansion: a table of input, environment, output or error words. */
#include "playbook/expand.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *fake_getenv(const char *name, void *ctx) {
  const char *const *env = ctx;
  size_t n = strlen(name);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

struct expand_case {
  const char *input;
  const char *const *env;
  const char *output;   /* NULL when an error is expected */
  const char *words[3]; /* error words */
};

static const char *const env_a[] = {"A=1", "EMPTY=", "URL=http://s:8080", "REF=${A}", NULL};

static const struct expand_case cases[] = {
    {"plain text", env_a, "plain text", {NULL}},
    {"", env_a, "", {NULL}},
    {"${A}", env_a, "1", {NULL}},
    {"x${A}y${A}z", env_a, "x1y1z", {NULL}},
    {"${URL}/api", env_a, "http://s:8080/api", {NULL}},
    {"${MISSING:-fallback}", env_a, "fallback", {NULL}},
    {"${MISSING:-http://127.0.0.1:8080}", env_a, "http://127.0.0.1:8080", {NULL}},
    {"${A:-unused}", env_a, "1", {NULL}},
    {"${EMPTY:-d}", env_a, "d", {NULL}}, /* set but empty takes the default, as in sh */
    {"[${EMPTY}]", env_a, "[]", {NULL}}, /* set but empty, no default: empty */
    {"[${MISSING:-}]", env_a, "[]", {NULL}},
    {"$$", env_a, "$", {NULL}},
    {"$${A}", env_a, "${A}", {NULL}},
    {"cost: $$5", env_a, "cost: $5", {NULL}},
    {"$5 and $HOME stay", env_a, "$5 and $HOME stay", {NULL}},
    {"trailing $", env_a, "trailing $", {NULL}},
    {"${MISSING:-${A}}", env_a, "1", {NULL}},
    {"${MISSING:-a${A}b}", env_a, "a1b", {NULL}},
    {"${A:-${NOT_SET}}", env_a, "1", {NULL}}, /* an unused default is not evaluated */
    {"${MISSING:-a}b}", env_a, "ab}", {NULL}},
    {"${REF}", env_a, "${A}", {NULL}}, /* values from the environment are not re-expanded */
    {"${MISSING:-$$}", env_a, "$", {NULL}},
    {"${lower_case9}", (const char *const[]){"lower_case9=ok", NULL}, "ok", {NULL}},
    {"${MISSING}",
     env_a,
     NULL,
     {"'MISSING' is not set", "export MISSING=...", "${MISSING:-default}"}},
    {"a ${B:-${C}}", env_a, NULL, {"'C' is not set"}},
    {"${A", env_a, NULL, {"unterminated '${'", "close it with '}'"}},
    {"x ${A:-${B}", env_a, NULL, {"unterminated '${'"}},
    {"${}", env_a, NULL, {"'${}' is not a valid reference", "${NAME:-default}"}},
    {"${1A}", env_a, NULL, {"'${1A}' is not a valid reference"}},
    {"${A-b}", env_a, NULL, {"'${A-b}' is not a valid reference"}},
    {"${A B}", env_a, NULL, {"not a valid reference"}},
    {"${A:b}", env_a, NULL, {"not a valid reference"}},
};

static void test_table(void **state) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct expand_case *c = &cases[i];
    struct uat_error err = {{0}};
    char *out = uat_expand(c->input, fake_getenv, (void *)c->env, &err);
    if (c->output) {
      if (!out)
        fail_msg("'%s': unexpected error: %s", c->input, err.text);
      if (strcmp(out, c->output) != 0)
        fail_msg("'%s': expected '%s', got '%s'", c->input, c->output, out);
    } else {
      if (out)
        fail_msg("'%s': expected an error, got '%s'", c->input, out);
      for (size_t w = 0; w < 3 && c->words[w]; w++)
        if (!strstr(err.text, c->words[w]))
          fail_msg("'%s': expected \"%s\" in: %s", c->input, c->words[w], err.text);
    }
    free(out);
  }
}

/* Errors name variables, never the values of those that are set. */
static void test_errors_do_not_quote_values(void **state) {
  static const char *const env[] = {"TOKEN=very-secret-value", NULL};
  struct uat_error err;
  char *out = uat_expand("${TOKEN}${UNSET_ONE}", fake_getenv, (void *)env, &err);
  assert_null(out);
  assert_null(strstr(err.text, "very-secret-value"));
  assert_non_null(strstr(err.text, "UNSET_ONE"));
}

static void test_nesting_is_bounded(void **state) {
  char text[400] = "";
  for (int i = 0; i < 40; i++)
    strcat(text, "${X:-");
  strcat(text, "end");
  for (int i = 0; i < 40; i++)
    strcat(text, "}");
  struct uat_error err;
  assert_null(uat_expand(text, fake_getenv, NULL, &err));
  assert_non_null(strstr(err.text, "nested more than"));
}

static void test_process_environment_by_default(void **state) {
  assert_int_equal(setenv("UAT_EXPAND_TEST", "from-env", 1), 0);
  struct uat_error err;
  char *out = uat_expand("<${UAT_EXPAND_TEST}>", NULL, NULL, &err);
  assert_non_null(out);
  assert_string_equal(out, "<from-env>");
  free(out);
  assert_int_equal(unsetenv("UAT_EXPAND_TEST"), 0);
  assert_null(uat_expand("${UAT_EXPAND_TEST}", NULL, NULL, &err));
  assert_non_null(strstr(err.text, "UAT_EXPAND_TEST"));
  assert_null(uat_expand(NULL, NULL, NULL, &err));
}

static void test_long_values_are_not_truncated(void **state) {
  size_t n = 100000;
  char *big = malloc(n + 3);
  assert_non_null(big);
  memcpy(big, "V=", 2);
  memset(big + 2, 'x', n);
  big[n + 2] = '\0';
  const char *env[] = {big, NULL};
  struct uat_error err;
  char *out = uat_expand("[${V}][${V}]", fake_getenv, (void *)env, &err);
  assert_non_null(out);
  assert_int_equal(strlen(out), 2 * n + 4);
  assert_int_equal(out[n + 1], ']');
  free(out);
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_errors_do_not_quote_values),
      cmocka_unit_test(test_nesting_is_bounded),
      cmocka_unit_test(test_process_environment_by_default),
      cmocka_unit_test(test_long_values_are_not_truncated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
