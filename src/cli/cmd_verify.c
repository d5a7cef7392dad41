/* `uatrun verify-ledger`: re-checks the ledger's hash chain, and with --head
 * that a chain head recorded elsewhere (a CI log) is still in it. */
#include "cli/cli.h"
#include "cli/context.h"
#include "ledger/ledger.h"

int uat_cmd_verify_ledger(const struct uat_cli_options *opts) {
  struct uat_context ctx;
  struct uat_error err;
  if (uat_context_open(&ctx, opts, 0, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  /* A mistyped --head is a bad option (exit 2), not a broken ledger (exit 4). */
  if (opts->head && uat_ledger_check_head(opts->head, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    uat_context_close(&ctx);
    return UAT_EXIT_USAGE;
  }
  struct uat_ledger *ledger;
  if (uat_ledger_open(ctx.ledger_path, UAT_LEDGER_READ, &ledger, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    uat_context_close(&ctx);
    return UAT_EXIT_LEDGER;
  }
  int64_t rows = 0;
  char head[UAT_HASH_HEX] = "";
  int rc = UAT_EXIT_OK;
  if (uat_ledger_verify(ledger, opts->head, &rows, head, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    rc = UAT_EXIT_LEDGER;
  } else if (opts->quiet) {
    /* As after run and signoff: the head alone, for a log kept elsewhere. */
    if (*head)
      fprintf(opts->out, "ledger head: %s\n", head);
  } else {
    fprintf(opts->out, "ledger OK: %lld row%s in %s, head %s\n", (long long)rows,
            rows == 1 ? "" : "s", ctx.ledger_path, *head ? head : "(empty)");
    if (opts->head)
      fprintf(opts->out, "the recorded head %s is in the chain\n", opts->head);
  }
  uat_ledger_close(ledger);
  uat_context_close(&ctx);
  return rc;
}
