/* --report-html read back with libxml2's HTML parser: one self-contained page (inline CSS, a
 * viewport, a policy that forbids fetches, no script), the summary, each check with its
 * expectations, an XSS payload from a check shown as text, a screenshot embedded as a data:
 * URI, the gate's sign-offs, and all-or-nothing writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/report.h"

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XSS "<script>alert(1)</script><img src=x onerror=alert(2)>"

/* A 1x1 PNG. */
static const unsigned char PNG[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
    0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

struct fixture {
  char dir[64];
  char png[128], html_artifact[128], report[128];
  struct uat_run_result *run;
};

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static struct uat_run_result *new_run(struct fixture *f) {
  struct uat_run_result *run = calloc(1, sizeof *run);
  run->playbook_name = strdup("Tasking Manager <UAT> & co");
  run->playbook_path = strdup("tm.yml");
  run->release = strdup("v4.6.2");
  run->commit = strdup("1a2b3c4d5e6f");
  run->digest = strdup("abc123");
  run->base_url = strdup("https://staging.example.org");
  run->started_at = 1714564800;
  run->finished_at = 1714564802;
  run->duration_s = 2.1;
  run->nchecks = 2;
  run->checks = calloc(2, sizeof *run->checks);
  struct uat_check_result *ok = &run->checks[0], *bad = &run->checks[1];
  ok->id = strdup("login");
  ok->title = strdup("Log in works");
  ok->outcome = UAT_OUTCOME_PASS;
  ok->duration_s = 0.12;
  ok->attempts = 1;
  uat_check_result_add_expectation(ok, true, "status", "status is 200", "200", "200", "l.lua:3");
  bad->id = strdup("private-project");
  bad->title = strdup("A private project " XSS);
  bad->outcome = UAT_OUTCOME_FAIL;
  bad->duration_s = 1.5;
  bad->attempts = 2;
  uat_check_result_add_expectation(bad, false, "eq", "title shown " XSS, XSS, "Private project",
                                   "p.lua:12");
  uat_check_result_add_log(bad, "GET /projects/42 -> 403 " XSS);
  uat_check_result_add_artifact(bad, f->png);
  uat_check_result_add_artifact(bad, f->html_artifact);
  run->passed = 1;
  run->failed = 1;
  return run;
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-html-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->png, sizeof f->png, "%s/private-project-1.png", f->dir);
  snprintf(f->html_artifact, sizeof f->html_artifact, "%s/private-project-1.html", f->dir);
  snprintf(f->report, sizeof f->report, "%s/report.html", f->dir);
  write_bytes(f->png, PNG, sizeof PNG);
  write_bytes(f->html_artifact, "<p>page</p>", 11);
  f->run = new_run(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  uat_run_result_free(f->run);
  unlink(f->png);
  unlink(f->html_artifact);
  unlink(f->report);
  rmdir(f->dir);
  free(f);
  return 0;
}

static htmlDocPtr read_report(const char *path) {
  htmlDocPtr doc = htmlReadFile(path, "utf-8", HTML_PARSE_NONET | HTML_PARSE_NOERROR);
  assert_non_null(doc);
  return doc;
}

static int count(htmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr x = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, x);
  assert_non_null(r);
  int n = r->nodesetval ? r->nodesetval->nodeNr : 0;
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(x);
  return n;
}

/* The text of the first node expr finds (the caller frees), or fails the test. */
static char *first_text(htmlDocPtr doc, const char *expr) {
  xmlXPathContextPtr x = xmlXPathNewContext(doc);
  xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, x);
  assert_non_null(r);
  if (!r->nodesetval || r->nodesetval->nodeNr == 0)
    fail_msg("nothing at %s", expr);
  char *text = (char *)xmlNodeGetContent(r->nodesetval->nodeTab[0]);
  xmlXPathFreeObject(r);
  xmlXPathFreeContext(x);
  return text;
}

static void assert_text(htmlDocPtr doc, const char *expr, const char *want) {
  char *got = first_text(doc, expr);
  if (!strstr(got, want))
    fail_msg("%s is '%s', lacks '%s'", expr, got, want);
  xmlFree(got);
}

static void run_report_structure(void **state) {
  struct fixture *f = *state;
  struct uat_error err;
  assert_int_equal(uat_report_html_write(f->run, NULL, f->report, &err), 0);
  htmlDocPtr doc = read_report(f->report);
  /* self-contained and phone-readable */
  assert_int_equal(count(doc, "//meta[@name='viewport']"), 1);
  assert_int_equal(count(doc, "//head/style"), 1);
  assert_int_equal(count(doc, "//meta[@http-equiv='Content-Security-Policy']"
                              "[contains(@content, \"default-src 'none'\")]"),
                   1);
  assert_int_equal(count(doc, "//script | //link | //iframe | //object"), 0);
  assert_int_equal(count(doc, "//*[@src and not(starts-with(@src, 'data:'))]"), 0);
  /* summary */
  assert_text(doc, "//header[@id='summary']/h1", "1 of 2 checks did not pass");
  assert_text(doc, "//header[@id='summary']", "Tasking Manager <UAT> & co");
  assert_text(doc, "//header[@id='summary']//dd", "v4.6.2");
  assert_text(doc, "//header[@id='summary']//ul[@class='counts']", "1 passed");
  assert_int_equal(count(doc, "//header[@id='summary']//a[@href='#check-private-project']"), 1);
  /* each check, with expectations, attempts and timings */
  assert_int_equal(count(doc, "//section[@id='checks']/article"), 2);
  assert_text(doc, "//article[@id='check-login']", "status is 200");
  assert_text(doc, "//article[@id='check-private-project']//p[@class='meta']",
              "(last of 2 attempts)");
  assert_text(doc, "//article[@id='check-private-project']//div[@class='vs']", "Private project");
  xmlFreeDoc(doc);
}

static void xss_in_check_output_is_text(void **state) {
  struct fixture *f = *state;
  struct uat_error err;
  assert_int_equal(uat_report_html_write(f->run, NULL, f->report, &err), 0);
  htmlDocPtr doc = read_report(f->report);
  assert_int_equal(count(doc, "//script"), 0);
  assert_int_equal(count(doc, "//*[@onerror]"), 0);
  assert_int_equal(count(doc, "//img[@src='x']"), 0);
  assert_text(doc, "//article[@id='check-private-project']//div[@class='vs']/code[2]", XSS);
  assert_text(doc, "//article[@id='check-private-project']//h3/following-sibling::span", XSS);
  assert_text(doc, "//article[@id='check-private-project']//details/pre", "403 " XSS);
  xmlFreeDoc(doc);
}

static void screenshot_embedded(void **state) {
  struct fixture *f = *state;
  struct uat_error err;
  assert_int_equal(uat_report_html_write(f->run, NULL, f->report, &err), 0);
  htmlDocPtr doc = read_report(f->report);
  assert_int_equal(count(doc, "//img"), 1);
  char *src = first_text(doc, "//article[@id='check-private-project']//img/@src");
  const char *prefix = "data:image/png;base64,";
  assert_int_equal(strncmp(src, prefix, strlen(prefix)), 0);
  unsigned char decoded[256];
  const char *b64 = src + strlen(prefix);
  int n = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
  assert_true(n >= (int)sizeof PNG);
  assert_memory_equal(decoded, PNG, sizeof PNG);
  xmlFree(src);
  /* the page HTML artifact is named, not embedded */
  assert_text(doc, "//article[@id='check-private-project']//p[@class='meta']/code",
              "private-project-1.html");
  xmlFreeDoc(doc);
}

static void gate_signoff_state(void **state) {
  struct fixture *f = *state;
  const struct uat_gate_view_item items[] = {
      {.id = "support-briefed",
       .role = "support",
       .text = "Support knows " XSS,
       .state = "missing",
       .reason = "nobody decided yet",
       .may_sign = "nesserine, myriam",
       .command = "uatrun signoff tm.yml --role support --item support-briefed --approve"},
      {.id = "product-ok",
       .role = "product",
       .text = "Product accepts",
       .state = "rejected",
       .reason = "rejected",
       .signer = "matis",
       .decided_at = "2026-12-08T01:00:00Z",
       .note = "pager broken " XSS},
      {.id = "qa-ok",
       .role = "qa",
       .text = "QA",
       .state = "approved",
       .reason = "approved",
       .signer = "ana",
       .decided_at = "2026-12-08T00:00:00Z"},
  };
  struct uat_gate_view g = {.verdict = "failed",
                            .exit_code = 1,
                            .headline = "GATE CLOSED — rejected by matis (product)",
                            .playbook = "TM",
                            .release = "v4.6.2",
                            .commit = "1a2b3c4d5e6f",
                            .run_state = "passed",
                            .run_reason = "2 passed",
                            .passed = 2,
                            .items = items,
                            .nitems = 3,
                            .gate_command = "uatrun gate tm.yml --release v4.6.2"};
  struct uat_error err;
  assert_int_equal(uat_report_html_write(f->run, &g, f->report, &err), 0);
  htmlDocPtr doc = read_report(f->report);
  assert_text(doc, "//header[@id='summary']/h1", "GATE CLOSED — rejected by matis (product)");
  assert_int_equal(count(doc, "//header[@id='summary'][contains(@class, 'failed')]"), 1);
  assert_int_equal(count(doc, "//section[@id='signoffs']/article"), 3);
  assert_text(doc, "//section[@id='signoffs']/article[2]//blockquote", "pager broken " XSS);
  assert_text(doc, "//section[@id='signoffs']/article[2]//strong", "matis");
  assert_text(doc, "//section[@id='signoffs']/article[1]", "May sign: nesserine, myriam");
  assert_text(doc, "//section[@id='signoffs']/article[1]//code", "--item support-briefed");
  assert_text(doc, "//section[@id='signoffs']", "uatrun gate tm.yml");
  assert_int_equal(count(doc, "//script"), 0);
  xmlFreeDoc(doc);

  /* gate --no-run: the gate alone */
  assert_int_equal(uat_report_html_write(NULL, &g, f->report, &err), 0);
  doc = read_report(f->report);
  assert_int_equal(count(doc, "//section[@id='checks']"), 0);
  assert_int_equal(count(doc, "//section[@id='signoffs']/article"), 3);
  assert_text(doc, "//header[@id='summary']//ul", "2 passed");
  xmlFreeDoc(doc);
}

static void unwritable_report_keeps_nothing_half_written(void **state) {
  struct fixture *f = *state;
  struct uat_error err;
  char path[192];
  snprintf(path, sizeof path, "%s/missing-folder/report.html", f->dir);
  assert_int_equal(uat_report_html_write(f->run, NULL, path, &err), -1);
  assert_non_null(strstr(err.text, "cannot write the HTML report"));
  /* an existing report is replaced whole: the new one parses */
  write_bytes(f->report, "old", 3);
  assert_int_equal(uat_report_html_write(f->run, NULL, f->report, &err), 0);
  htmlDocPtr doc = read_report(f->report);
  assert_int_equal(count(doc, "//header[@id='summary']"), 1);
  xmlFreeDoc(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(run_report_structure, setup, teardown),
      cmocka_unit_test_setup_teardown(xss_in_check_output_is_text, setup, teardown),
      cmocka_unit_test_setup_teardown(screenshot_embedded, setup, teardown),
      cmocka_unit_test_setup_teardown(gate_signoff_state, setup, teardown),
      cmocka_unit_test_setup_teardown(unwritable_report_keeps_nothing_half_written, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
