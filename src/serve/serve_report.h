/* The JSON report of the latest run (`uatrun run --report-json FILE --artifacts DIR`), read
 * for what the ledger does not keep: failed expectations with actual vs expected, and the
 * screenshots of browser checks. Shown only when it is the report of the run the ledger
 * holds (same release, commit, digest and end time); its artifacts are the only files the
 * page serves, by their number in it.
 * Ownership: a loaded report owns its JSON and arrays (uat_serve_report_release); the
 * details borrow from it. */
#ifndef UAT_SERVE_REPORT_H
#define UAT_SERVE_REPORT_H

#include "gate/gate.h"
#include "serve/serve_pages.h"

struct uat_serve_report {
  void *root; /* json_t */
  struct uat_page_check_detail *details;
  size_t ndetails;
  const char *note; /* why nothing is shown (static text), or NULL */
};

/* Never fails: a missing, unreadable or unrelated report leaves out->note saying why. */
void uat_serve_report_load(const char *path, const char *release, const char *commit,
                           const struct uat_run_record *run, struct uat_serve_report *out);
void uat_serve_report_release(struct uat_serve_report *r);
/* The file of artifact n (the caller's), resolved against the report's folder, or NULL. */
char *uat_serve_report_artifact(const char *path, const char *release, const char *commit,
                                const struct uat_run_record *run, size_t n);

#endif
