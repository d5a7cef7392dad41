#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void uat_strbuf_init(struct uat_strbuf *sb, size_t toobig) {
  sb->buf = NULL;
  sb->len = 0;
  sb->cap = 0;
  sb->toobig = toobig;
}

static int grow(struct uat_strbuf *sb, size_t extra) {
  if (extra > (size_t)-1 - sb->len - 1)
    return -1;
  size_t need = sb->len + extra + 1;
  if (sb->toobig && need > sb->toobig)
    return -1;
  if (need <= sb->cap)
    return 0;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < need)
    cap = cap > (size_t)-1 / 2 ? need : cap * 2;
  char *p = realloc(sb->buf, cap);
  if (!p)
    return -1;
  sb->buf = p;
  sb->cap = cap;
  return 0;
}

int uat_strbuf_add(struct uat_strbuf *sb, const void *data, size_t len) {
  if (grow(sb, len) != 0)
    return -1;
  if (len)
    memcpy(sb->buf + sb->len, data, len);
  sb->len += len;
  sb->buf[sb->len] = '\0';
  return 0;
}

int uat_strbuf_adds(struct uat_strbuf *sb, const char *s) {
  return uat_strbuf_add(sb, s, strlen(s));
}

int uat_strbuf_vaddf(struct uat_strbuf *sb, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0 || grow(sb, (size_t)n) != 0)
    return -1;
  vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
  sb->len += (size_t)n;
  return 0;
}

int uat_strbuf_addf(struct uat_strbuf *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = uat_strbuf_vaddf(sb, fmt, ap);
  va_end(ap);
  return rc;
}

char *uat_strbuf_take(struct uat_strbuf *sb) {
  char *s = sb->buf ? sb->buf : strdup("");
  sb->buf = NULL;
  sb->len = sb->cap = 0;
  return s;
}

char *uat_strbuf_join(char *const *items, size_t n, const char *sep) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  for (size_t i = 0; i < n; i++)
    if ((i && uat_strbuf_adds(&sb, sep) != 0) || uat_strbuf_adds(&sb, items[i]) != 0) {
      uat_strbuf_release(&sb);
      return NULL;
    }
  return uat_strbuf_take(&sb);
}

void uat_strbuf_release(struct uat_strbuf *sb) {
  free(sb->buf);
  sb->buf = NULL;
  sb->len = sb->cap = 0;
}

char *uat_text_cut(char *s, size_t max, const char *mark) {
  if (!s || strlen(s) <= max)
    return s;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
    max--;
  size_t mark_len = strlen(mark);
  char *cut = realloc(s, max + mark_len + 1); /* the mark may be longer than what is cut */
  if (!cut) {
    free(s);
    return NULL;
  }
  memcpy(cut + max, mark, mark_len + 1);
  return cut;
}

char *uat_text_one_line(char *s) {
  for (unsigned char *p = (unsigned char *)s; p && *p; p++)
    if (*p < 0x20 || *p == 0x7F)
      *p = ' ';
  return s;
}

char *uat_strdup0(const char *s) {
  return s ? strdup(s) : NULL;
}
