#include "util/redact.h"

#include "util/strbuf.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void uat_redactor_init(struct uat_redactor *r) {
  r->needles = NULL;
  r->count = 0;
}

void uat_redactor_release(struct uat_redactor *r) {
  for (size_t i = 0; i < r->count; i++)
    free(r->needles[i]);
  free(r->needles);
  uat_redactor_init(r);
}

static int add_needle(struct uat_redactor *r, char *owned) {
  if (!owned)
    return -1;
  for (size_t i = 0; i < r->count; i++)
    if (strcmp(r->needles[i], owned) == 0) {
      free(owned);
      return 0;
    }
  char **grown = realloc(r->needles, (r->count + 1) * sizeof *grown);
  if (!grown) {
    free(owned);
    return -1;
  }
  r->needles = grown;
  /* Keep longest first: a secret that contains another must be replaced whole. */
  size_t len = strlen(owned), at = r->count;
  while (at > 0 && strlen(r->needles[at - 1]) < len) {
    r->needles[at] = r->needles[at - 1];
    at--;
  }
  r->needles[at] = owned;
  r->count++;
  return 0;
}

static char *base64(const char *s) {
  size_t len = strlen(s);
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (out)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
  return out;
}

static char *percent_encode(const char *s, const char *hex) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
    int keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               strchr("-._~", *p);
    if ((keep ? uat_strbuf_add(&sb, p, 1) : uat_strbuf_add(&sb, enc, 3)) != 0) {
      uat_strbuf_release(&sb);
      return NULL;
    }
  }
  return uat_strbuf_take(&sb);
}

/* The short escape JSON has for a control character, or 0 when it uses \\u00XX. */
static char json_short_escape(unsigned char c) {
  switch (c) {
  case '\b':
    return 'b';
  case '\f':
    return 'f';
  case '\n':
    return 'n';
  case '\r':
    return 'r';
  case '\t':
    return 't';
  default:
    return 0;
  }
}

/* The form a secret takes inside a JSON string, as jansson writes it. */
static char *json_escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[6] = {'\\', (char)*p, 0, 0, 0, 0};
    size_t n = 2;
    if (*p < 0x20 && json_short_escape(*p)) {
      esc[1] = json_short_escape(*p);
    } else if (*p < 0x20) {
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[*p >> 4];
      esc[5] = hex[*p & 15];
      n = 6;
    } else if (*p != '"' && *p != '\\') {
      esc[0] = (char)*p;
      n = 1;
    }
    if (uat_strbuf_add(&sb, esc, n) != 0) {
      uat_strbuf_release(&sb);
      return NULL;
    }
  }
  return uat_strbuf_take(&sb);
}

int uat_redactor_add(struct uat_redactor *r, const char *secret) {
  if (!secret || !*secret)
    return 0;
  if (add_needle(r, strdup(secret)) != 0)
    return -1;
  /* Encoded forms shorter than 4 characters would hide unrelated text; the
   * plain value is always hidden, whatever its length. */
  char *b64 = base64(secret);
  if (b64 && strlen(b64) >= 4 && strcmp(b64, secret) != 0) {
    if (add_needle(r, b64) != 0)
      return -1;
  } else {
    free(b64);
  }
  /* Secrets holding " or \\ or control characters are escaped inside JSON texts. */
  char *json = json_escape(secret);
  if (!json)
    return -1;
  if (strcmp(json, secret) != 0) {
    if (add_needle(r, json) != 0)
      return -1;
  } else {
    free(json);
  }
  char *pct = percent_encode(secret, "0123456789ABCDEF");
  char *pct_lower = percent_encode(secret, "0123456789abcdef");
  /* Both spellings of percent-encoding travel in URLs (RFC 3986 prefers upper case). */
  if (pct_lower && pct && strcmp(pct_lower, pct) != 0) {
    if (add_needle(r, pct_lower) != 0) {
      free(pct);
      return -1;
    }
  } else {
    free(pct_lower);
  }
  if (pct && strcmp(pct, secret) != 0) {
    if (add_needle(r, pct) != 0)
      return -1;
  } else {
    free(pct);
  }
  return 0;
}

/* Offset of the first occurrence of needle in hay[from..len), or len when there is none. */
static size_t find_from(const char *hay, size_t len, size_t from, const char *needle, size_t nlen) {
  while (nlen > 0 && from + nlen <= len) {
    const char *p = memchr(hay + from, needle[0], len - nlen + 1 - from);
    if (!p)
      break;
    from = (size_t)(p - hay);
    if (memcmp(p, needle, nlen) == 0)
      return from;
    from++;
  }
  return len;
}

/* One pass over the text: each needle's next occurrence is remembered and searched again
 * only once the pass has moved beyond it, so the cost stays linear in the text even when
 * it holds a secret thousands of times (a quadratic rescan made a long log line with many
 * secrets take seconds inside one C call, where the check's deadline cannot stop it). */
char *uat_redact_n(const struct uat_redactor *r, const char *text, size_t len, size_t *out_len) {
  if (!text)
    return NULL;
  size_t count = r ? r->count : 0;
  size_t *next_hit = count ? malloc(count * sizeof *next_hit) : NULL;
  size_t *nlen = count ? malloc(count * sizeof *nlen) : NULL;
  if (count && (!next_hit || !nlen)) {
    free(next_hit);
    free(nlen);
    return NULL;
  }
  for (size_t k = 0; k < count; k++) {
    nlen[k] = strlen(r->needles[k]);
    next_hit[k] = find_from(text, len, 0, r->needles[k], nlen[k]);
  }
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  size_t i = 0;
  int rc = 0;
  while (i < len && rc == 0) {
    size_t next = len, best = 0;
    for (size_t k = 0; k < count; k++) {
      if (next_hit[k] < i)
        next_hit[k] = find_from(text, len, i, r->needles[k], nlen[k]);
      /* needles are sorted longest first: the first one found at `next` is the longest */
      if (next_hit[k] < next) {
        next = next_hit[k];
        best = nlen[k];
      }
    }
    if (next > i) {
      rc = uat_strbuf_add(&sb, text + i, next - i);
      i = next;
    } else {
      rc = uat_strbuf_add(&sb, "***", 3);
      i += best;
    }
  }
  free(next_hit);
  free(nlen);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  if (out_len)
    *out_len = sb.len;
  return uat_strbuf_take(&sb);
}

char *uat_redact(const struct uat_redactor *r, const char *text) {
  return text ? uat_redact_n(r, text, strlen(text), NULL) : NULL;
}
