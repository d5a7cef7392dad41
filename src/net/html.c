/* libxml2 behind a small interface: lenient HTML parsing and XPath queries. */
#include "net/html.h"

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct uat_html_doc {
  xmlDocPtr xml;
};

/* Nodes are libxml2's own; the struct only gives the pointer a type of ours. */
static xmlNodePtr xml_node(const struct uat_html_node *node) {
  return (xmlNodePtr)node;
}

/* ---- quiet libxml2 -------------------------------------------------------------- */

/* The first error libxml2 reported during one call. */
struct capture {
  char text[256];
  bool set;
};

/* The calling thread's handlers, restored after the call. */
struct saved_handlers {
  xmlStructuredErrorFunc structured;
  void *structured_ctx;
  xmlGenericErrorFunc generic;
  void *generic_ctx;
};

static void keep_first(struct capture *c, const char *msg) {
  if (c->set || !msg)
    return;
  snprintf(c->text, sizeof c->text, "%s", msg);
  size_t n = strlen(c->text);
  while (n > 0 && (c->text[n - 1] == '\n' || c->text[n - 1] == ' '))
    c->text[--n] = '\0';
  if (c->text[0] >= 'A' && c->text[0] <= 'Z')
    c->text[0] = (char)(c->text[0] - 'A' + 'a');
  c->set = true;
}

static void capture_structured(void *data, xmlErrorPtr error) {
  keep_first(data, error ? error->message : NULL);
}

static void capture_generic(void *data, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  keep_first(data, buf);
}

/* libxml2's handler variables are per-thread in its threaded build (2.9.14:
 * __xmlStructuredError() / __xmlGenericError()), so this affects no other thread. */
static void quiet_begin(struct saved_handlers *saved, struct capture *cap) {
  memset(cap, 0, sizeof *cap);
  saved->structured = xmlStructuredError;
  saved->structured_ctx = xmlStructuredErrorContext;
  saved->generic = xmlGenericError;
  saved->generic_ctx = xmlGenericErrorContext;
  xmlSetStructuredErrorFunc(cap, capture_structured);
  xmlSetGenericErrorFunc(cap, capture_generic);
}

static void quiet_end(const struct saved_handlers *saved) {
  xmlSetStructuredErrorFunc(saved->structured_ctx, saved->structured);
  xmlSetGenericErrorFunc(saved->generic_ctx, saved->generic);
}

/* ---- documents ------------------------------------------------------------------ */

struct uat_html_doc *uat_html_parse(const char *text, size_t len) {
  if (len > INT_MAX)
    return NULL;
  struct uat_html_doc *doc = calloc(1, sizeof *doc);
  if (!doc)
    return NULL;
  struct saved_handlers saved;
  struct capture cap;
  quiet_begin(&saved, &cap);
  if (text && len > 0)
    doc->xml = htmlReadMemory(text, (int)len, NULL, NULL,
                              HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                  HTML_PARSE_NONET);
  /* Empty input (or input libxml2 gives up on) is an empty document, not an error. */
  if (!doc->xml)
    doc->xml = htmlNewDocNoDtD(NULL, NULL);
  quiet_end(&saved);
  if (!doc->xml) {
    free(doc);
    return NULL;
  }
  return doc;
}

void uat_html_free(struct uat_html_doc *doc) {
  if (!doc)
    return;
  xmlFreeDoc(doc->xml);
  free(doc);
}

/* ---- XPath ---------------------------------------------------------------------- */

/* Steps one evaluation may take (libxml2 counts operations and nodes visited): a query
 * such as //p[count(//p) > 0] is quadratic and, inside one C call, out of reach of the
 * check's deadline. A count, not a clock, so the verdict is the same on any machine;
 * 10 million steps are ~0.1 s natively and stay well inside a check's timeout under
 * sanitizers on a loaded core, while //p[. = "x"] over 20,000 nodes needs ~100,000. */
#define XPATH_OP_LIMIT 10000000UL

static char *dup_xml(xmlChar *s) {
  char *copy = strdup(s ? (const char *)s : "");
  xmlFree(s);
  return copy;
}

/* Copies the node pointers, leaving out namespace nodes: libxml2 duplicates those
 * per query and frees them with the result, so they could not outlive it. */
static int copy_nodes(xmlNodeSetPtr set, struct uat_html_result *out) {
  size_t n = set ? (size_t)set->nodeNr : 0;
  if (n == 0)
    return 0;
  out->nodes = calloc(n, sizeof *out->nodes);
  if (!out->nodes)
    return -1;
  for (size_t i = 0; i < n; i++) {
    xmlNodePtr node = set->nodeTab[i];
    if (node && node->type != XML_NAMESPACE_DECL)
      out->nodes[out->count++] = (struct uat_html_node *)node;
  }
  return 0;
}

static int fill_result(xmlXPathObjectPtr obj, struct uat_html_result *out) {
  if (obj->type == XPATH_NODESET)
    return copy_nodes(obj->nodesetval, out);
  out->value = dup_xml(xmlXPathCastToString(obj));
  return out->value ? 0 : -1;
}

int uat_html_xpath(struct uat_html_doc *doc, struct uat_html_node *node, const char *expr,
                   const char *shown, struct uat_html_result *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  struct saved_handlers saved;
  struct capture cap;
  quiet_begin(&saved, &cap);
  int rc = -1;
  xmlXPathCompExprPtr comp = NULL;
  xmlXPathObjectPtr obj = NULL;
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc->xml);
  if (!ctx) {
    uat_error_set(err, "out of memory evaluating XPath expression '%s'", shown);
    goto done;
  }
  ctx->node = node ? xml_node(node) : (xmlNodePtr)doc->xml;
  ctx->opLimit = XPATH_OP_LIMIT;
  comp = xmlXPathCtxtCompile(ctx, (const xmlChar *)expr);
  if (comp) {
    ctx->opCount = 0;
    obj = xmlXPathCompiledEval(comp, ctx);
  }
  if (!obj && ctx->opCount >= XPATH_OP_LIMIT) {
    uat_error_set(err,
                  "XPath expression '%s' takes too long: it stopped after %lu million steps "
                  "on this document; make it more specific (e.g. avoid '//' inside a predicate)",
                  shown, XPATH_OP_LIMIT / 1000000);
    goto done;
  }
  if (!obj) {
    uat_error_set(err, "invalid XPath expression '%s': %s", shown,
                  cap.set ? cap.text : "it could not be evaluated");
    goto done;
  }
  if (fill_result(obj, out) != 0) {
    uat_html_result_release(out);
    uat_error_set(err, "out of memory evaluating XPath expression '%s'", shown);
    goto done;
  }
  rc = 0;
done:
  xmlXPathFreeObject(obj);
  xmlXPathFreeCompExpr(comp);
  xmlXPathFreeContext(ctx);
  quiet_end(&saved);
  return rc;
}

void uat_html_result_release(struct uat_html_result *r) {
  free(r->nodes);
  free(r->value);
  memset(r, 0, sizeof *r);
}

/* ---- nodes ---------------------------------------------------------------------- */

const char *uat_html_node_name(const struct uat_html_node *node) {
  xmlNodePtr n = xml_node(node);
  switch (n->type) {
  case XML_ELEMENT_NODE:
  case XML_ATTRIBUTE_NODE:
    return n->name ? (const char *)n->name : "";
  case XML_TEXT_NODE:
  case XML_CDATA_SECTION_NODE:
    return "#text";
  case XML_COMMENT_NODE:
    return "#comment";
  case XML_DOCUMENT_NODE:
  case XML_HTML_DOCUMENT_NODE:
    return "#document";
  default:
    return n->name ? (const char *)n->name : "";
  }
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Collapses whitespace runs to one space and trims, in place. */
static void collapse_spaces(char *s) {
  char *out = s;
  bool pending = false;
  for (const char *p = s; *p; p++) {
    if (is_space(*p)) {
      pending = out != s;
      continue;
    }
    if (pending)
      *out++ = ' ';
    pending = false;
    *out++ = *p;
  }
  *out = '\0';
}

char *uat_html_node_text(const struct uat_html_node *node) {
  char *text = dup_xml(xmlNodeGetContent(xml_node(node)));
  if (text)
    collapse_spaces(text);
  return text;
}

char *uat_html_node_attr(const struct uat_html_node *node, const char *name) {
  xmlNodePtr n = xml_node(node);
  if (n->type != XML_ELEMENT_NODE)
    return NULL;
  for (xmlAttrPtr a = n->properties; a; a = a->next) {
    if (a->name && strcasecmp((const char *)a->name, name) == 0)
      return dup_xml(xmlNodeGetContent((xmlNodePtr)a));
  }
  return NULL;
}

char *uat_html_node_html(const struct uat_html_doc *doc, const struct uat_html_node *node) {
  xmlBufferPtr buf = xmlBufferCreate();
  if (!buf)
    return NULL;
  struct saved_handlers saved;
  struct capture cap;
  quiet_begin(&saved, &cap);
  htmlNodeDump(buf, doc->xml, xml_node(node));
  quiet_end(&saved);
  const xmlChar *content = xmlBufferContent(buf);
  char *copy = strdup(content ? (const char *)content : "");
  xmlBufferFree(buf);
  return copy;
}
