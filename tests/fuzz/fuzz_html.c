/* HTML and XPath (net/html.c): the input's first line is an XPath expression, the rest an
 * HTML page (soup, binary junk, anything a staging server could send). Properties: parsing
 * always gives a document; an XPath either gives a result or fails with a sentence that
 * names the expression (never a bare libxml2 value: issue 10's "3.47435"); every node has a
 * name, a text with whitespace collapsed and trimmed, attributes and HTML; '.' relative to a
 * node selects that node, and count() of all elements agrees with the node list of the same document. */
#include "fuzz_assert.h"
#include "net/html.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 16 /* nodes inspected per query: enough to reach every node kind */
#define MAX_SELF 4   /* of which also queried with '.' (a query costs a context) */

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void check_text(const char *text) {
  size_t n = strlen(text);
  FUZZ_ASSERT(n == 0 || (!is_space(text[0]) && !is_space(text[n - 1])), "text '%s' not trimmed",
              text);
  for (size_t i = 0; i < n; i++)
    FUZZ_ASSERT(text[i] == ' ' || !is_space(text[i]), "text '%s' keeps a whitespace run", text);
  FUZZ_ASSERT(!strstr(text, "  "), "text '%s' keeps a double space", text);
}

static void check_error(const char *expr, const char *shown, const char *text) {
  FUZZ_ASSERT(text[0] != '\0', "XPath '%s' failed without a message", expr);
  bool sentence = strncmp(text, "invalid XPath expression '", 26) == 0 ||
                  strncmp(text, "XPath expression '", 18) == 0 ||
                  strncmp(text, "out of memory evaluating XPath expression '", 43) == 0;
  FUZZ_ASSERT(sentence, "XPath '%s' failed with '%s', not a sentence naming it", expr, text);
  FUZZ_ASSERT(strstr(text, shown) || strlen(text) > 1900, "the error '%s' does not quote '%s'",
              text, shown);
}

static void check_self(struct uat_html_doc *doc, struct uat_html_node *node) {
  struct uat_html_result self;
  struct uat_error err;
  if (uat_html_xpath(doc, node, ".", ".", &self, &err) != 0) {
    check_error(".", ".", err.text);
    return;
  }
  /* '.' of a namespace node is dropped by copy_nodes, hence <= 1 */
  FUZZ_ASSERT(self.count <= 1 && (self.count == 0 || self.nodes[0] == node),
              "'.' relative to a node selected %zu other nodes", self.count);
  uat_html_result_release(&self);
}

static void check_node(struct uat_html_doc *doc, struct uat_html_node *node, bool self) {
  FUZZ_ASSERT(uat_html_node_name(node), "a node has no name");
  char *text = uat_html_node_text(node);
  FUZZ_ASSERT(text, "uat_html_node_text returned NULL");
  check_text(text);
  free(text);
  free(uat_html_node_attr(node, "href"));
  free(uat_html_node_attr(node, "CLASS"));
  char *html = uat_html_node_html(doc, node);
  FUZZ_ASSERT(html, "uat_html_node_html returned NULL");
  free(html);
  if (self)
    check_self(doc, node);
}

/* Runs expr; returns the node count (0 for a value), or -1 when it failed. */
static long query(struct uat_html_doc *doc, const char *expr) {
  struct uat_html_result r;
  struct uat_error err;
  char shown[128];
  snprintf(shown, sizeof shown, "%.100s", expr);
  if (uat_html_xpath(doc, NULL, expr, shown, &r, &err) != 0) {
    check_error(expr, shown, err.text);
    return -1;
  }
  FUZZ_ASSERT(!(r.value && r.nodes), "a result with both a value and nodes");
  for (size_t i = 0; i < r.count && i < MAX_NODES; i++)
    check_node(doc, r.nodes[i], i < MAX_SELF);
  long count = (long)r.count;
  uat_html_result_release(&r);
  return count;
}

static void check_count_agrees(struct uat_html_doc *doc) {
  long nodes = query(doc, "//*");
  struct uat_html_result r;
  struct uat_error err;
  if (nodes < 0 || uat_html_xpath(doc, NULL, "count(//*)", "count(//*)", &r, &err) != 0)
    return;
  FUZZ_ASSERT(r.value && strtol(r.value, NULL, 10) == nodes, "count(//*) = %s but //* has %ld",
              r.value ? r.value : "(none)", nodes);
  uat_html_result_release(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  size_t expr_len = nl ? (size_t)(nl - text) : size;
  char *expr = strndup(text, expr_len);
  if (!expr)
    return 0;
  const char *page = nl ? nl + 1 : text + size;
  struct uat_html_doc *doc = uat_html_parse(page, size - (size_t)(page - text));
  FUZZ_ASSERT(doc, "a page gave no document");
  if (expr[0])
    query(doc, expr);
  check_count_agrees(doc);
  query(doc, "//@*");
  query(doc, "//text() | //comment()");
  uat_html_free(doc);
  free(expr);
  return 0;
}
