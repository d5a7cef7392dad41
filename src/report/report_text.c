#include "report/report_text.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Decodes one strict UTF-8 sequence (no overlongs, surrogates or values past U+10FFFF).
 * Returns its length, or 0 when the bytes at s are not valid UTF-8. */
static size_t decode_utf8(const unsigned char *s, size_t len, uint32_t *cp) {
  unsigned char c = s[0];
  size_t n;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (len < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
    return 0;
  *cp = v;
  return n;
}

enum action { KEEP, ESCAPE, REPLACE };

/* What this mode does with the bytes at s; *n receives how many it covers. */
static enum action classify(const unsigned char *s, size_t len, enum uat_text_mode mode, size_t *n,
                            uint32_t *cp) {
  *n = decode_utf8(s, len, cp);
  if (*n == 0) {
    *n = 1;
    return REPLACE;
  }
  uint32_t c = *cp;
  switch (mode) {
  case UAT_TEXT_UTF8:
    return KEEP;
  case UAT_TEXT_XML:
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
      return ESCAPE;
    return (c == 0xFFFE || c == 0xFFFF) ? REPLACE : KEEP;
  case UAT_TEXT_TERMINAL:
    return ((c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7F && c <= 0x9F)) ? ESCAPE : KEEP;
  }
  return KEEP;
}

static int add_escape(struct uat_strbuf *sb, uint32_t cp) {
  char esc[8];
  snprintf(esc, sizeof esc, cp < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
  return uat_strbuf_adds(sb, esc);
}

int uat_report_text_add(struct uat_strbuf *sb, const char *text, size_t len,
                        enum uat_text_mode mode) {
  const unsigned char *s = (const unsigned char *)text;
  size_t run = 0; /* start of the pending run of characters kept as they are */
  size_t i = 0;
  while (i < len) {
    size_t n;
    uint32_t cp;
    enum action a = classify(s + i, len - i, mode, &n, &cp);
    if (a == KEEP) {
      i += n;
      continue;
    }
    if (i > run && uat_strbuf_add(sb, s + run, i - run) != 0)
      return -1;
    if ((a == ESCAPE ? add_escape(sb, cp) : uat_strbuf_adds(sb, REPLACEMENT)) != 0)
      return -1;
    i += n;
    run = i;
  }
  /* The final add also makes sure the buffer holds a string when text was empty. */
  return uat_strbuf_add(sb, s + run, len - run);
}

char *uat_report_text_clean(const char *s, enum uat_text_mode mode) {
  if (!s)
    return NULL;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (uat_report_text_add(&sb, s, strlen(s), mode) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

bool uat_report_text_is_utf8(const char *s) {
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = decode_utf8((const unsigned char *)s + i, len - i, &cp);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

bool uat_report_text_is_line(const char *s) {
  size_t len = strlen(s);
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t n = decode_utf8((const unsigned char *)s + i, len - i, &cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return false;
    i += n;
  }
  return true;
}
