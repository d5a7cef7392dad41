#include "playbook/expand.h"

#include "util/strbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Defaults may hold ${...} themselves; this bounds the recursion on hostile input. */
#define MAX_NESTING 16

struct expander {
  uat_getenv_fn getenv_fn;
  void *ctx;
  struct uat_error *err;
};

static const char *lookup(const struct expander *x, const char *name) {
  return x->getenv_fn ? x->getenv_fn(name, x->ctx) : getenv(name);
}

static bool is_name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Finds the '}' closing the "${" whose body starts at p, skipping nested ${...}. */
static const char *closing_brace(const char *p, const char *end) {
  int depth = 1;
  for (; p < end; p++) {
    if (p[0] == '$' && p + 1 < end && p[1] == '$') {
      p++;
    } else if (p[0] == '$' && p + 1 < end && p[1] == '{') {
      depth++;
      p++;
    } else if (p[0] == '}' && --depth == 0) {
      return p;
    }
  }
  return NULL;
}

static int expand_range(const struct expander *x, const char *p, const char *end,
                        struct uat_strbuf *out, int depth);

/* Expands one "${...}" whose body is [body, close). */
static int expand_reference(const struct expander *x, const char *body, const char *close,
                            struct uat_strbuf *out, int depth) {
  const char *n = body;
  while (n < close && is_name_char(*n))
    n++;
  size_t name_len = (size_t)(n - body);
  bool has_default = close - n >= 2 && n[0] == ':' && n[1] == '-';
  if (name_len == 0 || !is_name_start(body[0]) || (n != close && !has_default))
    return uat_error_set(x->err,
                         "'${%.*s}' is not a valid reference; write ${NAME} or ${NAME:-default} "
                         "with NAME made of letters, digits and _ (use $$ for a literal $)",
                         (int)(close - body), body);
  char *name = strndup(body, name_len);
  if (!name)
    return uat_error_set(x->err, "out of memory");
  const char *value = lookup(x, name);
  int rc = 0;
  if (value && (*value || !has_default)) {
    rc = uat_strbuf_adds(out, value) == 0 ? 0 : uat_error_set(x->err, "out of memory");
  } else if (has_default) {
    rc = expand_range(x, n + 2, close, out, depth + 1);
  } else {
    rc = uat_error_set(x->err,
                       "environment variable '%s' is not set; export %s=... or write "
                       "${%s:-default}",
                       name, name, name);
  }
  free(name);
  return rc;
}

static int expand_range(const struct expander *x, const char *p, const char *end,
                        struct uat_strbuf *out, int depth) {
  if (depth > MAX_NESTING)
    return uat_error_set(x->err, "${...} nested more than %d deep; simplify the default values",
                         MAX_NESTING);
  while (p < end) {
    const char *dollar = memchr(p, '$', (size_t)(end - p));
    const char *stop = dollar ? dollar : end;
    if (uat_strbuf_add(out, p, (size_t)(stop - p)) != 0)
      return uat_error_set(x->err, "out of memory");
    if (!dollar)
      break;
    if (dollar + 1 < end && dollar[1] == '$') {
      if (uat_strbuf_add(out, "$", 1) != 0)
        return uat_error_set(x->err, "out of memory");
      p = dollar + 2;
    } else if (dollar + 1 < end && dollar[1] == '{') {
      const char *close = closing_brace(dollar + 2, end);
      if (!close)
        return uat_error_set(x->err,
                             "unterminated '${' in '%.*s'; close it with '}' (or write $$ for a "
                             "literal $)",
                             (int)(end - dollar), dollar);
      if (expand_reference(x, dollar + 2, close, out, depth) != 0)
        return -1;
      p = close + 1;
    } else {
      /* A lone '$' (as in "$5" or "$HOME") is kept as written. */
      if (uat_strbuf_add(out, "$", 1) != 0)
        return uat_error_set(x->err, "out of memory");
      p = dollar + 1;
    }
  }
  return 0;
}

char *uat_expand(const char *text, uat_getenv_fn getenv_fn, void *ctx, struct uat_error *err) {
  if (!text) {
    uat_error_set(err, "nothing to expand");
    return NULL;
  }
  struct expander x = {getenv_fn, ctx, err};
  struct uat_strbuf out;
  uat_strbuf_init(&out, 0);
  if (expand_range(&x, text, text + strlen(text), &out, 0) != 0) {
    uat_strbuf_release(&out);
    return NULL;
  }
  char *result = uat_strbuf_take(&out);
  if (!result)
    uat_error_set(err, "out of memory");
  return result;
}
