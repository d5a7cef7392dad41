/* The gate's decision as a pure function: a recorded run + recorded decisions
 * + the playbook's policy + the current time → open / failed / waiting, item by
 * item, with the reason. No I/O here: the ledger supplies the records, the CLI
 * prints the verdict.
 * Ownership: decisions and run records are owned by whoever filled them
 * (ledger.c allocates, uat_decision_list_free / uat_run_record_clear release);
 * a verdict borrows from its input and owns only its items array. */
#ifndef UAT_GATE_H
#define UAT_GATE_H

#include "playbook.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sign-off decision as recorded in the ledger. */
struct uat_decision {
  int64_t seq;  /* ledger row number: later rows are later decisions */
  int64_t time; /* unix seconds */
  char *playbook; /* playbook name */
  char *digest;   /* playbook digest the signer approved */
  char *release;
  char *commit;
  char *role;
  char *item;
  char *signer;
  bool approve; /* false: reject */
  char *note;
  int64_t run_seq; /* the run the signer saw (0: none) */
};

struct uat_decision_list {
  struct uat_decision *items;
  size_t count;
};

/* The latest recorded run of a release and commit. */
struct uat_run_record {
  bool found;
  int64_t seq;
  int64_t time; /* when it finished, unix seconds */
  char *digest;
  char *release;
  char *commit;
  bool passed;
  size_t npassed, nfailed, nerrored;
  char **failed_ids; /* checks that did not pass */
  size_t nfailed_ids;
};

void uat_decision_list_free(struct uat_decision_list *list);
void uat_run_record_clear(struct uat_run_record *run);

#endif
