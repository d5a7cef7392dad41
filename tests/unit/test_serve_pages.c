/* The sign-off page's HTML: the one escaping function on a table of hostile texts, and the
 * pages built from hostile playbook texts, notes and check errors, read back with libxml2's
 * HTML parser to show nothing but text came out of them. */
#include "serve/serve_pages.h"

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct {
  const char *in, *out;
} escapes[] = {
    {"plain text", "plain text"},
    {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
    {"a & b", "a &amp; b"},
    {"\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"},
    {"\" onmouseover=\"x", "&quot; onmouseover=&quot;x"},
    {"Paramètres — “ok” ✓", "Paramètres — “ok” ✓"},
    {"line\nnext\ttab", "line\nnext\ttab"},
    {"bell\a esc\033[31m", "bell\xEF\xBF\xBD esc\xEF\xBF\xBD[31m"},
    {"del\x7f", "del\xEF\xBF\xBD"},
    {"bad \xC3 utf8", "bad \xEF\xBF\xBD utf8"},
    {"overlong \xC0\xBC", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
    {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
    {"&lt;already&gt;", "&amp;lt;already&amp;gt;"},
    {"", ""},
};

static void test_escape_table(void **state) {
  for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
    struct uat_strbuf sb;
    uat_strbuf_init(&sb, 0);
    assert_int_equal(uat_html_text(&sb, escapes[i].in), 0);
    char *got = uat_strbuf_take(&sb);
    if (strcmp(got, escapes[i].out) != 0)
      fail_msg("escape(%s) = '%s', expected '%s'", escapes[i].in, got, escapes[i].out);
    free(got);
  }
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  assert_int_equal(uat_html_text(&sb, NULL), 0);
  assert_int_equal(sb.len, 0);
  uat_strbuf_release(&sb);
}

static const char XSS[] = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";

/* The page parsed by libxml2: no script, no img, no on* attribute anywhere; and the
 * hostile text back, intact, as text. */
static void assert_inert(const char *html, const char *xpath_text) {
  htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), NULL, "utf-8",
                                  HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
  assert_non_null(doc);
  xmlXPathContextPtr x = xmlXPathNewContext(doc);
  static const char *const forbidden[] = {"//script", "//img", "//@*[starts-with(name(), 'on')]",
                                          "//style", "//@style"};
  for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
    xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)forbidden[i], x);
    if (r->nodesetval && r->nodesetval->nodeNr > 0)
      fail_msg("the page has %s:\n%s", forbidden[i], html);
    xmlXPathFreeObject(r);
  }
  xmlXPathObjectPtr r = xmlXPathEvalExpression((const xmlChar *)xpath_text, x);
  assert_true(r->nodesetval && r->nodesetval->nodeNr > 0);
  xmlChar *text = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
  if (!strstr((const char *)text, XSS))
    fail_msg("%s reads '%s'", xpath_text, text);
  xmlFree(text);
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(x);
  xmlFreeDoc(doc);
}

static void test_release_page_is_inert(void **state) {
  char *members[] = {(char *)XSS};
  struct uat_role role = {.name = "support", .members = members, .nmembers = 1};
  struct uat_signoff_item item = {.id = "briefed", .role = "support", .text = (char *)XSS};
  struct uat_check check = {.id = "smoke", .title = (char *)XSS};
  struct uat_playbook pb = {.name = (char *)XSS,
                            .checks = &check,
                            .nchecks = 1,
                            .signoffs = &item,
                            .nsignoffs = 1,
                            .roles = &role,
                            .nroles = 1};
  struct uat_decision d = {.signer = (char *)XSS, .note = (char *)XSS, .approve = false};
  struct uat_gate_item gi = {.item = &item, .state = UAT_ITEM_REJECTED, .decision = &d};
  snprintf(gi.reason, sizeof gi.reason, "rejected by %s", XSS);
  struct uat_gate_verdict v = {.state = UAT_GATE_FAILED, .items = &gi, .nitems = 1};
  snprintf(v.run_reason, sizeof v.run_reason, "%s", XSS);
  struct uat_run_check rc = {.id = "smoke", .outcome = "fail", .attempts = 1, .error = (char *)XSS};
  struct uat_run_record run = {.found = true, .checks = &rc, .nchecks = 1};
  struct uat_page_expectation e = {XSS, XSS, XSS, XSS};
  const char *arts[] = {XSS};
  size_t idx[] = {0};
  struct uat_page_check_detail detail = {.id = "smoke",
                                         .failed = &e,
                                         .nfailed = 1,
                                         .artifacts = arts,
                                         .artifact_index = idx,
                                         .nartifacts = 1};
  struct uat_page_who who = {.user = XSS, .csrf = "\"><script>", .can_logout = true};
  struct uat_page_release m = {.who = &who,
                               .playbook = &pb,
                               .release = XSS,
                               .commit = XSS,
                               .run = &run,
                               .verdict = &v,
                               .headline = XSS,
                               .flash = XSS,
                               .details = &detail,
                               .ndetails = 1};
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  assert_int_equal(uat_page_release(&sb, &m), 0);
  char *html = uat_strbuf_take(&sb);
  assert_inert(html, "//span[@class='note']");
  assert_inert(html, "//p[@id='flash']");
  assert_inert(html, "//div[@class='expectation']");
  assert_inert(html, "//b[@id='user']");
  /* The signer is listed under the role, so the forms are there, with the token escaped. */
  assert_non_null(strstr(html, "value=\"&quot;&gt;&lt;script&gt;\""));
  free(html);

  uat_strbuf_init(&sb, 0);
  assert_int_equal(uat_page_status(&sb, &who, XSS, 3), 0);
  html = uat_strbuf_take(&sb);
  assert_inert(html, "//pre[@id='status']");
  free(html);
  uat_strbuf_init(&sb, 0);
  assert_int_equal(uat_page_message(&sb, &who, "Refused", XSS), 0);
  html = uat_strbuf_take(&sb);
  assert_inert(html, "//p[@id='message']");
  free(html);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_table),
      cmocka_unit_test(test_release_page_is_inert),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
