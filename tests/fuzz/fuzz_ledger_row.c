/* The ledger row canonicaliser (ledger/ledger_rows.c): the input's first line is the previous
 * row's hash (any text), the rest a JSON object of row fields. Properties: a row with a key
 * that is not a hashed field, or that is not an object, has no canonical form and no hash;
 * otherwise the canonical text is JSON with exactly the hashed fields (absent ones null, the
 * others unchanged), canonicalising it again changes nothing, key order does not matter, the
 * hash is SHA-256 of "prev\ncanonical" in lowercase hex and the same every time, the row
 * verifies against its own hash and fails (saying it was edited) against another one. Reading
 * the row back as a run or a decision never crashes or leaks. */
#include "fuzz_assert.h"
#include "ledger/ledger_rows.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool only_hashed_keys(json_t *fields) {
  const char *key;
  json_t *value;
  json_object_foreach(fields, key, value) {
    bool hashed = false;
    for (size_t i = 0; i < UAT_LEDGER_NFIELDS; i++)
      hashed = hashed || strcmp(key, uat_ledger_fields[i].key) == 0;
    if (!hashed)
      return false;
  }
  return true;
}

static void sha256_hex(const char *a, const char *b, char out[UAT_LEDGER_HASH_HEX]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  FUZZ_ASSERT(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
                  EVP_DigestUpdate(ctx, a, strlen(a)) && EVP_DigestUpdate(ctx, "\n", 1) &&
                  EVP_DigestUpdate(ctx, b, strlen(b)) && EVP_DigestFinal_ex(ctx, md, &n),
              "SHA-256 failed");
  EVP_MD_CTX_free(ctx);
  for (unsigned int i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check_canonical_text(json_t *fields, const char *canon) {
  json_t *back = json_loads(canon, 0, NULL);
  FUZZ_ASSERT(json_is_object(back), "the canonical row '%s' is not a JSON object", canon);
  FUZZ_ASSERT(json_object_size(back) == UAT_LEDGER_NFIELDS, "'%s' has %zu keys", canon,
              json_object_size(back));
  for (size_t i = 0; i < UAT_LEDGER_NFIELDS; i++) {
    json_t *in = json_object_get(fields, uat_ledger_fields[i].key);
    json_t *out = json_object_get(back, uat_ledger_fields[i].key);
    FUZZ_ASSERT(out && json_equal(in ? in : json_null(), out), "field '%s' changed in '%s'",
                uat_ledger_fields[i].key, canon);
  }
  char *again = uat_ledger_canonical_row(back);
  FUZZ_ASSERT(again && strcmp(again, canon) == 0, "canonicalising '%s' again gave '%s'", canon,
              again ? again : "(null)");
  free(again);
  json_decref(back);
}

/* The same fields inserted in the reverse order. */
static json_t *reversed(json_t *fields) {
  const char *keys[UAT_LEDGER_NFIELDS];
  size_t n = 0;
  const char *key;
  json_t *value;
  json_object_foreach(fields, key, value) keys[n++] = key;
  json_t *r = json_object();
  while (n > 0) {
    n--;
    json_object_set(r, keys[n], json_object_get(fields, keys[n]));
  }
  return r;
}

static void check_hash(json_t *fields, const char *prev, const char *canon) {
  char h1[UAT_LEDGER_HASH_HEX], h2[UAT_LEDGER_HASH_HEX], want[UAT_LEDGER_HASH_HEX];
  FUZZ_ASSERT(uat_ledger_canonical_hash(prev, fields, h1) == 0, "no hash for '%s'", canon);
  json_t *other = reversed(fields);
  FUZZ_ASSERT(uat_ledger_canonical_hash(prev, other, h2) == 0, "no hash for the reversed row");
  json_decref(other);
  sha256_hex(prev, canon, want);
  FUZZ_ASSERT(strcmp(h1, want) == 0 && strcmp(h2, want) == 0, "hash %s / %s, SHA-256 says %s",
              h1, h2, want);
  FUZZ_ASSERT(uat_ledger_is_hash_text(h1), "the hash '%s' is not 64 hex digits", h1);
}

static void check_verify(json_t *fields, const char *prev) {
  char hash[UAT_LEDGER_HASH_HEX];
  FUZZ_ASSERT(uat_ledger_canonical_hash(prev, fields, hash) == 0, "no hash");
  struct uat_ledger_row row = {fields, prev, hash};
  int64_t seq = uat_ledger_row_int(&row, UAT_LF_SEQ);
  struct uat_error err;
  FUZZ_ASSERT(uat_ledger_verify_row("fuzz", &row, seq, prev, &err) == 0,
              "a row fails against its own hash: %s", err.text);
  hash[0] = hash[0] == '0' ? '1' : '0';
  FUZZ_ASSERT(uat_ledger_verify_row("fuzz", &row, seq, prev, &err) != 0 &&
                  strstr(err.text, "it was edited"),
              "a row with another hash verifies: %s", err.text);
}

static void read_back(json_t *fields) {
  struct uat_ledger_row row = {fields, NULL, NULL};
  struct uat_decision d;
  if (uat_ledger_fill_decision(&row, &d) == 0)
    uat_ledger_decision_clear(&d);
  struct uat_run_record r;
  if (uat_ledger_fill_run(&row, &r) == 0)
    uat_run_record_clear(&r);
  (void)uat_ledger_row_is_run(&row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  if (!nl)
    return 0;
  char *prev = strndup(text, (size_t)(nl - text));
  json_t *fields = json_loadb(nl + 1, size - (size_t)(nl + 1 - text), JSON_DECODE_ANY, NULL);
  if (!prev || !fields) {
    free(prev);
    json_decref(fields);
    return 0;
  }
  char *canon = uat_ledger_canonical_row(fields);
  char hash[UAT_LEDGER_HASH_HEX];
  if (!json_is_object(fields) || !only_hashed_keys(fields)) {
    FUZZ_ASSERT(!canon, "a row with a key that is not hashed has the canonical form '%s'", canon);
    FUZZ_ASSERT(uat_ledger_canonical_hash(prev, fields, hash) != 0, "it has a hash too");
  } else {
    FUZZ_ASSERT(canon, "a row of hashed fields has no canonical form");
    check_canonical_text(fields, canon);
    check_hash(fields, prev, canon);
    check_verify(fields, prev);
  }
  if (json_is_object(fields))
    read_back(fields);
  free(canon);
  free(prev);
  json_decref(fields);
  return 0;
}
