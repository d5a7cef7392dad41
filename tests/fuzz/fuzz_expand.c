/* ${VAR} expansion (playbook/expand.c) of any text, with a fixed environment: A=a, EMPTY="",
 * REF="${A}" (a value that looks like a reference), DOLLAR="$$". Properties: the same text
 * expands the same way twice; text without '$' is unchanged; an error leaves a message and
 * no result; and, for the input with '$' doubled (the escape), with its parts embedded in
 * references: escape(t) -> t, and for t without '}' (it would close the default early)
 * ${UNSET:-escape(t)} -> t, ${EMPTY:-escape(t)} -> t, ${A:-escape(t)} -> "a"; P${REF}S -> P + "${A}" + S (values are not expanded again). */
#include "fuzz_assert.h"
#include "playbook/expand.h"
#include "util/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *fixed_env(const char *name, void *ctx) {
  static const char *const env[][2] = {
      {"A", "a"}, {"EMPTY", ""}, {"REF", "${A}"}, {"DOLLAR", "$$"}, {"LONG_NAME_1", "x y z"}};
  for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
    if (strcmp(env[i][0], name) == 0)
      return env[i][1];
  return NULL;
}

static char *expand_ok(const char *text) {
  struct uat_error err = {{0}};
  char *out = uat_expand(text, fixed_env, NULL, &err);
  FUZZ_ASSERT(out, "'%s' failed: %s", text, err.text);
  return out;
}

/* prefix + the text with every '$' doubled + suffix. */
static char *escaped(const char *prefix, const char *t, const char *suffix) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  uat_strbuf_adds(&sb, prefix);
  for (const char *p = t; *p; p++) {
    if (*p == '$')
      uat_strbuf_adds(&sb, "$$");
    else
      uat_strbuf_add(&sb, p, 1);
  }
  uat_strbuf_adds(&sb, suffix);
  char *s = uat_strbuf_take(&sb);
  FUZZ_ASSERT(s, "out of memory");
  return s;
}

static void expect_expansion(const char *text, const char *want) {
  char *got = expand_ok(text);
  FUZZ_ASSERT(strcmp(got, want) == 0, "'%s' gave '%s', not '%s'", text, got, want);
  free(got);
}

static void check_plain(const char *text) {
  struct uat_error err1 = {{0}}, err2 = {{0}};
  char *a = uat_expand(text, fixed_env, NULL, &err1);
  char *b = uat_expand(text, fixed_env, NULL, &err2);
  FUZZ_ASSERT(!a == !b, "'%s' expands once and fails once", text);
  if (a) {
    FUZZ_ASSERT(strcmp(a, b) == 0, "'%s' gave '%s' then '%s'", text, a, b);
    if (!strchr(text, '$'))
      FUZZ_ASSERT(strcmp(a, text) == 0, "'%s' has no '$' but became '%s'", text, a);
  } else {
    FUZZ_ASSERT(err1.text[0] != '\0', "'%s' failed without a message", text);
    FUZZ_ASSERT(strcmp(err1.text, err2.text) == 0, "'%s' failed two ways", text);
  }
  free(a);
  free(b);
}

static void check_escapes(const char *t) {
  char *e = escaped("", t, "");
  expect_expansion(e, t);
  free(e);
  if (strchr(t, '}')) /* a '}' in t would close the default early */
    return;
  e = escaped("${UNSET:-", t, "}");
  expect_expansion(e, t);
  free(e);
  e = escaped("${EMPTY:-", t, "}");
  expect_expansion(e, t);
  free(e);
  e = escaped("${A:-", t, "}");
  expect_expansion(e, "a");
  free(e);
}

/* P${REF}S with P and S halves of t (escaped) gives P + "${A}" + S, unexpanded. */
static void check_reference(const char *t) {
  size_t half = strlen(t) / 2;
  char *p = strndup(t, half);
  FUZZ_ASSERT(p, "out of memory");
  char *left = escaped("", p, "${REF}");
  char *text = escaped(left, t + half, "");
  struct uat_strbuf want;
  uat_strbuf_init(&want, 0);
  uat_strbuf_addf(&want, "%s${A}%s", p, t + half);
  expect_expansion(text, want.buf);
  uat_strbuf_release(&want);
  free(text);
  free(left);
  free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = strndup((const char *)data, size);
  if (!text)
    return 0;
  check_plain(text);
  check_escapes(text);
  check_reference(text);
  free(text);
  return 0;
}
