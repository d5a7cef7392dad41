/* `uatrun status`: the gate's picture of the current release and commit —
 * recorded run, sign-offs, what is missing — without running anything. */
#include "cli/cmd_gate.h"

int uat_cmd_status(const struct uat_cli_options *opts) {
  return uat_gate_show(opts, false);
}
