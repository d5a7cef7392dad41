/* WebDriver replies (net/webdriver.c uat_webdriver_parse_reply): whatever bytes a driver (or
 * something else on its port) answers. Properties: success gives exactly the reply's "value"
 * (JSON null stays null) and only for a JSON object with a "value" that is not an error
 * object; failure gives no value and a one-line message (a driver's stack trace must not
 * spill into the check's error), naming the W3C error code when the reply has one. */
#include "fuzz_assert.h"
#include "net/webdriver.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The reply read independently: its "value", and the error code when it is an error. */
static json_t *expected_value(const char *body, size_t len, const char **code, json_t **root) {
  *code = NULL;
  *root = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, NULL);
  json_t *v = json_is_object(*root) ? json_object_get(*root, "value") : NULL;
  if (json_is_object(v))
    *code = json_string_value(json_object_get(v, "error"));
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *body = (const char *)data;
  json_t *value = (json_t *)1;
  struct uat_error err = {{0}};
  int rc = uat_webdriver_parse_reply(body, size, &value, &err);
  const char *code;
  json_t *root;
  json_t *want = expected_value(body, size, &code, &root);
  if (rc == 0) {
    FUZZ_ASSERT(value && want && !code, "a reply without a plain value was accepted");
    FUZZ_ASSERT(json_equal(value, want), "the value changed on the way");
  } else {
    FUZZ_ASSERT(rc == -1 && value == NULL, "a failed reply left a value");
    FUZZ_ASSERT(!want || code, "a reply with a plain value was refused: %s", err.text);
    FUZZ_ASSERT(err.text[0] != '\0', "a refused reply has no message");
    FUZZ_ASSERT(!strchr(err.text, '\n') && !strchr(err.text, '\r'),
                "the message spans lines: '%s'", err.text);
    size_t n = code ? strlen(code) : 0;
    if (n > 0 && n < 100 && !strpbrk(code, "\r\n") && code[n - 1] != ' ')
      FUZZ_ASSERT(strncmp(err.text, code, n) == 0, "'%s' does not start with '%s'",
                  err.text, code);
  }
  json_decref(value);
  json_decref(root);
  return 0;
}
