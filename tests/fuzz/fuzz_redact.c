/* The redactor (util/redact.c): up to four secrets and a text, all from the input
 * (layout: a count byte, then per secret a length byte and its bytes, then the text).
 * Properties, for every secret without '*' (the mask itself could then rebuild a secret
 * from the text around it, which shows nothing of the secret): the output holds neither the
 * secret nor its base64, percent-encoded (curl's spelling, upper and lower case) or
 * JSON-escaped (jansson's spelling) forms; redacting again changes nothing; a text holding
 * none of them comes back unchanged; uat_redact and uat_redact_n agree, with the length. */
#define _GNU_SOURCE /* memmem */
#include "fuzz_assert.h"
#include "util/redact.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRETS 4
#define MAX_FORMS 5

struct input {
  char secrets[MAX_SECRETS][256];
  size_t nsecrets;
  const char *text;
  size_t len;
};

static void read_input(const uint8_t *data, size_t size, struct input *in) {
  memset(in, 0, sizeof *in);
  size_t at = 0;
  size_t n = size > 0 ? data[at++] % (MAX_SECRETS + 1) : 0;
  for (size_t i = 0; i < n && at < size; i++) {
    size_t len = data[at++];
    if (len > size - at)
      len = size - at;
    size_t k = 0;
    for (size_t j = 0; j < len; j++) /* a secret comes from an environment variable: no NUL */
      if (data[at + j] != '\0')
        in->secrets[in->nsecrets][k++] = (char)data[at + j];
    at += len;
    if (k > 0)
      in->nsecrets++;
  }
  in->text = (const char *)data + at;
  in->len = size - at;
}

static char *lowercase_hex(const char *s) {
  char *out = strdup(s);
  for (char *p = out; p && *p; p++)
    if (*p == '%' && p[1] && p[2]) {
      p[1] = (char)tolower((unsigned char)p[1]);
      p[2] = (char)tolower((unsigned char)p[2]);
    }
  return out;
}

/* The forms a secret travels in, computed by the libraries that produce them; all_forms is
 * false when jansson has no JSON form (not UTF-8) while the redactor still hides its own. */
static size_t forms_of(const char *secret, char *forms[MAX_FORMS], bool *all_forms) {
  size_t n = 0, len = strlen(secret);
  forms[n++] = strdup(secret);
  forms[n] = malloc(4 * ((len + 2) / 3) + 1);
  if (forms[n])
    EVP_EncodeBlock((unsigned char *)forms[n++], (const unsigned char *)secret, (int)len);
  char *pct = curl_easy_escape(NULL, secret, (int)len);
  if (pct) {
    forms[n++] = strdup(pct);
    forms[n++] = lowercase_hex(pct);
    curl_free(pct);
  }
  json_t *js = json_string(secret); /* NULL when not UTF-8: jansson would not write it */
  char *dumped = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
  *all_forms = dumped != NULL;
  if (dumped) {
    dumped[strlen(dumped) - 1] = '\0';
    forms[n++] = strdup(dumped + 1);
  }
  free(dumped);
  json_decref(js);
  return n;
}

static bool contains(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  return n > 0 && memmem(hay, len, needle, n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192)
    return 0;
  struct input in;
  read_input(data, size, &in);
  struct uat_redactor r;
  uat_redactor_init(&r);
  for (size_t i = 0; i < in.nsecrets; i++)
    FUZZ_ASSERT(uat_redactor_add(&r, in.secrets[i]) == 0, "adding '%s' failed", in.secrets[i]);

  size_t out_len = 0;
  char *out = uat_redact_n(&r, in.text, in.len, &out_len);
  FUZZ_ASSERT(out, "uat_redact_n returned NULL");
  FUZZ_ASSERT(strlen(out) <= out_len, "the output is longer than its length");

  bool all_plain = true, text_has_form = false, all_forms = true;
  for (size_t i = 0; i < in.nsecrets; i++) {
    bool masked = strchr(in.secrets[i], '*') != NULL;
    all_plain = all_plain && !masked;
    char *forms[MAX_FORMS];
    bool complete;
    size_t n = forms_of(in.secrets[i], forms, &complete);
    all_forms = all_forms && complete;
    for (size_t f = 0; f < n; f++) {
      text_has_form = text_has_form || contains(in.text, in.len, forms[f]);
      if (!masked)
        FUZZ_ASSERT(!contains(out, out_len, forms[f]), "secret '%s' shows as '%s' in the output",
                    in.secrets[i], forms[f]);
      free(forms[f]);
    }
  }
  if (!text_has_form && all_forms && in.nsecrets > 0)
    FUZZ_ASSERT(out_len == in.len && memcmp(out, in.text, in.len) == 0,
                "a text without secrets was changed");
  if (all_plain) {
    size_t again_len = 0;
    char *again = uat_redact_n(&r, out, out_len, &again_len);
    FUZZ_ASSERT(again && again_len == out_len && memcmp(again, out, out_len) == 0,
                "redacting twice changed the output");
    free(again);
  }
  /* The NUL-terminated entry point sees the text up to its first NUL. */
  char *text0 = strndup(in.text, in.len);
  char *out0 = uat_redact(&r, text0);
  size_t cut_len = 0;
  char *cut = uat_redact_n(&r, text0, strlen(text0), &cut_len);
  FUZZ_ASSERT(out0 && cut && strcmp(out0, cut) == 0, "uat_redact and uat_redact_n disagree");
  free(cut);
  free(out0);
  free(text0);
  free(out);
  uat_redactor_release(&r);
  return 0;
}
