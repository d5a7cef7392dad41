/* The playbook loader (playbook/playbook.c) on any YAML text, named as a file in examples/
 * (UAT_FUZZ_PLAYBOOK_DIR) so script: checklists/... of the real playbooks resolves. The
 * environment is fixed: variables ending in _TOKEN, _PASSWORD, _KEY or _SECRET hold
 * SECRET_VALUE, the others are unset. Properties: a refused playbook gives an error
 * "PATH:LINE:COL: message" with the position inside the text, never showing SECRET_VALUE
 * (unless the text holds it, or expands ${...}: an undeclared variable is not a secret);
 * an accepted one has unique ids of [a-z0-9._-]+, positive timeouts, retries in range, a
 * memory cap, roles for every sign-off, and frees cleanly. */
#define _GNU_SOURCE /* memmem */
#include "fuzz_assert.h"
#include "playbook/playbook.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_VALUE "fuzz-secret-Qx7"

static const char *fixed_env(const char *name, void *ctx) {
  static const char *const secret_suffixes[] = {"_TOKEN", "_PASSWORD", "_KEY", "_SECRET"};
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof secret_suffixes / sizeof secret_suffixes[0]; i++) {
    size_t s = strlen(secret_suffixes[i]);
    if (n >= s && strcmp(name + n - s, secret_suffixes[i]) == 0)
      return SECRET_VALUE;
  }
  return NULL;
}

/* Lines as YAML counts them (libyaml's marks): LF, CR, CR LF, and NEL, LS, PS in UTF-8. */
static int count_lines(const char *text, size_t len) {
  int lines = 1;
  for (size_t i = 0; i < len; i++) {
    const unsigned char *p = (const unsigned char *)text + i;
    if (p[0] == '\r' && i + 1 < len && p[1] == '\n')
      i++;
    if (p[0] == '\n' || p[0] == '\r' || (p[0] == 0xC2 && i + 1 < len && p[1] == 0x85) ||
        (p[0] == 0xE2 && i + 2 < len && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)))
      lines++;
  }
  return lines;
}

/* Whether the secret can reach the loader only as a secret: the text neither holds its value
 * nor expands ${...} (a variable that is not declared under secrets: is not redacted). */
static bool secret_only_as_secret(const char *text, size_t len) {
  return !memmem(text, len, SECRET_VALUE, strlen(SECRET_VALUE)) && !memmem(text, len, "${", 2);
}

static void check_error(const char *path, const char *text, size_t len, const char *msg) {
  if (secret_only_as_secret(text, len))
    FUZZ_ASSERT(!strstr(msg, SECRET_VALUE), "the error shows the secret: %s", msg);
  size_t plen = strlen(path);
  FUZZ_ASSERT(strncmp(msg, path, plen) == 0 && msg[plen] == ':', "'%s' does not start with %s:",
              msg, path);
  int line = 0, col = 0, used = 0;
  FUZZ_ASSERT(sscanf(msg + plen, ":%d:%d: %n", &line, &col, &used) == 2 && used > 0,
              "'%s' has no LINE:COL: after the path", msg);
  FUZZ_ASSERT(line >= 1 && line <= count_lines(text, len) + 1 && col >= 1,
              "'%s' points outside the text (%d lines)", msg, count_lines(text, len));
  FUZZ_ASSERT(msg[plen + (size_t)used] != '\0', "'%s' has no message after the position", msg);
}

static bool valid_id(const char *id) {
  return id && id[0] && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(id);
}

static void check_playbook(const struct uat_playbook *pb) {
  FUZZ_ASSERT(pb->name && pb->dir && pb->ledger_path, "a loaded playbook lacks a field");
  for (size_t i = 0; i < pb->nchecks; i++) {
    const struct uat_check *c = &pb->checks[i];
    FUZZ_ASSERT(valid_id(c->id), "check id '%s' is not [a-z0-9._-]+", c->id);
    FUZZ_ASSERT(uat_playbook_find_check(pb, c->id) == c, "check id '%s' is not unique", c->id);
    FUZZ_ASSERT(c->source && c->chunk_name && json_is_object(c->params),
                "check '%s' lacks its source or params", c->id);
    FUZZ_ASSERT(c->timeout_s > 0 && c->retries >= 0 && c->retries <= UAT_MAX_RETRIES &&
                    c->memory_cap > 0,
                "check '%s' has timeout %g, retries %d, memory %zu", c->id, c->timeout_s,
                c->retries, c->memory_cap);
  }
  for (size_t i = 0; i < pb->nsignoffs; i++)
    FUZZ_ASSERT(uat_playbook_find_role(pb, pb->signoffs[i].role),
                "sign-off '%s' names an unknown role '%s'", pb->signoffs[i].id,
                pb->signoffs[i].role);
  FUZZ_ASSERT(pb->timeout_s > 0 && pb->signoff_max_age_s > 0, "a playbook duration is not > 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *path = UAT_FUZZ_PLAYBOOK_DIR "/fuzz.yml";
  struct uat_playbook_options opts = {.getenv_fn = fixed_env};
  struct uat_error err = {{0}};
  struct uat_playbook *pb = uat_playbook_load_text(path, (const char *)data, size, &opts, &err);
  if (!pb) {
    check_error(path, (const char *)data, size, err.text);
    return 0;
  }
  check_playbook(pb);
  struct uat_error verr;
  if (uat_playbook_set_var(pb, "fuzz=1", &verr) != 0)
    FUZZ_ASSERT(verr.text[0], "set_var failed without a message");
  uat_playbook_free(pb);
  return 0;
}
