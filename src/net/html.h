/* HTML documents and XPath queries, on libxml2's lenient HTML parser.
 * This file and html.c are the only users of libxml2's parser and XPath;
 * lua_html.c builds the script objects on top.
 * Ownership: a document owns its nodes, and a node pointer is valid while its
 * document lives (documents are never modified after parsing). Returned char *
 * are the caller's (free()); const char * are borrowed.
 * Nothing is printed: libxml2's error handlers are swapped for the calling
 * thread during each call (its handler globals are per-thread) and restored. */
#ifndef UAT_HTML_H
#define UAT_HTML_H

#include "util/error.h"

#include <stddef.h>

struct uat_html_doc;
struct uat_html_node;

/* What an XPath expression selected: nodes, or the string value of a
 * number / string / boolean result (then nodes is NULL and count 0). */
struct uat_html_result {
  struct uat_html_node **nodes;
  size_t count;
  char *value;
};

/* Parses text as HTML; soup, an empty string and binary junk give a (maybe empty)
 * document. Returns NULL only when memory runs out or len exceeds INT_MAX. */
struct uat_html_doc *uat_html_parse(const char *text, size_t len);
void uat_html_free(struct uat_html_doc *doc);

/* Evaluates expr against doc, relative to node when not NULL. Returns 0 and fills
 * out (release it with uat_html_result_release), or -1 with err set to
 * "invalid XPath expression 'SHOWN': why". shown is expr as messages may quote it
 * (redacted by the caller: err's size limit could cut a secret in expr in half). */
int uat_html_xpath(struct uat_html_doc *doc, struct uat_html_node *node, const char *expr,
                   const char *shown, struct uat_html_result *out, struct uat_error *err);
void uat_html_result_release(struct uat_html_result *r);

/* The element or attribute name; "#text", "#comment", "#document" for those nodes. */
const char *uat_html_node_name(const struct uat_html_node *node);
/* Text content with runs of whitespace collapsed to one space and trimmed ("" when
 * empty); NULL only when out of memory. */
char *uat_html_node_text(const struct uat_html_node *node);
/* The attribute's value (name matched case-insensitively), or NULL when absent. */
char *uat_html_node_attr(const struct uat_html_node *node, const char *name);
/* The node serialised as HTML; NULL when out of memory. */
char *uat_html_node_html(const struct uat_html_doc *doc, const struct uat_html_node *node);

#endif
