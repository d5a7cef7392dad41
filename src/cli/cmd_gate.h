/* `uatrun gate` and `uatrun status`: the verdict printed and reported (the snapshot and its
 * words are cli/gate_snapshot.h's). */
#ifndef UAT_CMD_GATE_H
#define UAT_CMD_GATE_H

#include "cli/cli.h"
#include "cli/gate_snapshot.h"

#include <stdbool.h>

/* `gate` (run_checks true unless --no-run) and `status` (never runs): prints the verdict,
 * writes --report-json, returns the exit code. */
int uat_gate_show(const struct uat_cli_options *opts, bool run_checks);

#endif
