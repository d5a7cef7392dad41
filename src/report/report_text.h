/* Text cleaning shared by the reports: every report must stay valid (UTF-8 for JSON,
 * well-formed XML for JUnit) and a terminal must not obey escape sequences hidden in
 * a response body, whatever bytes a check recorded. */
#ifndef UAT_REPORT_TEXT_H
#define UAT_REPORT_TEXT_H

#include "util/strbuf.h"

#include <stdbool.h>
#include <stddef.h>

enum uat_text_mode {
  UAT_TEXT_UTF8,     /* invalid UTF-8 bytes become U+FFFD */
  UAT_TEXT_XML,      /* also characters XML 1.0 forbids: controls become "\xNN", U+FFFE/F U+FFFD */
  UAT_TEXT_TERMINAL, /* also every control character except \n and \t becomes "\xNN" or "\u00NN" */
};

/* Appends the cleaned form of text[0..len) to sb. Returns 0, or -1 when out of memory. */
int uat_report_text_add(struct uat_strbuf *sb, const char *text, size_t len,
                        enum uat_text_mode mode);
/* Returns a cleaned copy of s (the caller's), or NULL when s is NULL or memory ran out. */
char *uat_report_text_clean(const char *s, enum uat_text_mode mode);

/* Whether s is valid UTF-8 (what the ledger and the JSON report can store). */
bool uat_report_text_is_utf8(const char *s);
/* True when s is valid UTF-8 holding no control character (C0 including tab and newline,
 * DEL, C1): text people record (a release, a signer, a note) that others later read on a
 * terminal and that the ledger stores as JSON. */
bool uat_report_text_is_line(const char *s);

#endif
