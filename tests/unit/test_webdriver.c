/* The WebDriver reply parser: W3C success and error shapes, and what a broken driver sends. */
#include "net/webdriver.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

struct reply_case {
  const char *name;
  const char *body;
  int rc;
  const char *value_json; /* compact JSON of the value on success */
  const char *error;      /* substring of the error on failure */
};

static const struct reply_case cases[] = {
    {"string value", "{\"value\":\"http://x/\"}", 0, "\"http://x/\"", NULL},
    {"null value", "{\"value\":null}", 0, "null", NULL},
    {"object value", "{\"value\":{\"ready\":true,\"message\":\"ok\"}}", 0,
     "{\"ready\":true,\"message\":\"ok\"}", NULL},
    {"session", "{\"value\":{\"sessionId\":\"abc\",\"capabilities\":{\"browserName\":\"chrome\"}}}",
     0, "{\"sessionId\":\"abc\",\"capabilities\":{\"browserName\":\"chrome\"}}", NULL},
    {"no such element",
     "{\"value\":{\"error\":\"no such element\",\"message\":\"no such element: Unable to locate "
     "element\\n  (Session info: chrome=156)\",\"stacktrace\":\"#0 0x55\"}}",
     -1, NULL, "no such element: no such element: Unable to locate element"},
    {"error without message", "{\"value\":{\"error\":\"timeout\"}}", -1, NULL, "timeout"},
    {"not json", "<html>502 Bad Gateway</html>", -1, NULL, "not a WebDriver JSON object"},
    {"empty", "", -1, NULL, "not a WebDriver JSON object"},
    {"array", "[1,2]", -1, NULL, "not a WebDriver JSON object (another JSON value)"},
    {"no value", "{\"status\":0}", -1, NULL, "has no \"value\""},
    /* found by tests/fuzz/fuzz_webdriver.c: every error is one line, and says something */
    {"multi-line code", "{\"value\":{\"error\":\"timeout\\n  (Session info: x)\",\"message\":\"m\"}}",
     -1, NULL, "timeout: m"},
    {"lone CR", "{\"value\":{\"error\":\"timeout\",\"message\":\"late\\r  (Session info: x)\"}}", -1,
     NULL, "timeout: late"},
    {"empty code", "{\"value\":{\"error\":\"\"}}", -1, NULL,
     "the driver reported an error without naming it"},
    {"line break quoted by jansson", "{\"\\u00\n\r\"", -1, NULL, "invalid escape near"},
};

static void test_replies(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct reply_case *c = &cases[i];
    json_t *v = (json_t *)1;
    struct uat_error err = {{0}};
    int rc = uat_webdriver_parse_reply(c->body, strlen(c->body), &v, &err);
    if (rc != c->rc)
      fail_msg("case '%s': rc %d, want %d (%s)", c->name, rc, c->rc, err.text);
    if (rc == 0) {
      char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
      if (!got || strcmp(got, c->value_json) != 0)
        fail_msg("case '%s': value %s, want %s", c->name, got ? got : "(null)", c->value_json);
      free(got);
      json_decref(v);
    } else {
      assert_null(v);
      if (!strstr(err.text, c->error))
        fail_msg("case '%s': error \"%s\", want \"%s\"", c->name, err.text, c->error);
      assert_null(strstr(err.text, "Session info")); /* only the first line of the message */
      assert_null(strpbrk(err.text, "\r\n"));
    }
  }
}

/* A body with NUL bytes or far past its length is read only up to len. */
static void test_length_is_honoured(void **state) {
  (void)state;
  const char body[] = "{\"value\":1}garbage";
  json_t *v = NULL;
  struct uat_error err = {{0}};
  assert_int_equal(uat_webdriver_parse_reply(body, 11, &v, &err), 0);
  assert_int_equal(json_integer_value(v), 1);
  json_decref(v);
}

static void test_element_id(void **state) {
  (void)state;
  json_t *el = json_pack("{s:s}", "element-6066-11e4-a52e-4f735466cecf", "e-1");
  assert_string_equal(uat_webdriver_element_id(el), "e-1");
  json_decref(el);
  el = json_pack("{s:s}", "ELEMENT", "legacy");
  assert_null(uat_webdriver_element_id(el));
  json_decref(el);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replies),
      cmocka_unit_test(test_length_is_honoured),
      cmocka_unit_test(test_element_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
