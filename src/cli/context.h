/* What every command starts from: the loaded playbook (with --var and
 * --base-url applied), the secret redactor, the release and commit this
 * invocation is about, and where the ledger is. */
#ifndef UAT_CONTEXT_H
#define UAT_CONTEXT_H

#include "cli/cli.h"
#include "util/error.h"
#include "playbook/playbook.h"
#include "util/redact.h"
#include "util/result.h"

enum {
  UAT_CTX_SECRETS = 1 << 0,      /* unset secrets are an error (commands that run checks) */
  UAT_CTX_NEED_RELEASE = 1 << 1, /* release and commit must be known (signoff, gate) */
};

struct uat_context {
  const struct uat_cli_options *opts;
  struct uat_playbook *playbook;
  struct uat_redactor redactor;
  char *release;        /* NULL when unknown */
  char *commit;         /* NULL when unknown */
  char *base_url;       /* effective */
  char *base_url_shown; /* the same with secrets redacted: the only form printed */
  char *fingerprint;    /* SHA-256 hex of base URL, headers, vars, with: (see result.h) */
  char *build_url;      /* target.build.url against the base URL; NULL without target.build */
  char *ledger_path; /* UATRUN_LEDGER, else playbook's ledger:, else .uatrun/ledger.db beside it */
  char *ledger_shown; /* the same with a URL's password redacted: the only form printed */
};

/* Returns 0, or -1 with err set (the caller exits 2). */
int uat_context_open(struct uat_context *ctx, const struct uat_cli_options *opts, unsigned flags,
                     struct uat_error *err);
void uat_context_close(struct uat_context *ctx);

/* Release/commit as the contract resolves them: option, then UATRUN_*, then CI variables. */
const char *uat_context_env_release(void);
const char *uat_context_env_commit(void);

/* The --report-* paths (either may be NULL), checked before anything runs so a bad one is a
 * usage error (exit 2) with nothing run: each a file in an existing, writable folder (or a
 * device, written in place); not one file for both (the second would replace the first);
 * neither the ledger (or its -wal/-shm/-journal), the playbook nor a check script.
 * Returns 0, or -1 with err set. */
int uat_context_check_reports(const struct uat_context *ctx, const char *junit, const char *json,
                              struct uat_error *err);
/* The same for every --report-* path of opts (--report-html too): any two naming one file
 * are refused. */
int uat_context_check_all_reports(const struct uat_context *ctx,
                                  const struct uat_cli_options *opts, struct uat_error *err);

/* Runs the selected checks with terminal output, writes the --report-* files and
 * records the run in the ledger (prints the new chain head). Shared by run and gate.
 * Returns an exit code: 0 passed, 1 failed, 2 report unwritable, 4 ledger error;
 * *out receives the run (caller frees) when checks ran. When (*out)->abandoned is set, a
 * check stuck in one C call still runs on a thread that reads ctx: the caller frees
 * nothing, finishes its output and ends the process with uat_execute_run_stop. */
int uat_execute_run(struct uat_context *ctx, struct uat_run_result **out);
/* Says why uatrun stops there (a stuck check; whether the run was recorded) and ends the
 * process at once with exit code rc, so nothing is freed under the stuck thread. */
_Noreturn void uat_execute_run_stop(const struct uat_context *ctx, bool recorded, int rc);

#endif
