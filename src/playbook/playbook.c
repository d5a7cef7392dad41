#include "playbook/playbook.h"

#include "util/duration.h"
#include "playbook/expand.h"
#include "util/fsutil.h"
#include "util/redact.h"
#include "util/strbuf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

/* Deeper nesting is refused: libyaml slows quadratically with depth and to_json recurses. */
#define MAX_DEPTH 64
#define MIN_MEMORY_CAP ((size_t)1024 * 1024)
#define DEFAULT_LEDGER ".uatrun/ledger.db"
/* The playbook and its scripts are read whole (and again by the digest, at the same cap):
 * a bigger file is a wrong path (/dev/zero, a log), not a playbook. */
#define MAX_FILE_SIZE ((size_t)16 * 1024 * 1024)

/* What one load needs at hand: the document, the playbook being filled, where errors go. */
struct loader {
  const char *file;
  yaml_document_t doc;
  uat_getenv_fn getenv_fn;
  void *getenv_ctx;
  bool allow_missing_secrets;
  struct uat_playbook *pb;
  struct uat_error *err;
};

/* What a node holds, with plain scalars typed by the YAML 1.2 core schema. */
enum kind { K_NULL, K_BOOL, K_INT, K_FLOAT, K_STRING, K_MAPPING, K_LIST };

static const char *const top_keys[] = {"name",  "target", "secrets", "vars",   "checks", "signoffs",
                                       "roles", "gate",   "ledger",  "notify", NULL};
static const char *const target_keys[] = {"base_url", "timeout", "headers", "build", NULL};
static const char *const build_keys[] = {"url", "json", "expect", "wait", "interval", NULL};
static const char *const check_keys[] = {"id",   "title",   "script",  "run",    "with",
                                         "tags", "timeout", "retries", "memory", NULL};
static const char *const signoff_keys[] = {"id", "role", "text", NULL};
static const char *const notify_keys[] = {"webhooks", "page_url", "timeout", NULL};
static const char *const webhook_keys[] = {"type", "url", "on", NULL};
static const char *const webhook_types[] = {"slack", "mattermost", "teams", "json", NULL};
static const char *const notify_events[] = {"waiting", "open", "blocked", "failed", NULL};
static const char *const gate_keys[] = {"signoff_max_age", "distinct_signers", "require_signatures",
                                        "allowed_signers", NULL};

/* ---- errors ---- */

static int vfail_at(struct loader *L, int line, int col, const char *fmt, va_list ap) {
  struct uat_strbuf msg;
  uat_strbuf_init(&msg, 0);
  if (uat_strbuf_vaddf(&msg, fmt, ap) != 0) {
    uat_strbuf_release(&msg);
    return uat_error_at(L->err, L->file, line, col, "out of memory");
  }
  uat_error_at(L->err, L->file, line, col, "%s", msg.buf);
  uat_strbuf_release(&msg);
  return -1;
}

static int fail_at(struct loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(struct loader *L, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(L, line, col, fmt, ap);
  va_end(ap);
  return -1;
}

static int line_of(const yaml_node_t *n) {
  return (int)n->start_mark.line + 1;
}

static int col_of(const yaml_node_t *n) {
  return (int)n->start_mark.column + 1;
}

/* Reports a problem at node n ("FILE:LINE:COL: ..."). */
static int fail(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *L, const yaml_node_t *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(L, line_of(n), col_of(n), fmt, ap);
  va_end(ap);
  return -1;
}

static int oom(struct loader *L, const yaml_node_t *n) {
  return fail(L, n, "out of memory; free some memory and retry");
}

/* ---- nodes and core-schema typing ---- */

static yaml_node_t *node_at(struct loader *L, int index) {
  return yaml_document_get_node(&L->doc, index);
}

static const char *text_of(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

static bool one_of(const char *s, const char *const words[]) {
  for (size_t i = 0; words[i]; i++)
    if (strcmp(s, words[i]) == 0)
      return true;
  return false;
}

static bool all_in(const char *s, const char *set) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!strchr(set, *s))
      return false;
  return true;
}

static bool core_null(const char *s) {
  static const char *const words[] = {"", "~", "null", "Null", "NULL", NULL};
  return one_of(s, words);
}

static bool core_true(const char *s) {
  static const char *const words[] = {"true", "True", "TRUE", NULL};
  return one_of(s, words);
}

static bool core_false(const char *s) {
  static const char *const words[] = {"false", "False", "FALSE", NULL};
  return one_of(s, words);
}

static bool core_int(const char *s) {
  if (strncmp(s, "0o", 2) == 0)
    return all_in(s + 2, "01234567");
  if (strncmp(s, "0x", 2) == 0)
    return all_in(s + 2, "0123456789abcdefABCDEF");
  if (*s == '-' || *s == '+')
    s++;
  return all_in(s, "0123456789");
}

static bool core_special_float(const char *s) {
  static const char *const words[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                      "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
  return one_of(s, words);
}

static size_t span_digits(const char *s) {
  return strspn(s, "0123456789");
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool core_float(const char *s) {
  if (core_special_float(s))
    return true;
  if (*s == '-' || *s == '+')
    s++;
  size_t whole = span_digits(s);
  s += whole;
  if (*s == '.') {
    size_t frac = span_digits(s + 1);
    if (whole == 0 && frac == 0)
      return false;
    s += 1 + frac;
  } else if (whole == 0) {
    return false;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+')
      s++;
    size_t exp = span_digits(s);
    if (exp == 0)
      return false;
    s += exp;
  }
  return *s == '\0';
}

static enum kind kind_of(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE)
    return K_MAPPING;
  if (n->type == YAML_SEQUENCE_NODE)
    return K_LIST;
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return K_STRING;
  const char *s = text_of(n);
  if (core_null(s))
    return K_NULL;
  if (core_true(s) || core_false(s))
    return K_BOOL;
  if (core_int(s))
    return K_INT;
  if (core_float(s))
    return K_FLOAT;
  return K_STRING;
}

static const char *kind_name(enum kind k) {
  static const char *const names[] = {"null (an empty value)",
                                      "a boolean",
                                      "an integer",
                                      "a number",
                                      "a string",
                                      "a mapping",
                                      "a list"};
  return names[k];
}

static const char *describe(const yaml_node_t *n) {
  return kind_name(kind_of(n));
}

/* A scalar's text must fit a C string: "\0" escapes would cut it short silently. */
static int check_no_nul(struct loader *L, const yaml_node_t *n) {
  if (strlen(text_of(n)) != n->data.scalar.length)
    return fail(L, n, "value contains a NUL character; remove the \\0 escape");
  return 0;
}

/* ---- mappings ---- */

/* Smallest number of one-letter edits between a and b, capped for long words. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  enum { MAXW = 32 };
  if (la > MAXW || lb > MAXW)
    return SIZE_MAX;
  size_t row[MAXW + 1];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static int unknown_key(struct loader *L, const yaml_node_t *key, const char *where,
                       const char *const allowed[]) {
  const char *name = text_of(key);
  const char *guess = NULL;
  /* Up to two edits away, three for longer words ("retry" -> "retries"). */
  size_t best = strlen(name) >= 5 ? 4 : 3;
  struct uat_strbuf list;
  uat_strbuf_init(&list, 0);
  for (size_t i = 0; allowed[i]; i++) {
    size_t d = edit_distance(name, allowed[i]);
    if (d < best) {
      best = d;
      guess = allowed[i];
    }
    if (uat_strbuf_addf(&list, "%s%s", i ? ", " : "", allowed[i]) != 0) {
      uat_strbuf_release(&list);
      return oom(L, key);
    }
  }
  if (guess)
    fail(L, key, "unknown key '%s' in %s; did you mean '%s'? (allowed: %s)", name, where, guess,
         list.buf);
  else
    fail(L, key, "unknown key '%s' in %s; remove it or use one of: %s", name, where, list.buf);
  uat_strbuf_release(&list);
  return -1;
}

static int check_one_key(struct loader *L, yaml_node_t *key, const char *where,
                         const char *const allowed[], json_t *seen) {
  if (key->type != YAML_SCALAR_NODE)
    return fail(L, key, "a key in %s is %s; keys must be plain names", where, describe(key));
  if (check_no_nul(L, key) != 0)
    return -1;
  if (key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(text_of(key), "<<") == 0)
    return fail(L, key, "YAML merge keys ('<<') are not supported; write the keys out in full");
  json_t *earlier = json_object_get(seen, text_of(key));
  if (earlier)
    return fail(L, key, "duplicate key '%s' in %s (first at line %d); keep only one", text_of(key),
                where, (int)json_integer_value(earlier));
  if (allowed && !one_of(text_of(key), allowed))
    return unknown_key(L, key, where, allowed);
  if (json_object_set_new(seen, text_of(key), json_integer(line_of(key))) != 0)
    return oom(L, key);
  return 0;
}

/* Every key must be a scalar, appear once, and (when allowed is given) be one of allowed.
 * Keys seen so far sit in a JSON object, so a huge mapping is not checked in n^2 steps. */
static int check_mapping_keys(struct loader *L, yaml_node_t *map, const char *where,
                              const char *const allowed[]) {
  json_t *seen = json_object();
  if (!seen)
    return oom(L, map);
  int rc = 0;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
       rc == 0 && p < map->data.mapping.pairs.top; p++)
    rc = check_one_key(L, node_at(L, p->key), where, allowed, seen);
  json_decref(seen);
  return rc;
}

/* The value under key in map, or NULL; *key_node (if given) receives the key. */
static yaml_node_t *field(struct loader *L, yaml_node_t *map, const char *key,
                          yaml_node_t **key_node) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node_at(L, p->key);
    if (k->type == YAML_SCALAR_NODE && strcmp(text_of(k), key) == 0) {
      if (key_node)
        *key_node = k;
      return node_at(L, p->value);
    }
  }
  return NULL;
}

static size_t pair_count(const yaml_node_t *map) {
  return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

static size_t item_count(const yaml_node_t *seq) {
  return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

/* An optional mapping: absent or null gives *out = NULL; any other non-mapping is an error. */
static int want_mapping(struct loader *L, yaml_node_t *n, const char *what, const char *example,
                        yaml_node_t **out) {
  *out = NULL;
  if (!n || kind_of(n) == K_NULL)
    return 0;
  if (n->type != YAML_MAPPING_NODE)
    return fail(L, n, "'%s' must be a mapping, got %s; write it as %s", what, describe(n), example);
  *out = n;
  return 0;
}

static int want_list(struct loader *L, yaml_node_t *n, const char *what, const char *example,
                     yaml_node_t **out) {
  *out = NULL;
  if (!n || kind_of(n) == K_NULL)
    return 0;
  if (n->type != YAML_SEQUENCE_NODE)
    return fail(L, n, "'%s' must be a list, got %s; write it as %s", what, describe(n), example);
  *out = n;
  return 0;
}

/* ---- scalars ---- */

/* YAML text is UTF-8 (libyaml checks it); a variable's value need not be, and the ledger and
 * the JSON report refuse what is not: found here, before anything runs. */
static int expand_text(struct loader *L, const yaml_node_t *n, char **out) {
  struct uat_error e;
  *out = uat_expand(text_of(n), L->getenv_fn, L->getenv_ctx, &e);
  if (!*out)
    return fail(L, n, "%s", e.text);
  json_t *probe = json_stringn(*out, strlen(*out)); /* NULL when not valid UTF-8 */
  if (probe) {
    json_decref(probe);
    return 0;
  }
  free(*out);
  *out = NULL;
  return fail(L, n, "value is not valid UTF-8 after ${...} expansion; fix the variable's value");
}

/* A non-null scalar as text (numbers and booleans are taken as written), expanded if asked. */
static int want_string(struct loader *L, const yaml_node_t *n, const char *what, bool expand,
                       char **out) {
  if (n->type != YAML_SCALAR_NODE || kind_of(n) == K_NULL)
    return fail(L, n, "'%s' must be a string, got %s; write %s: TEXT", what, describe(n), what);
  if (check_no_nul(L, n) != 0)
    return -1;
  if (expand)
    return expand_text(L, n, out);
  *out = strdup(text_of(n));
  return *out ? 0 : oom(L, n);
}

static int want_nonempty_string(struct loader *L, const yaml_node_t *n, const char *what,
                                bool expand, char **out) {
  if (want_string(L, n, what, expand, out) != 0)
    return -1;
  if (**out == '\0') {
    free(*out);
    *out = NULL;
    return fail(L, n, "'%s' is empty; give it a value", what);
  }
  return 0;
}

static int want_duration(struct loader *L, const yaml_node_t *n, const char *what, bool expand,
                         double *out) {
  static const char hint[] = "write e.g. 500ms, 10s, 2m, 1h30m or 1d (more than zero)";
  if (n->type != YAML_SCALAR_NODE || kind_of(n) == K_NULL)
    return fail(L, n, "'%s' must be a duration, got %s; %s", what, describe(n), hint);
  char *text;
  if (want_string(L, n, what, expand, &text) != 0)
    return -1;
  int rc = uat_duration_parse(text, out);
  free(text);
  if (rc != 0)
    return fail(L, n, "'%s' is not a valid duration: '%s'; %s", what, text_of(n), hint);
  return 0;
}

static int want_bool(struct loader *L, const yaml_node_t *n, const char *what, bool *out) {
  if (kind_of(n) != K_BOOL)
    return fail(L, n, "'%s' must be true or false, got %s; write %s: true or %s: false", what,
                describe(n), what, what);
  *out = core_true(text_of(n));
  return 0;
}

/* Parses a core-schema integer (decimal, 0o octal, 0x hex); -1 when out of range. */
static int parse_core_int(const char *s, long long *out) {
  int base = 10;
  const char *digits = s;
  if (strncmp(s, "0o", 2) == 0) {
    base = 8;
    digits = s + 2;
  } else if (strncmp(s, "0x", 2) == 0) {
    base = 16;
  }
  errno = 0;
  char *end;
  long long v = strtoll(digits, &end, base);
  if (errno == ERANGE || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static int want_int(struct loader *L, const yaml_node_t *n, const char *what, long long min,
                    long long max, int *out) {
  long long v;
  if (kind_of(n) != K_INT)
    return fail(L, n, "'%s' must be an integer from %lld to %lld, got %s; write e.g. %s: %lld",
                what, min, max, describe(n), what, min);
  if (parse_core_int(text_of(n), &v) != 0 || v < min || v > max)
    return fail(L, n, "'%s' must be from %lld to %lld, got %s; pick a value in that range", what,
                min, max, text_of(n));
  *out = (int)v;
  return 0;
}

/* "64MiB", "512KiB", "1GiB", "1048576B" or a bare byte count. */
static int parse_size(const char *s, size_t *out) {
  static const struct {
    const char *suffix;
    size_t factor;
  } units[] = {{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}};
  size_t n = span_digits(s);
  if (n == 0)
    return -1;
  size_t value = 0;
  for (size_t i = 0; i < n; i++) {
    size_t digit = (size_t)(s[i] - '0');
    if (value > (SIZE_MAX - digit) / 10)
      return -1;
    value = value * 10 + digit;
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(s + n, units[i].suffix) == 0) {
      if (value > SIZE_MAX / units[i].factor)
        return -1;
      *out = value * units[i].factor;
      return 0;
    }
  }
  return -1;
}

static int want_size(struct loader *L, const yaml_node_t *n, const char *what, size_t *out) {
  static const char hint[] = "write e.g. 64MiB, 512KiB, 1GiB or a number of bytes";
  if (n->type != YAML_SCALAR_NODE || (kind_of(n) != K_INT && kind_of(n) != K_STRING))
    return fail(L, n, "'%s' must be a size, got %s; %s", what, describe(n), hint);
  if (check_no_nul(L, n) != 0)
    return -1;
  if (parse_size(text_of(n), out) != 0)
    return fail(L, n, "'%s' is not a valid size: '%s'; %s", what, text_of(n), hint);
  if (*out < MIN_MEMORY_CAP)
    return fail(L, n, "'%s' is %s, below the 1MiB minimum; give the check at least 1MiB", what,
                text_of(n));
  return 0;
}

static bool valid_id(const char *s) {
  return all_in(s, "abcdefghijklmnopqrstuvwxyz0123456789._-");
}

static bool valid_identifier(const char *s) {
  static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
  return *s && strchr(first, *s) &&
         all_in(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
                   "0123456789");
}

static bool valid_http_token(const char *s) {
  return all_in(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                   "!#$%&'*+-.^_`|~");
}

/* An id (of a check, a sign-off item or a tag): [a-z0-9._-]+, with a suggestion when not. */
static int want_id(struct loader *L, const yaml_node_t *n, const char *what, char **out) {
  if (want_nonempty_string(L, n, what, false, out) != 0)
    return -1;
  if (valid_id(*out))
    return 0;
  for (char *p = *out; *p; p++) {
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
    else if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *p))
      *p = '-';
  }
  fail(L, n,
       "%s '%s' may only use lowercase letters, digits, '.', '_' and '-'; rename it, e.g. '%s'",
       what, text_of(n), *out);
  free(*out);
  *out = NULL;
  return -1;
}

/* ---- YAML values as JSON (vars, with) ---- */

static int to_json(struct loader *L, yaml_node_t *n, json_t **out);

static int mapping_to_json(struct loader *L, yaml_node_t *n, json_t **out) {
  if (check_mapping_keys(L, n, "this mapping", NULL) != 0)
    return -1;
  json_t *obj = json_object();
  if (!obj)
    return oom(L, n);
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    json_t *value;
    if (to_json(L, node_at(L, p->value), &value) != 0) {
      json_decref(obj);
      return -1;
    }
    if (json_object_set_new(obj, text_of(node_at(L, p->key)), value) != 0) {
      json_decref(obj);
      return oom(L, n);
    }
  }
  *out = obj;
  return 0;
}

static int sequence_to_json(struct loader *L, yaml_node_t *n, json_t **out) {
  json_t *arr = json_array();
  if (!arr)
    return oom(L, n);
  for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
    json_t *value;
    if (to_json(L, node_at(L, *i), &value) != 0) {
      json_decref(arr);
      return -1;
    }
    if (json_array_append_new(arr, value) != 0) {
      json_decref(arr);
      return oom(L, n);
    }
  }
  *out = arr;
  return 0;
}

static int string_to_json(struct loader *L, yaml_node_t *n, json_t **out) {
  char *text;
  if (check_no_nul(L, n) != 0 || expand_text(L, n, &text) != 0)
    return -1;
  *out = json_stringn(text, strlen(text));
  free(text);
  return *out ? 0 : oom(L, n);
}

static int number_to_json(struct loader *L, yaml_node_t *n, enum kind k, json_t **out) {
  const char *s = text_of(n);
  if (k == K_INT) {
    long long v;
    if (parse_core_int(s, &v) != 0)
      return fail(L, n, "integer '%s' is too large; quote it to keep it as text", s);
    *out = json_integer((json_int_t)v);
  } else {
    double v = core_special_float(s) ? NAN : strtod(s, NULL);
    if (!isfinite(v))
      return fail(L, n, "number '%s' cannot be stored in JSON; quote it to keep it as text", s);
    *out = json_real(v);
  }
  return *out ? 0 : oom(L, n);
}

/* Recursion is bounded: scan_events refused documents nested deeper than MAX_DEPTH. */
static int to_json(struct loader *L, yaml_node_t *n, json_t **out) {
  enum kind k = kind_of(n);
  switch (k) {
  case K_MAPPING:
    return mapping_to_json(L, n, out);
  case K_LIST:
    return sequence_to_json(L, n, out);
  case K_NULL:
    *out = json_null();
    return 0;
  case K_BOOL:
    *out = json_boolean(core_true(text_of(n)));
    return 0;
  case K_INT:
  case K_FLOAT:
    return number_to_json(L, n, k, out);
  case K_STRING:
    break;
  }
  return string_to_json(L, n, out);
}

/* An optional mapping as a JSON object ({} when absent). */
static int object_field(struct loader *L, yaml_node_t *n, const char *what, json_t **out) {
  yaml_node_t *map;
  if (want_mapping(L, n, what, "a mapping of names to values", &map) != 0)
    return -1;
  if (!map) {
    *out = json_object();
    return *out ? 0 : oom(L, n);
  }
  return to_json(L, map, out);
}

/* ---- sections ---- */

static int parse_headers(struct loader *L, yaml_node_t *n) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *map;
  if (want_mapping(L, n, "headers", "headers: { Accept-Language: en }", &map) != 0)
    return -1;
  if (!map)
    return 0;
  if (check_mapping_keys(L, map, "headers", NULL) != 0)
    return -1;
  size_t count = pair_count(map);
  pb->headers = calloc(count ? count : 1, sizeof *pb->headers);
  if (!pb->headers)
    return oom(L, map);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *key = node_at(L, p->key), *value = node_at(L, p->value);
    struct uat_header *h = &pb->headers[pb->nheaders];
    if (!valid_http_token(text_of(key)))
      return fail(L, key,
                  "header name '%s' is not a valid HTTP header name; use letters, digits and '-'",
                  text_of(key));
    for (size_t i = 0; i < pb->nheaders; i++)
      if (strcasecmp(pb->headers[i].name, text_of(key)) == 0)
        return fail(L, key,
                    "header '%s' is given twice (as '%s'); header names ignore case, keep one",
                    text_of(key), pb->headers[i].name);
    h->name = strdup(text_of(key));
    pb->nheaders++;
    if (!h->name)
      return oom(L, key);
    if (want_string(L, value, text_of(key), true, &h->value) != 0)
      return -1;
    if (strpbrk(h->value, "\r\n"))
      return fail(L, value, "header '%s' contains a line break; keep the value on one line",
                  h->name);
  }
  return 0;
}

/* Answers every variable, so expanding `expect:` at load finds only its syntax errors: its
 * variables are looked up when the wait starts, where ${UATRUN_RELEASE} is the release
 * under test even when it came from --release. */
static const char *any_value(const char *name, void *ctx) {
  (void)name;
  (void)ctx;
  return "x";
}

/* "release.version": segments that are not empty; "/release/version": a JSON pointer
 * (RFC 6901), where '~' is only ever "~0" or "~1". */
static const char *bad_json_path(const char *path) {
  if (path[0] == '/') {
    for (const char *p = path; *p; p++)
      if (*p == '~' && p[1] != '0' && p[1] != '1')
        return "a '~' in a JSON pointer must be written ~0 (and a '/' inside a name ~1)";
    return NULL;
  }
  if (path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
    return "a dotted path has an empty name in it";
  return NULL;
}

static int parse_build_json(struct loader *L, yaml_node_t *n, struct uat_build_target *b) {
  if (want_nonempty_string(L, n, "json", true, &b->json) != 0)
    return -1;
  const char *why = bad_json_path(b->json);
  if (why)
    return fail(L, n,
                "'json' is not a usable field path: '%s' (%s); write a field name (version), a "
                "dotted path (release.version) or a JSON pointer (/release/version)",
                b->json, why);
  return 0;
}

static int parse_build_expect(struct loader *L, yaml_node_t *n, struct uat_build_target *b) {
  if (want_string(L, n, "expect", false, &b->expect_raw) != 0)
    return -1;
  b->expect_line = line_of(n);
  b->expect_col = col_of(n);
  struct uat_error e;
  char *probe = uat_expand(b->expect_raw, any_value, NULL, &e);
  if (!probe)
    return fail(L, n, "%s", e.text);
  bool empty = *probe == '\0';
  free(probe);
  if (empty)
    return fail(L, n,
                "'expect' is empty; write the version staging must serve, e.g. expect: "
                "\"${UATRUN_RELEASE}\" (or leave expect: out to wait for the release under "
                "test)");
  return 0;
}

static int parse_build_timing(struct loader *L, yaml_node_t *map, struct uat_build_target *b) {
  yaml_node_t *n;
  b->wait_s = 0;
  b->interval_s = UAT_DEFAULT_BUILD_INTERVAL_S;
  if ((n = field(L, map, "wait", NULL)) && want_duration(L, n, "wait", true, &b->wait_s) != 0)
    return -1;
  if ((n = field(L, map, "interval", NULL)) &&
      want_duration(L, n, "interval", true, &b->interval_s) != 0)
    return -1;
  return 0;
}

static int parse_build(struct loader *L, yaml_node_t *n) {
  struct uat_build_target *b = &L->pb->build;
  yaml_node_t *map;
  if (want_mapping(L, n, "build",
                   "build: { url: /api/version, json: version, expect: \"${UATRUN_RELEASE}\", "
                   "wait: 5m }",
                   &map) != 0)
    return -1;
  if (!n)
    return 0;
  if (!map)
    return fail(L, n,
                "'build' is empty; add url: (the page naming the deployed version) under "
                "it, or remove build:");
  b->enabled = true;
  if (check_mapping_keys(L, map, "target.build", build_keys) != 0)
    return -1;
  yaml_node_t *url = field(L, map, "url", NULL), *json = field(L, map, "json", NULL);
  yaml_node_t *expect = field(L, map, "expect", NULL);
  if (!url)
    return fail(L, map,
                "target.build is missing 'url'; add url: and the page of staging that names the "
                "deployed version, e.g. url: /api/version");
  if (want_nonempty_string(L, url, "url", true, &b->url) != 0)
    return -1;
  b->line = line_of(url);
  b->col = col_of(url);
  if (strpbrk(b->url, " \t\r\n"))
    return fail(L, url, "'url' contains white space; percent-encode it (%%20) or fix the URL");
  if (json && parse_build_json(L, json, b) != 0)
    return -1;
  if (expect && parse_build_expect(L, expect, b) != 0)
    return -1;
  return parse_build_timing(L, map, b);
}

static int parse_target(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *n = field(L, root, "target", NULL), *map;
  if (!n)
    return fail(L, root, "missing required key 'target'; add target: with base_url: URL");
  if (want_mapping(L, n, "target", "target: { base_url: URL }", &map) != 0)
    return -1;
  if (!map)
    return fail(L, n, "'target' is empty; add base_url: URL under it");
  if (check_mapping_keys(L, map, "target", target_keys) != 0)
    return -1;
  yaml_node_t *url = field(L, map, "base_url", NULL);
  if (!url)
    return fail(L, map, "target is missing 'base_url'; add base_url: URL of the system under test");
  if (want_nonempty_string(L, url, "base_url", true, &pb->base_url) != 0)
    return -1;
  pb->base_url_line = line_of(url);
  pb->base_url_col = col_of(url);
  yaml_node_t *timeout = field(L, map, "timeout", NULL);
  pb->timeout_s = UAT_DEFAULT_TIMEOUT_S;
  if (timeout && want_duration(L, timeout, "timeout", true, &pb->timeout_s) != 0)
    return -1;
  if (parse_build(L, field(L, map, "build", NULL)) != 0)
    return -1;
  return parse_headers(L, field(L, map, "headers", NULL));
}

static int read_secret(struct loader *L, yaml_node_t *key, yaml_node_t *value,
                       struct uat_secret *s) {
  if (!valid_identifier(text_of(key)))
    return fail(L, key,
                "secret name '%s' must be an identifier ([A-Za-z_][A-Za-z0-9_]*) so scripts can "
                "write secrets.NAME; rename it",
                text_of(key));
  s->name = strdup(text_of(key));
  if (!s->name)
    return oom(L, key);
  if (want_nonempty_string(L, value, s->name, false, &s->env) != 0)
    return -1;
  if (!valid_identifier(s->env))
    /* Not quoted back: a value pasted here by mistake may be the secret itself. */
    return fail(L, value,
                "secret '%s' must name an environment variable ([A-Za-z_][A-Za-z0-9_]*), not hold "
                "a value; write e.g. %s: MY_TOKEN and export MY_TOKEN",
                s->name, s->name);
  const char *v = L->getenv_fn ? L->getenv_fn(s->env, L->getenv_ctx) : getenv(s->env);
  if (!v || !*v) {
    if (L->allow_missing_secrets)
      return 0;
    return fail(L, key,
                "secret '%s' needs the environment variable %s, which is %s; export it or run "
                "with %s=... uatrun ...",
                s->name, s->env, v ? "empty" : "not set", s->env);
  }
  /* Every occurrence of a secret is masked; a value this short occurs everywhere, and the
   * gaps it leaves in ordinary words would show it. */
  if (strlen(v) < UAT_SECRET_MIN_LEN)
    return fail(L, key,
                "secret '%s' from %s is %zu character%s long: too short to hide in output; use "
                "a real credential of at least %d characters",
                s->name, s->env, strlen(v), strlen(v) == 1 ? "" : "s", UAT_SECRET_MIN_LEN);
  s->value = strdup(v);
  return s->value ? 0 : oom(L, key);
}

static int parse_secrets(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *map;
  if (want_mapping(L, field(L, root, "secrets", NULL), "secrets", "secrets: { name: ENV_VAR }",
                   &map) != 0)
    return -1;
  if (!map)
    return 0;
  if (check_mapping_keys(L, map, "secrets", NULL) != 0)
    return -1;
  size_t count = pair_count(map);
  pb->secrets = calloc(count ? count : 1, sizeof *pb->secrets);
  if (!pb->secrets)
    return oom(L, map);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    struct uat_secret *s = &pb->secrets[pb->nsecrets++];
    if (read_secret(L, node_at(L, p->key), node_at(L, p->value), s) != 0)
      return -1;
  }
  return 0;
}

static int parse_role(struct loader *L, yaml_node_t *key, yaml_node_t *value, struct uat_role *r) {
  r->name = strdup(text_of(key));
  if (!r->name)
    return oom(L, key);
  if (!*r->name)
    return fail(L, key, "a role name is empty; name the role, e.g. support");
  yaml_node_t *list;
  if (want_list(L, value, r->name, "a list of people, e.g. [alice, bob]", &list) != 0)
    return -1;
  if (!list || item_count(list) == 0)
    return fail(L, value, "role '%s' has no members; list who may sign, e.g. %s: [alice]", r->name,
                r->name);
  r->members = calloc(item_count(list), sizeof *r->members);
  if (!r->members)
    return oom(L, list);
  for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
       i++) {
    yaml_node_t *member = node_at(L, *i);
    if (want_string(L, member, "member", false, &r->members[r->nmembers]) != 0)
      return -1;
    if (!*r->members[r->nmembers++])
      return fail(L, member, "role '%s' has an empty member; write each person's name", r->name);
  }
  return 0;
}

static int parse_roles(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *map;
  if (want_mapping(L, field(L, root, "roles", NULL), "roles", "roles: { support: [alice] }",
                   &map) != 0)
    return -1;
  if (!map)
    return 0;
  if (check_mapping_keys(L, map, "roles", NULL) != 0)
    return -1;
  size_t count = pair_count(map);
  pb->roles = calloc(count ? count : 1, sizeof *pb->roles);
  if (!pb->roles)
    return oom(L, map);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
    if (parse_role(L, node_at(L, p->key), node_at(L, p->value), &pb->roles[pb->nroles++]) != 0)
      return -1;
  return 0;
}

/* require_signatures needs the allowed_signers file that says whose key is whose. */
static int parse_signatures(struct loader *L, yaml_node_t *map) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *req = field(L, map, "require_signatures", NULL);
  if (req && want_bool(L, req, "require_signatures", &pb->require_signatures) != 0)
    return -1;
  yaml_node_t *file = field(L, map, "allowed_signers", NULL);
  char *written = NULL;
  if (file && want_nonempty_string(L, file, "allowed_signers", true, &written) != 0)
    return -1;
  if (written) {
    pb->allowed_signers = uat_path_join(pb->dir, written);
    free(written);
    if (!pb->allowed_signers)
      return oom(L, file);
    if (access(pb->allowed_signers, R_OK) != 0)
      return fail(L, file,
                  "allowed_signers file '%s' cannot be read (%s); create it in OpenSSH "
                  "allowed_signers format (`NAME ssh-ed25519 AAAA...`, one line a signer)",
                  pb->allowed_signers, strerror(errno));
  }
  if (pb->require_signatures && !pb->allowed_signers)
    return fail(L, req,
                "gate.require_signatures needs gate.allowed_signers: the file (OpenSSH "
                "allowed_signers format) that says whose key is whose");
  return 0;
}

static int parse_gate(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  pb->signoff_max_age_s = UAT_DEFAULT_SIGNOFF_MAX_AGE_S;
  pb->distinct_signers = false;
  yaml_node_t *map;
  if (want_mapping(L, field(L, root, "gate", NULL), "gate", "gate: { signoff_max_age: 72h }",
                   &map) != 0)
    return -1;
  if (!map)
    return 0;
  if (check_mapping_keys(L, map, "gate", gate_keys) != 0)
    return -1;
  yaml_node_t *age = field(L, map, "signoff_max_age", NULL);
  if (age && want_duration(L, age, "signoff_max_age", false, &pb->signoff_max_age_s) != 0)
    return -1;
  yaml_node_t *distinct = field(L, map, "distinct_signers", NULL);
  if (distinct && want_bool(L, distinct, "distinct_signers", &pb->distinct_signers) != 0)
    return -1;
  return parse_signatures(L, map);
}

/* ---- notify: webhooks the gate tells about its verdict ---- */

static bool http_url(const char *s) {
  return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int parse_webhook_type(struct loader *L, yaml_node_t *n, struct uat_webhook *w) {
  char *type;
  if (want_nonempty_string(L, n, "type", false, &type) != 0)
    return -1;
  size_t i = 0;
  while (webhook_types[i] && strcmp(webhook_types[i], type) != 0)
    i++;
  free(type);
  if (!webhook_types[i])
    return fail(L, n, "webhook type '%s' is unknown; write type: slack, mattermost, teams or json",
                text_of(n));
  w->type = (enum uat_webhook_type)i;
  return 0;
}

/* The URL of an incoming webhook is its password: it may only come from the environment, and
 * no message quotes it. An empty value turns the webhook off (url: ${SLACK_WEBHOOK_URL:-}). */
static int parse_webhook_url(struct loader *L, yaml_node_t *n, struct uat_webhook *w) {
  if (n->type != YAML_SCALAR_NODE || kind_of(n) == K_NULL || !strstr(text_of(n), "${"))
    return fail(L, n,
                "a webhook's url holds its token, so it must come from the environment; write "
                "url: ${SLACK_WEBHOOK_URL} (any variable name) and export that variable");
  if (want_string(L, n, "url", true, &w->url) != 0)
    return -1;
  if (*w->url && (!http_url(w->url) || strpbrk(w->url, " \t\r\n")))
    return fail(L, n,
                "the webhook url (from the environment) is not an http:// or https:// URL "
                "without spaces; check the variable's value (it is not shown: it is a secret)");
  return 0;
}

static int parse_webhook_on(struct loader *L, yaml_node_t *n, struct uat_webhook *w) {
  yaml_node_t *list;
  if (want_list(L, n, "on", "on: [waiting, open, blocked]", &list) != 0)
    return -1;
  if (!list || item_count(list) == 0)
    return fail(L, n,
                "'on' is empty; list the events among waiting, open, blocked, failed, or "
                "remove the webhook");
  w->on = 0;
  for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
       i++) {
    yaml_node_t *item = node_at(L, *i);
    size_t k = 0;
    while (item->type == YAML_SCALAR_NODE && notify_events[k] &&
           strcmp(notify_events[k], text_of(item)) != 0)
      k++;
    if (item->type != YAML_SCALAR_NODE || !notify_events[k])
      return fail(L, item,
                  "'%s' is not a gate event; write waiting (sign-offs missing), open, blocked (a "
                  "sign-off rejected) or failed (the checks did not pass)",
                  item->type == YAML_SCALAR_NODE ? text_of(item) : describe(item));
    w->on |= 1u << k;
  }
  return 0;
}

static int parse_webhook(struct loader *L, yaml_node_t *n, struct uat_webhook *w) {
  yaml_node_t *map;
  if (want_mapping(L, n, "webhook",
                   "- { type: slack, url: \"${SLACK_WEBHOOK_URL}\", on: [waiting, blocked] }",
                   &map) != 0)
    return -1;
  if (!map)
    return fail(L, n, "a webhook is empty; give it type: and url:");
  w->line = line_of(map);
  w->col = col_of(map);
  w->on = UAT_NOTIFY_DEFAULT_ON;
  if (check_mapping_keys(L, map, "a webhook", webhook_keys) != 0)
    return -1;
  yaml_node_t *type = field(L, map, "type", NULL), *url = field(L, map, "url", NULL);
  yaml_node_t *on = field(L, map, "on", NULL);
  if (!type)
    return fail(L, map, "a webhook is missing 'type'; add type: slack, mattermost, teams or json");
  if (!url)
    return fail(L, map,
                "a webhook is missing 'url'; add url: ${SLACK_WEBHOOK_URL} (from the "
                "environment: the URL is a secret)");
  if (parse_webhook_type(L, type, w) != 0 || parse_webhook_url(L, url, w) != 0)
    return -1;
  return on ? parse_webhook_on(L, on, w) : 0;
}

static int parse_webhooks(struct loader *L, yaml_node_t *n) {
  struct uat_notify *nf = &L->pb->notify;
  yaml_node_t *list;
  if (want_list(L, n, "webhooks", "webhooks: [{ type: slack, url: \"${SLACK_WEBHOOK_URL}\" }]",
                &list) != 0)
    return -1;
  if (!list)
    return 0;
  nf->webhooks = calloc(item_count(list) ? item_count(list) : 1, sizeof *nf->webhooks);
  if (!nf->webhooks)
    return oom(L, list);
  for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
       i++)
    if (parse_webhook(L, node_at(L, *i), &nf->webhooks[nf->nwebhooks++]) != 0)
      return -1;
  return 0;
}

static int parse_notify_options(struct loader *L, yaml_node_t *map) {
  struct uat_notify *nf = &L->pb->notify;
  yaml_node_t *page = field(L, map, "page_url", NULL), *timeout = field(L, map, "timeout", NULL);
  if (page && want_string(L, page, "page_url", true, &nf->page_url) != 0)
    return -1;
  if (nf->page_url && !*nf->page_url) { /* page_url: ${UATRUN_PAGE_URL:-}: no page */
    free(nf->page_url);
    nf->page_url = NULL;
  }
  /* Chats link it in their markup (Slack: <URL|label>): no character that would end it. */
  if (nf->page_url && (!http_url(nf->page_url) || strpbrk(nf->page_url, " \t\r\n<>|\"")))
    return fail(L, page,
                "'page_url' must be an http:// or https:// URL without spaces, <, >, | or \", "
                "e.g. page_url: https://uat.example.org/");
  if (timeout && want_duration(L, timeout, "timeout", true, &nf->timeout_s) != 0)
    return -1;
  if (nf->timeout_s > UAT_MAX_NOTIFY_TIMEOUT_S)
    return fail(L, timeout,
                "notify.timeout is longer than %.0fs; a gate must not hang on a chat server: "
                "give at most 60s",
                UAT_MAX_NOTIFY_TIMEOUT_S);
  return 0;
}

/* notify: { page_url:, timeout:, webhooks: [...] }, or the list of webhooks alone. */
static int parse_notify(struct loader *L, yaml_node_t *root) {
  yaml_node_t *n = field(L, root, "notify", NULL);
  L->pb->notify.timeout_s = UAT_DEFAULT_NOTIFY_TIMEOUT_S;
  if (!n || kind_of(n) == K_NULL)
    return 0;
  if (n->type == YAML_SEQUENCE_NODE)
    return parse_webhooks(L, n);
  yaml_node_t *map;
  if (want_mapping(L, n, "notify", "notify: { webhooks: [{ type: slack, url: ... }] }", &map) != 0)
    return -1;
  if (check_mapping_keys(L, map, "notify", notify_keys) != 0 || parse_notify_options(L, map) != 0)
    return -1;
  return parse_webhooks(L, field(L, map, "webhooks", NULL));
}

static int parse_ledger(struct loader *L, yaml_node_t *root) {
  yaml_node_t *n = field(L, root, "ledger", NULL);
  char *written = NULL;
  if (n && want_nonempty_string(L, n, "ledger", true, &written) != 0)
    return -1;
  /* A database URL is a place of its own, not a file beside the playbook. */
  bool url = written && (strncasecmp(written, "postgresql://", 13) == 0 ||
                         strncasecmp(written, "postgres://", 11) == 0);
  L->pb->ledger_path =
      url ? strdup(written) : uat_path_join(L->pb->dir, written ? written : DEFAULT_LEDGER);
  free(written);
  return L->pb->ledger_path ? 0 : oom(L, n ? n : root);
}

static int parse_tags(struct loader *L, yaml_node_t *n, struct uat_check *c) {
  yaml_node_t *list;
  if (want_list(L, n, "tags", "tags: [smoke, auth]", &list) != 0)
    return -1;
  if (!list)
    return 0;
  c->tags = calloc(item_count(list) ? item_count(list) : 1, sizeof *c->tags);
  if (!c->tags)
    return oom(L, list);
  for (yaml_node_item_t *i = list->data.sequence.items.start; i < list->data.sequence.items.top;
       i++) {
    if (want_id(L, node_at(L, *i), "tag", &c->tags[c->ntags]) != 0)
      return -1;
    c->ntags++;
  }
  return 0;
}

/* What errors and reports call a script: its path as written, from the folder uatrun runs in
 * (as inline code is named after the playbook path as given), so the user can open it. */
static char *shown_script_path(const char *playbook, const char *written) {
  char *dir = uat_path_dirname(playbook);
  if (!dir)
    return NULL;
  char *shown = strcmp(dir, ".") == 0 ? strdup(written) : uat_path_join(dir, written);
  free(dir);
  return shown;
}

static int read_script(struct loader *L, yaml_node_t *n, const char *written, struct uat_check *c) {
  c->script_path = uat_path_join(L->pb->dir, written);
  if (!c->script_path)
    return oom(L, n);
  if (uat_path_is_dir(c->script_path))
    return fail(L, n, "script '%s' is a folder (%s); point script: at a .lua file", written,
                c->script_path);
  if (!uat_path_is_file(c->script_path))
    return fail(L, n,
                "script '%s' not found (looked in %s); fix the path, relative to the playbook",
                written, c->script_path);
  struct uat_error e;
  size_t len;
  c->source = uat_file_read(c->script_path, MAX_FILE_SIZE, &len, &e);
  if (!c->source)
    return fail(L, n, "script '%s': %s; point script: at a readable Lua file of at most 16 MiB",
                written, e.text);
  if (strlen(c->source) != len)
    return fail(L, n, "script '%s' contains NUL bytes; checks are Lua text, not binary chunks",
                written);
  /* Editors on Windows start UTF-8 files with a byte-order mark; `lua FILE` skips it too. */
  if (len >= 3 && memcmp(c->source, "\xEF\xBB\xBF", 3) == 0)
    memmove(c->source, c->source + 3, len - 3 + 1);
  c->chunk_name = shown_script_path(L->file, written);
  return c->chunk_name ? 0 : oom(L, n);
}

static int load_script(struct loader *L, yaml_node_t *n, struct uat_check *c) {
  char *written;
  if (want_nonempty_string(L, n, "script", false, &written) != 0)
    return -1;
  int rc = read_script(L, n, written, c);
  free(written);
  return rc;
}

static int inline_script(struct loader *L, yaml_node_t *key, yaml_node_t *n, struct uat_check *c) {
  if (n->type != YAML_SCALAR_NODE || kind_of(n) == K_NULL)
    return fail(L, n, "'run' must be Lua source text, got %s; write run: | and the code below it",
                describe(n));
  if (check_no_nul(L, n) != 0)
    return -1;
  if (text_of(n)[strspn(text_of(n), " \t\r\n")] == '\0')
    return fail(L, n, "'run' is empty; write the check's Lua code under run: |");
  c->source = strdup(text_of(n));
  if (!c->source)
    return oom(L, n);
  struct uat_strbuf name;
  uat_strbuf_init(&name, 0);
  if (uat_strbuf_addf(&name, "%s:%d", L->file, line_of(key)) != 0) {
    uat_strbuf_release(&name);
    return oom(L, n);
  }
  c->chunk_name = uat_strbuf_take(&name);
  if (!c->chunk_name)
    return oom(L, n);
  bool block = n->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
               n->data.scalar.style == YAML_FOLDED_SCALAR_STYLE;
  /* A block scalar's text starts on the line after its '|' or '>' indicator. */
  c->source_line_offset = line_of(n) - 1 + (block ? 1 : 0);
  return 0;
}

static int parse_check_code(struct loader *L, yaml_node_t *map, struct uat_check *c) {
  yaml_node_t *run_key = NULL;
  yaml_node_t *script = field(L, map, "script", NULL);
  yaml_node_t *run = field(L, map, "run", &run_key);
  if (script && run)
    return fail(L, run_key, "check '%s' has both script: and run:; keep only one", c->id);
  if (!script && !run)
    return fail(L, map,
                "check '%s' has neither script: nor run:; add script: PATH or run: | with Lua code",
                c->id);
  return script ? load_script(L, script, c) : inline_script(L, run_key, run, c);
}

static int parse_check_limits(struct loader *L, yaml_node_t *map, struct uat_check *c) {
  yaml_node_t *n;
  c->timeout_s = L->pb->timeout_s;
  c->retries = 0;
  c->memory_cap = UAT_DEFAULT_MEMORY_CAP;
  if ((n = field(L, map, "timeout", NULL)) && want_duration(L, n, "timeout", false, &c->timeout_s))
    return -1;
  if ((n = field(L, map, "retries", NULL)) &&
      want_int(L, n, "retries", 0, UAT_MAX_RETRIES, &c->retries))
    return -1;
  if ((n = field(L, map, "memory", NULL)) && want_size(L, n, "memory", &c->memory_cap))
    return -1;
  return 0;
}

static const struct uat_check *find_check_before(const struct uat_playbook *pb, size_t count,
                                                 const char *id) {
  for (size_t i = 0; i < count; i++)
    if (pb->checks[i].id && strcmp(pb->checks[i].id, id) == 0)
      return &pb->checks[i];
  return NULL;
}

static int parse_check(struct loader *L, yaml_node_t *n, size_t index) {
  struct uat_check *c = &L->pb->checks[index];
  if (n->type != YAML_MAPPING_NODE)
    return fail(L, n,
                "a check must be a mapping, got %s; write it as - id: NAME with script: or run:",
                describe(n));
  c->line = line_of(n);
  c->col = col_of(n);
  if (check_mapping_keys(L, n, "a check", check_keys) != 0)
    return -1;
  yaml_node_t *id = field(L, n, "id", NULL);
  if (!id)
    return fail(L, n, "check #%zu has no 'id'; add id: NAME ([a-z0-9._-]+)", index + 1);
  if (want_id(L, id, "check id", &c->id) != 0)
    return -1;
  const struct uat_check *twin = find_check_before(L->pb, index, c->id);
  if (twin)
    return fail(L, id, "duplicate check id '%s' (first at line %d); give each check its own id",
                c->id, twin->line);
  yaml_node_t *title = field(L, n, "title", NULL);
  if (title && want_string(L, title, "title", true, &c->title) != 0)
    return -1;
  if (!title && !(c->title = strdup(c->id)))
    return oom(L, n);
  if (parse_check_code(L, n, c) != 0 || parse_tags(L, field(L, n, "tags", NULL), c) != 0)
    return -1;
  if (object_field(L, field(L, n, "with", NULL), "with", &c->params) != 0)
    return -1;
  return parse_check_limits(L, n, c);
}

static int parse_checks(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *n = field(L, root, "checks", NULL);
  if (!n)
    return fail(L, root, "missing required key 'checks'; add checks: with at least one - id: ...");
  if (n->type != YAML_SEQUENCE_NODE)
    return fail(L, n, "'checks' must be a list, got %s; write each check as - id: NAME",
                describe(n));
  size_t count = item_count(n);
  if (count == 0)
    return fail(L, n, "'checks' is empty; add at least one check");
  pb->checks = calloc(count, sizeof *pb->checks);
  if (!pb->checks)
    return oom(L, n);
  pb->nchecks = count;
  for (size_t i = 0; i < count; i++)
    if (parse_check(L, node_at(L, n->data.sequence.items.start[i]), i) != 0)
      return -1;
  return 0;
}

static int parse_signoff(struct loader *L, yaml_node_t *n, size_t index) {
  struct uat_playbook *pb = L->pb;
  struct uat_signoff_item *s = &pb->signoffs[index];
  if (n->type != YAML_MAPPING_NODE)
    return fail(L, n, "a sign-off item must be a mapping, got %s; write - id: NAME, role: ROLE",
                describe(n));
  s->line = line_of(n);
  s->col = col_of(n);
  if (check_mapping_keys(L, n, "a sign-off item", signoff_keys) != 0)
    return -1;
  yaml_node_t *id = field(L, n, "id", NULL), *role = field(L, n, "role", NULL);
  yaml_node_t *text = field(L, n, "text", NULL);
  if (!id)
    return fail(L, n, "sign-off item #%zu has no 'id'; add id: NAME ([a-z0-9._-]+)", index + 1);
  if (want_id(L, id, "sign-off id", &s->id) != 0)
    return -1;
  for (size_t i = 0; i < index; i++)
    if (strcmp(pb->signoffs[i].id, s->id) == 0)
      return fail(L, id, "duplicate sign-off id '%s' (first at line %d); give each its own id",
                  s->id, pb->signoffs[i].line);
  if (!role)
    return fail(L, n, "sign-off item '%s' has no 'role'; add role: and one of the roles: keys",
                s->id);
  if (want_nonempty_string(L, role, "role", false, &s->role) != 0)
    return -1;
  if (!uat_playbook_find_role(pb, s->role))
    return fail(L, role, "unknown role '%s'; add it under roles: or fix the name", s->role);
  if (text && want_string(L, text, "text", true, &s->text) != 0)
    return -1;
  if (!text && !(s->text = strdup(s->id)))
    return oom(L, n);
  return 0;
}

static int parse_signoffs(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  yaml_node_t *list;
  if (want_list(L, field(L, root, "signoffs", NULL), "signoffs",
                "a list of - id: NAME, role: ROLE, text: ...", &list) != 0)
    return -1;
  if (!list || item_count(list) == 0)
    return 0;
  pb->signoffs = calloc(item_count(list), sizeof *pb->signoffs);
  if (!pb->signoffs)
    return oom(L, list);
  for (size_t i = 0; i < item_count(list); i++) {
    pb->nsignoffs++;
    if (parse_signoff(L, node_at(L, list->data.sequence.items.start[i]), i) != 0)
      return -1;
  }
  return 0;
}

static int parse_root(struct loader *L, yaml_node_t *root) {
  struct uat_playbook *pb = L->pb;
  if (root->type != YAML_MAPPING_NODE)
    return fail(L, root,
                "the playbook must be a mapping (name:, target:, checks:, ...), got %s; see the "
                "Playbook section of the documentation",
                describe(root));
  if (check_mapping_keys(L, root, "the playbook", top_keys) != 0)
    return -1;
  yaml_node_t *name = field(L, root, "name", NULL);
  if (!name)
    return fail(L, root, "missing required key 'name'; add name: and what this playbook checks");
  if (want_nonempty_string(L, name, "name", true, &pb->name) != 0)
    return -1;
  if (parse_target(L, root) != 0 || parse_secrets(L, root) != 0)
    return -1;
  if (object_field(L, field(L, root, "vars", NULL), "vars", &pb->vars) != 0)
    return -1;
  if (parse_roles(L, root) != 0 || parse_gate(L, root) != 0 || parse_ledger(L, root) != 0 ||
      parse_notify(L, root) != 0)
    return -1;
  return parse_checks(L, root) != 0 || parse_signoffs(L, root) != 0 ? -1 : 0;
}

/* ---- YAML syntax ---- */

/* Line and column (1-based) of a byte offset, for libyaml's reader errors. */
static void position_of(const char *buf, size_t len, size_t offset, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < offset && i < len; i++) {
    if (buf[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

static int syntax_error(struct loader *L, yaml_parser_t *p, const char *buf, size_t len) {
  if (p->error == YAML_MEMORY_ERROR)
    return fail_at(L, 1, 1, "out of memory while reading YAML; free some memory and retry");
  const char *problem = p->problem ? p->problem : "unknown problem";
  if (p->error == YAML_READER_ERROR) {
    int line, col;
    position_of(buf, len, p->problem_offset, &line, &col);
    return fail_at(L, line, col, "invalid YAML: %s; save the file as UTF-8 text", problem);
  }
  size_t at = p->problem_mark.index;
  const char *tab_hint = at < len && buf[at] == '\t'
                             ? "YAML does not allow tabs for indentation, use spaces"
                             : "check the indentation and that every bracket and quote is closed";
  int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
  if (p->context)
    return fail_at(L, line, col, "invalid YAML: %s (%s at line %d, column %d); %s", problem,
                   p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1,
                   tab_hint);
  return fail_at(L, line, col, "invalid YAML: %s; %s", problem, tab_hint);
}

/* Refuses what the document API would accept silently: anchors and aliases (shared or
 * recursive nodes), explicit tags, and a second document. */
struct event_scan {
  int documents;
  int depth;
};

static int check_events(struct loader *L, yaml_event_t *ev, struct event_scan *scan) {
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
  const yaml_char_t *anchor = NULL, *tag = NULL;
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (++scan->documents > 1)
      return fail_at(L, line, col,
                     "a second YAML document starts here; a playbook is one document, remove "
                     "this '---' and what follows or move it to its own file");
    return 0;
  case YAML_ALIAS_EVENT:
    return fail_at(L, line, col,
                   "YAML aliases ('*%s') are not supported; write the value out in full",
                   (const char *)ev->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    anchor = ev->data.scalar.anchor;
    tag = ev->data.scalar.tag;
    break;
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    scan->depth--;
    return 0;
  case YAML_SEQUENCE_START_EVENT:
    anchor = ev->data.sequence_start.anchor;
    tag = ev->data.sequence_start.tag;
    break;
  case YAML_MAPPING_START_EVENT:
    anchor = ev->data.mapping_start.anchor;
    tag = ev->data.mapping_start.tag;
    break;
  default:
    return 0;
  }
  if (ev->type != YAML_SCALAR_EVENT && ++scan->depth > MAX_DEPTH)
    return fail_at(L, line, col, "values are nested more than %d levels deep; flatten them",
                   MAX_DEPTH);
  if (anchor)
    return fail_at(L, line, col, "YAML anchors ('&%s') are not supported; write values out in full",
                   (const char *)anchor);
  if (tag) {
    const char *shown = (const char *)tag;
    bool core = strncmp(shown, "tag:yaml.org,2002:", 18) == 0;
    return fail_at(L, line, col,
                   "YAML tags ('%s%s') are not supported; remove the tag (quote a value to make it "
                   "a string)",
                   core ? "!!" : "", core ? shown + 18 : shown);
  }
  return 0;
}

static int scan_events(struct loader *L, const char *buf, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return fail_at(L, 1, 1, "out of memory while reading YAML; free some memory and retry");
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  struct event_scan scan = {0, 0};
  int rc = 0;
  for (bool done = false; !done && rc == 0;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = syntax_error(L, &parser, buf, len);
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    rc = check_events(L, &ev, &scan);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (rc == 0 && scan.documents == 0)
    return fail_at(L, 1, 1, "the playbook is empty; start it with name:, target: and checks:");
  return rc;
}

static int load_document(struct loader *L, const char *buf, size_t len) {
  /* libyaml stops at a NUL byte as if the file ended there: what follows would be ignored. */
  const char *nul = memchr(buf, '\0', len);
  if (nul) {
    int line, col;
    position_of(buf, len, (size_t)(nul - buf), &line, &col);
    return fail_at(L, line, col,
                   "the file contains a NUL byte; a playbook is UTF-8 text: remove it or save the "
                   "file again as text");
  }
  if (scan_events(L, buf, len) != 0)
    return -1;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser))
    return fail_at(L, 1, 1, "out of memory while reading YAML; free some memory and retry");
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  int rc = yaml_parser_load(&parser, &L->doc) ? 0 : syntax_error(L, &parser, buf, len);
  yaml_parser_delete(&parser);
  return rc;
}

/* ---- public ---- */

static int set_paths(struct uat_playbook *pb, const char *path, struct uat_error *err) {
  pb->path = strdup(path);
  char *dir = uat_path_dirname(path);
  if (!pb->path || !dir) {
    free(dir);
    return uat_error_set(err, "out of memory");
  }
  pb->dir = realpath(dir, NULL);
  int e = errno;
  free(dir);
  if (!pb->dir)
    return uat_error_set(err, "cannot resolve the folder of '%s': %s; check the playbook path",
                         path, strerror(e));
  return 0;
}

/* Errors never quote secret values; this hides one should a message ever carry it anyway. */
static void redact_error(const struct uat_playbook *pb, struct uat_error *err) {
  if (!err || pb->nsecrets == 0)
    return;
  struct uat_redactor r;
  uat_redactor_init(&r);
  for (size_t i = 0; i < pb->nsecrets; i++)
    if (uat_redactor_add(&r, pb->secrets[i].value) != 0)
      break;
  char *clean = uat_redact(&r, err->text);
  if (clean)
    snprintf(err->text, sizeof err->text, "%s", clean);
  else
    snprintf(err->text, sizeof err->text, "%s: out of memory", pb->path);
  free(clean);
  uat_redactor_release(&r);
}

struct uat_playbook *uat_playbook_load(const char *path, const struct uat_playbook_options *opts,
                                       struct uat_error *err) {
  if (!path) {
    uat_error_set(err, "no playbook given; pass the path of a playbook file");
    return NULL;
  }
  if (uat_path_is_dir(path)) {
    uat_error_set(err, "'%s' is a folder; pass the playbook file itself", path);
    return NULL;
  }
  struct uat_error e;
  size_t len;
  char *buf = uat_file_read(path, MAX_FILE_SIZE, &len, &e);
  if (!buf) {
    uat_error_set(err, "%s; check the playbook path (a playbook is a text file of at most 16 MiB)",
                  e.text);
    return NULL;
  }
  struct uat_playbook *pb = uat_playbook_load_text(path, buf, len, opts, err);
  free(buf);
  return pb;
}

struct uat_playbook *uat_playbook_load_text(const char *path, const char *buf, size_t len,
                                            const struct uat_playbook_options *opts,
                                            struct uat_error *err) {
  if (!path || !buf) {
    uat_error_set(err, "no playbook given; pass the path of a playbook file");
    return NULL;
  }
  if (len > MAX_FILE_SIZE) {
    uat_error_set(err, "'%s' is larger than 16 MiB; a playbook is a text file of at most 16 MiB",
                  path);
    return NULL;
  }
  struct uat_playbook *pb = calloc(1, sizeof *pb);
  if (!pb || set_paths(pb, path, err) != 0) {
    if (!pb)
      uat_error_set(err, "out of memory");
    uat_playbook_free(pb);
    return NULL;
  }
  struct loader L = {.file = path, .pb = pb, .err = err};
  if (opts) {
    L.getenv_fn = opts->getenv_fn;
    L.getenv_ctx = opts->getenv_ctx;
    L.allow_missing_secrets = opts->allow_missing_secrets;
  }
  int rc = load_document(&L, buf, len);
  if (rc == 0) {
    rc = parse_root(&L, yaml_document_get_root_node(&L.doc));
    yaml_document_delete(&L.doc);
  }
  if (rc != 0) {
    redact_error(pb, err);
    uat_playbook_free(pb);
    return NULL;
  }
  return pb;
}

static void free_strings(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

static void free_check(struct uat_check *c) {
  free(c->id);
  free(c->title);
  free(c->script_path);
  free(c->source);
  free(c->chunk_name);
  json_decref(c->params);
  free_strings(c->tags, c->ntags);
}

void uat_playbook_free(struct uat_playbook *pb) {
  if (!pb)
    return;
  for (size_t i = 0; i < pb->nheaders; i++) {
    free(pb->headers[i].name);
    free(pb->headers[i].value);
  }
  free(pb->headers);
  free(pb->build.url);
  free(pb->build.json);
  free(pb->build.expect_raw);
  for (size_t i = 0; i < pb->nsecrets; i++) {
    free(pb->secrets[i].name);
    free(pb->secrets[i].env);
    if (pb->secrets[i].value) /* wipe before release: secrets should not linger in freed memory */
      memset(pb->secrets[i].value, 0, strlen(pb->secrets[i].value));
    free(pb->secrets[i].value);
  }
  free(pb->secrets);
  for (size_t i = 0; i < pb->nchecks; i++)
    free_check(&pb->checks[i]);
  free(pb->checks);
  for (size_t i = 0; i < pb->nsignoffs; i++) {
    free(pb->signoffs[i].id);
    free(pb->signoffs[i].role);
    free(pb->signoffs[i].text);
  }
  free(pb->signoffs);
  for (size_t i = 0; i < pb->nroles; i++) {
    free(pb->roles[i].name);
    free_strings(pb->roles[i].members, pb->roles[i].nmembers);
  }
  free(pb->roles);
  json_decref(pb->vars);
  free(pb->path);
  free(pb->dir);
  free(pb->name);
  free(pb->base_url);
  free(pb->ledger_path);
  free(pb->allowed_signers);
  for (size_t i = 0; i < pb->notify.nwebhooks; i++) {
    char *url = pb->notify.webhooks[i].url;
    if (url) /* wiped like a secret: it is one */
      memset(url, 0, strlen(url));
    free(url);
  }
  free(pb->notify.webhooks);
  free(pb->notify.page_url);
  free(pb);
}

static int unknown_var(const struct uat_playbook *pb, const char *key, struct uat_error *err) {
  struct uat_strbuf names;
  uat_strbuf_init(&names, 0);
  const char *name;
  json_t *v;
  json_object_foreach(pb->vars, name, v) {
    (void)v;
    if (uat_strbuf_addf(&names, "%s%s", names.len ? ", " : "", name) != 0)
      break;
  }
  int rc = uat_error_set(err,
                         "--var %s: the playbook has no var '%s' (%s%s); fix the name, or declare "
                         "it under vars: with a default",
                         key, key, names.len ? "its vars: " : "it declares no vars",
                         names.len ? names.buf : "");
  uat_strbuf_release(&names);
  return rc;
}

int uat_playbook_set_var(struct uat_playbook *pb, const char *assignment, struct uat_error *err) {
  const char *eq = assignment ? strchr(assignment, '=') : NULL;
  if (!eq || eq == assignment)
    return uat_error_set(err, "--var expects KEY=VALUE, got '%s'", assignment ? assignment : "");
  char *key = strndup(assignment, (size_t)(eq - assignment));
  if (!key)
    return uat_error_set(err, "out of memory");
  if (!json_object_get(pb->vars, key)) {
    /* A mistyped name would otherwise add a var no script reads and leave the real one at
     * its default: the checks would pass while checking something else. */
    int rc = unknown_var(pb, key, err);
    free(key);
    return rc;
  }
  json_t *value = json_string(eq + 1); /* NULL when not valid UTF-8 */
  int rc = !value
               ? uat_error_set(err, "--var %s: the value is not valid UTF-8; pass UTF-8 text", key)
           : json_object_set_new(pb->vars, key, value) != 0 /* takes value even on failure */
               ? uat_error_set(err, "out of memory")
               : 0;
  free(key);
  return rc;
}

char *uat_playbook_build_expect(const struct uat_playbook *pb, uat_getenv_fn getenv_fn, void *ctx,
                                struct uat_error *err) {
  const struct uat_build_target *b = &pb->build;
  struct uat_error e;
  char *v = uat_expand(b->expect_raw, getenv_fn, ctx, &e);
  if (!v) {
    uat_error_at(err, pb->path, b->expect_line, b->expect_col, "target.build.expect: %s", e.text);
    return NULL;
  }
  json_t *probe = json_string(v); /* NULL when not valid UTF-8 */
  const char *why = !probe ? "is not valid UTF-8 after ${...} expansion; fix the variable's value"
                    : !*v  ? "is empty after ${...} expansion; set the variable it names"
                           : NULL;
  json_decref(probe);
  if (why) {
    free(v);
    uat_error_at(err, pb->path, b->expect_line, b->expect_col, "target.build.expect %s", why);
    return NULL;
  }
  return v;
}

const struct uat_check *uat_playbook_find_check(const struct uat_playbook *pb, const char *id) {
  return pb && id ? find_check_before(pb, pb->nchecks, id) : NULL;
}

const struct uat_role *uat_playbook_find_role(const struct uat_playbook *pb, const char *name) {
  for (size_t i = 0; pb && name && i < pb->nroles; i++)
    if (pb->roles[i].name && strcmp(pb->roles[i].name, name) == 0)
      return &pb->roles[i];
  return NULL;
}

bool uat_check_has_tag(const struct uat_check *check, const char *tag) {
  for (size_t i = 0; check && tag && i < check->ntags; i++)
    if (strcmp(check->tags[i], tag) == 0)
      return true;
  return false;
}

bool uat_role_has_member(const struct uat_role *role, const char *person) {
  for (size_t i = 0; role && person && i < role->nmembers; i++)
    if (strcmp(role->members[i], person) == 0)
      return true;
  return false;
}

const char *uat_webhook_type_name(enum uat_webhook_type t) {
  return (unsigned)t < sizeof webhook_types / sizeof webhook_types[0] - 1 ? webhook_types[t] : "?";
}
