/* `uatrun verify-ledger`: re-checks the ledger's hash chain, and with --head
 * that a chain head recorded elsewhere (a CI log) is still in it. */
#include "cli/cli.h"
#include "cli/context.h"
#include "cli/cmd_gate.h"
#include "ledger/ledger.h"

/* gate.require_signatures: every decision of this playbook, of any release, carries its
 * signer's signature (allowed_signers). */
static int verify_signatures(const struct uat_context *ctx, struct uat_ledger *ledger,
                             size_t *checked, struct uat_error *err) {
  if (!ctx->playbook->require_signatures)
    return 0;
  struct uat_decision_list ds;
  if (uat_ledger_all_decisions(ledger, ctx->playbook->name, &ds, err) != 0)
    return -1;
  int rc = uat_gate_check_signatures(ctx->playbook, &ds, err);
  *checked = rc == 0 ? ds.count : 0;
  uat_decision_list_free(&ds);
  return rc;
}

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
  size_t signed_ok = 0;
  if (uat_ledger_verify(ledger, opts->head, &rows, head, &err) != 0 ||
      verify_signatures(&ctx, ledger, &signed_ok, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    rc = UAT_EXIT_LEDGER;
  } else if (opts->quiet) {
    /* As after run and signoff: the head alone, for a log kept elsewhere. */
    if (*head)
      fprintf(opts->out, "ledger head: %s\n", head);
  } else {
    fprintf(opts->out, "ledger OK: %lld row%s in %s, head %s\n", (long long)rows,
            rows == 1 ? "" : "s", ctx.ledger_shown, *head ? head : "(empty)");
    if (opts->head)
      fprintf(opts->out, "the recorded head %s is in the chain\n", opts->head);
    if (ctx.playbook->require_signatures)
      fprintf(opts->out, "signatures OK: %zu decision%s of '%s', each signed by its signer\n",
              signed_ok, signed_ok == 1 ? "" : "s", ctx.playbook->name);
  }
  uat_ledger_close(ledger);
  uat_context_close(&ctx);
  return rc;
}
