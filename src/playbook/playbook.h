/* A playbook: the YAML file a team writes, validated and resolved.
 * uat_playbook_load reads it with libyaml, expands ${VAR} / ${VAR:-default}
 * from the environment, resolves paths against the playbook's folder, reads
 * secrets from their environment variables and checks everything the contract
 * asks (unknown keys, types, ids, scripts, roles), reporting the first problem
 * as "FILE:LINE:COLUMN: message; what to do".
 * Ownership: the playbook owns every string and json_t in it; uat_playbook_free
 * releases all. Nothing here is modified after loading, so threads may share it. */
#ifndef UAT_PLAYBOOK_H
#define UAT_PLAYBOOK_H

#include "playbook/expand.h"
#include "util/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define UAT_DEFAULT_TIMEOUT_S 10.0
#define UAT_MAX_RETRIES 10 /* checks[].retries is 0 to this */
#define UAT_DEFAULT_MEMORY_CAP ((size_t)64 * 1024 * 1024)
#define UAT_DEFAULT_SIGNOFF_MAX_AGE_S (72.0 * 3600)
#define UAT_DEFAULT_BUILD_INTERVAL_S 2.0
#define UAT_SECRET_MIN_LEN 4 /* shorter values cannot be masked without showing them */
#define UAT_DEFAULT_NOTIFY_TIMEOUT_S 10.0
#define UAT_MAX_NOTIFY_TIMEOUT_S 60.0 /* a gate waits on each webhook at most this long */

struct uat_header {
  char *name;
  char *value;
};

struct uat_secret {
  char *name;  /* as scripts see it: secrets.NAME */
  char *env;   /* the environment variable it comes from */
  char *value; /* never printed; the redactor hides it */
};

struct uat_check {
  char *id;               /* [a-z0-9._-]+, unique */
  char *title;            /* defaults to id */
  char *script_path;      /* resolved path of `script:`, or NULL for `run:` */
  char *source;           /* the Lua source (read from script_path, or the inline `run:` text) */
  char *chunk_name;       /* what errors name: the script path as written, prefixed with the
                             playbook's folder as given; "PLAYBOOK:LINE" for run: */
  int source_line_offset; /* for run: the playbook line where the Lua text starts, minus 1 */
  json_t *params;         /* `with:` as an object (empty object when absent) */
  char **tags;
  size_t ntags;
  double timeout_s;  /* checks[].timeout, else target.timeout */
  int retries;       /* extra attempts after a failure, >= 0 */
  size_t memory_cap; /* bytes; checks[].memory, default 64 MiB */
  int line, col;     /* where the check starts in the playbook */
};

/* target.build: a page of staging that names what is deployed, polled before any check runs
 * until it serves the release under test (see README, "Waiting for the deploy"). */
struct uat_build_target {
  bool enabled;                /* target.build is in the playbook */
  char *url;                   /* expanded; absolute, or relative to the base URL */
  char *json;                  /* field of a JSON response: "version", "release.version" or a JSON
                                  pointer "/release/version"; NULL: the whole body, trimmed */
  char *expect_raw;            /* `expect:` as written, expanded when the wait starts (it may name
                                  ${UATRUN_RELEASE}); NULL: the release under test */
  double wait_s;               /* how long to poll; 0: staging must serve it at the first poll */
  double interval_s;           /* between polls */
  int line, col;               /* where its url: is written */
  int expect_line, expect_col; /* where its expect: is written */
};

struct uat_signoff_item {
  char *id;
  char *role;
  char *text;
  int line, col;
};

/* notify.webhooks[].type: which chat (or plain JSON) payload a webhook receives. */
enum uat_webhook_type {
  UAT_WEBHOOK_SLACK,
  UAT_WEBHOOK_MATTERMOST,
  UAT_WEBHOOK_TEAMS,
  UAT_WEBHOOK_JSON,
};

/* notify.webhooks[].on: what the gate tells a webhook about (a bit set). */
enum {
  UAT_NOTIFY_WAITING = 1u << 0, /* exit 3: sign-offs are missing */
  UAT_NOTIFY_OPEN = 1u << 1,    /* exit 0 */
  UAT_NOTIFY_BLOCKED = 1u << 2, /* exit 1: a sign-off was rejected */
  UAT_NOTIFY_FAILED = 1u << 3,  /* exit 1: the checks did not pass (or did not run) */
};
#define UAT_NOTIFY_DEFAULT_ON (UAT_NOTIFY_WAITING | UAT_NOTIFY_OPEN | UAT_NOTIFY_BLOCKED)

struct uat_webhook {
  enum uat_webhook_type type;
  char *url; /* expanded from the environment; a secret (hidden by the context's redactor);
                "" when the variable is empty: this webhook is off */
  unsigned on;
  int line, col; /* where the webhook starts in the playbook */
};

/* notify: who the gate tells about its verdict. */
struct uat_notify {
  struct uat_webhook *webhooks;
  size_t nwebhooks;
  char *page_url;   /* the sign-off page to link (uatrun serve), or NULL */
  double timeout_s; /* per webhook request */
};

struct uat_role {
  char *name;
  char **members;
  size_t nmembers;
};

struct uat_playbook {
  char *path; /* as given */
  char *dir;  /* folder of the playbook: relative paths resolve against it */
  char *name;
  char *base_url;
  int base_url_line, base_url_col; /* where target.base_url is written */
  double timeout_s;
  struct uat_build_target build;
  struct uat_header *headers;
  size_t nheaders;
  struct uat_secret *secrets;
  size_t nsecrets;
  json_t *vars; /* object; --var KEY=VALUE overrides are applied by uat_playbook_set_var */
  struct uat_check *checks;
  size_t nchecks;
  struct uat_signoff_item *signoffs;
  size_t nsignoffs;
  struct uat_role *roles;
  size_t nroles;
  double signoff_max_age_s;
  bool distinct_signers;
  bool require_signatures; /* gate and verify-ledger check every decision's SSH signature */
  char *allowed_signers;   /* resolved path of the OpenSSH allowed_signers file, or NULL */
  char *ledger_path; /* resolved; UATRUN_LEDGER is applied by the caller, not here */
  struct uat_notify notify;
};

struct uat_playbook_options {
  /* Environment lookup for ${VAR} and secrets; NULL means getenv. Tests pass their own. */
  const char *(*getenv_fn)(const char *name, void *ctx);
  void *getenv_ctx;
  /* lint: a missing secret is reported as a problem too (same as run), but a caller may
   * set this to accept unset secrets (e.g. `status`, `history`, which run nothing). */
  bool allow_missing_secrets;
};

/* Loads and validates. Returns NULL with err set ("FILE:LINE:COL: ...") on any problem. */
struct uat_playbook *uat_playbook_load(const char *path, const struct uat_playbook_options *opts,
                                       struct uat_error *err);
/* The same for text already in memory (len bytes, no NUL needed at the end; borrowed): path
 * names the playbook in messages and its folder, which must exist, resolves scripts and the
 * ledger. Lets tests and the fuzz harness load a playbook without writing a file. */
struct uat_playbook *uat_playbook_load_text(const char *path, const char *text, size_t len,
                                            const struct uat_playbook_options *opts,
                                            struct uat_error *err);
void uat_playbook_free(struct uat_playbook *pb);

/* Applies a --var KEY=VALUE override (VALUE kept as a string). Returns 0 or -1 with err set. */
int uat_playbook_set_var(struct uat_playbook *pb, const char *assignment, struct uat_error *err);

/* target.build.expect expanded now, through getenv_fn (NULL: getenv): the value staging must
 * serve. Only when pb->build.expect_raw is set. NULL with err ("FILE:LINE:COL: ...") when a
 * variable is unset or the value is empty or not UTF-8; else the caller's. */
char *uat_playbook_build_expect(const struct uat_playbook *pb, uat_getenv_fn getenv_fn, void *ctx,
                                struct uat_error *err);

const struct uat_check *uat_playbook_find_check(const struct uat_playbook *pb, const char *id);
const struct uat_role *uat_playbook_find_role(const struct uat_playbook *pb, const char *name);
bool uat_check_has_tag(const struct uat_check *check, const char *tag);
bool uat_role_has_member(const struct uat_role *role, const char *person);
/* "slack" "mattermost" "teams" "json". */
const char *uat_webhook_type_name(enum uat_webhook_type t);

#endif
