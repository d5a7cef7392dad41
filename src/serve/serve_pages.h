/* The HTML of the sign-off page. Every text that reaches a page — item texts, notes, check
 * ids, errors, user names — goes through uat_html_text, the one escaping function, so a
 * note holding <script> is shown as those characters, never run. Pages carry no inline
 * script or style (the Content-Security-Policy forbids both); styles come from /style.css.
 * Ownership: every pointer in the models is borrowed; pages are appended to the caller's
 * buffer. */
#ifndef UAT_SERVE_PAGES_H
#define UAT_SERVE_PAGES_H

#include "gate/gate.h"
#include "playbook/playbook.h"
#include "util/strbuf.h"

#include <stdbool.h>

/* The stylesheet served at /style.css. */
extern const char uat_serve_css[];

/* Appends text with & < > " ' escaped, and control characters (but tab and newline) and
 * bytes that are not UTF-8 replaced by U+FFFD, so it is inert in an element or an attribute
 * value. NULL appends nothing. */
int uat_html_text(struct uat_strbuf *sb, const char *text);

/* Who is signed in, for the page's header and the forms' CSRF field. */
struct uat_page_who {
  const char *user; /* NULL: nobody (the login page) */
  const char *csrf;
  bool can_logout; /* htpasswd sessions can end; a proxy's identity cannot */
};

/* What one failed expectation or artifact of the run report says (optional detail). */
struct uat_page_expectation {
  const char *message, *actual, *expected, *where;
};
struct uat_page_check_detail {
  const char *id;
  const struct uat_page_expectation *failed;
  size_t nfailed;
  const char **artifacts; /* shown as /artifact/N links, images inline */
  const size_t *artifact_index;
  size_t nartifacts;
};

struct uat_page_release {
  const struct uat_page_who *who;
  const struct uat_playbook *playbook;
  const char *release, *commit;
  const struct uat_run_record *run;
  const struct uat_gate_verdict *verdict;
  const char *headline;      /* the gate's verdict line */
  const char *signing_block; /* why signing is refused now (a failed run), or NULL */
  const char *signing_note;  /* a caveat, as signoff notes it (no run recorded yet), or NULL */
  const char *flash;         /* the outcome of the last POST, or NULL */
  bool flash_ok;
  const struct uat_page_check_detail *details; /* from --run-report, may be NULL */
  size_t ndetails;
  const char *report_note; /* why the run report is not shown, or NULL */
};

int uat_page_release(struct uat_strbuf *sb, const struct uat_page_release *m);
/* The text `uatrun status` prints, with its exit code. */
int uat_page_status(struct uat_strbuf *sb, const struct uat_page_who *who, const char *text,
                    int exit_code);
/* The sign-in form; message (a failed attempt) may be NULL. */
int uat_page_login(struct uat_strbuf *sb, const char *csrf, const char *message);
/* A short page with one sentence (errors, refusals). */
int uat_page_message(struct uat_strbuf *sb, const struct uat_page_who *who, const char *title,
                     const char *message);

#endif
