/* `uatrun ledger init URL` creates the PostgreSQL team ledger (schema, group roles,
 * grants, triggers); `uatrun ledger copy FROM TO` moves a ledger between backends and
 * verifies the copy. Every ledger name shown has its password redacted. */
#include "cli/cli.h"

#include "ledger/ledger.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_CI_ROLE "uatrun_ci"
#define DEFAULT_SIGNER_ROLE "uatrun_signer"

static int ledger_init(const struct uat_cli_options *o) {
  if (o->nargs != 2) {
    uat_cli_error(o, "usage: uatrun ledger init URL [--ci-role NAME] [--signer-role NAME]");
    return UAT_EXIT_USAGE;
  }
  const char *url = o->args[1];
  const char *ci = o->ci_role ? o->ci_role : DEFAULT_CI_ROLE;
  const char *signer = o->signer_role ? o->signer_role : DEFAULT_SIGNER_ROLE;
  char *shown = uat_ledger_shown_name(url);
  struct uat_error err;
  if (uat_ledger_init(url, ci, signer, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    free(shown);
    /* A file, or one role for both, is refused before connecting: a usage error. */
    bool usage = !uat_ledger_is_url(url) || strcmp(ci, signer) == 0;
    return usage ? UAT_EXIT_USAGE : UAT_EXIT_LEDGER;
  }
  fprintf(o->out,
          "ledger ready: %s\n"
          "  CI jobs:  members of '%s' may read and insert runs, never decisions\n"
          "  signers:  members of '%s' may read and insert decisions signed as themselves\n"
          "  nobody may UPDATE, DELETE or TRUNCATE a row (grants and triggers)\n"
          "next: give each person their own database user, listed under roles: in the playbook,\n"
          "  CREATE ROLE nesserine LOGIN PASSWORD '...' IN ROLE %s;\n"
          "  CREATE ROLE ci_runner LOGIN PASSWORD '...' IN ROLE %s;\n",
          shown ? shown : "?", ci, signer, signer, ci);
  free(shown);
  return UAT_EXIT_OK;
}

static int ledger_copy(const struct uat_cli_options *o) {
  if (o->nargs != 3) {
    uat_cli_error(o, "usage: uatrun ledger copy FROM TO (a SQLite file or a postgresql:// URL "
                     "each)");
    return UAT_EXIT_USAGE;
  }
  struct uat_ledger *from = NULL, *to = NULL;
  struct uat_error err;
  int64_t rows = 0;
  char head[UAT_HASH_HEX];
  int rc = UAT_EXIT_OK;
  if (uat_ledger_open(o->args[1], UAT_LEDGER_READ, &from, &err) != 0 ||
      uat_ledger_open(o->args[2], UAT_LEDGER_WRITE, &to, &err) != 0 ||
      uat_ledger_copy(from, to, &rows, head, &err) != 0) {
    uat_cli_error(o, "%s", err.text);
    rc = UAT_EXIT_LEDGER;
  } else {
    fprintf(o->out, "copied %lld row%s from %s to %s; the copy verifies\nledger head: %s\n",
            (long long)rows, rows == 1 ? "" : "s", uat_ledger_name(from), uat_ledger_name(to),
            head);
  }
  uat_ledger_close(to);
  uat_ledger_close(from);
  return rc;
}

int uat_cmd_ledger(const struct uat_cli_options *o) {
  const char *action = o->nargs ? o->args[0] : NULL;
  if (action && strcmp(action, "init") == 0)
    return ledger_init(o);
  if (action && strcmp(action, "copy") == 0)
    return ledger_copy(o);
  uat_cli_error(o, "%s%s%s: `uatrun ledger init URL` or `uatrun ledger copy FROM TO`",
                action ? "unknown ledger action '" : "which ledger action?", action ? action : "",
                action ? "'" : "");
  return UAT_EXIT_USAGE;
}
