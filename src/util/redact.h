/* Secret redaction: every text uatrun writes passes through a redactor that
 * replaces each secret with "***". A secret is also hidden in the forms it
 * travels in: base64 (HTTP Basic/Token headers) and percent-encoded (URLs).
 * Ownership: the redactor owns copies of the secrets; uat_redact's result is the caller's. */
#ifndef UAT_REDACT_H
#define UAT_REDACT_H

#include <stddef.h>

struct uat_redactor {
  char **needles; /* longest first, so a secret that contains another is hidden whole */
  size_t count;
};

void uat_redactor_init(struct uat_redactor *r);
/* Adds a secret and its encoded forms. Returns 0 or -1 (out of memory). Empty values are ignored. */
int uat_redactor_add(struct uat_redactor *r, const char *secret);
void uat_redactor_release(struct uat_redactor *r);

/* Returns a new string with every secret replaced by "***"; NULL only when text is NULL
 * or memory ran out. A NULL redactor copies the text. */
char *uat_redact(const struct uat_redactor *r, const char *text);
/* Same for a buffer that may hold NUL bytes; *out_len receives the new length. */
char *uat_redact_n(const struct uat_redactor *r, const char *text, size_t len, size_t *out_len);

#endif
