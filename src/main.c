/* uatrun: release-gating UAT checklist runner. The CLI does the work. */
#include "cli/cli.h"

int main(int argc, char **argv) {
  return uat_cli_main(argc, argv);
}
