/* A growable string with a size cap (curl's dynbuf habit: every buffer has a
 * `toobig`). Ownership: the buffer owns `buf`; uat_strbuf_take hands it over. */
#ifndef UAT_STRBUF_H
#define UAT_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct uat_strbuf {
  char *buf; /* always NUL-terminated once anything was added */
  size_t len;
  size_t cap;
  size_t toobig; /* 0: no limit; otherwise appends that would reach it fail */
};

void uat_strbuf_init(struct uat_strbuf *sb, size_t toobig);
/* Each returns 0, or -1 when out of memory or past toobig (the buffer is unchanged). */
int uat_strbuf_add(struct uat_strbuf *sb, const void *data, size_t len);
int uat_strbuf_adds(struct uat_strbuf *sb, const char *s);
int uat_strbuf_addf(struct uat_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int uat_strbuf_vaddf(struct uat_strbuf *sb, const char *fmt, va_list ap);
/* Returns the string (caller frees; never NULL: "" when empty) and resets sb. */
char *uat_strbuf_take(struct uat_strbuf *sb);
void uat_strbuf_release(struct uat_strbuf *sb);
/* items[0..n) joined by sep ("a, b"); "" for none. The caller's; NULL when out of memory. */
char *uat_strbuf_join(char *const *items, size_t n, const char *sep);

/* Cuts the owned text s to at most max bytes, never inside a UTF-8 sequence, and appends
 * mark when it cut anything. Returns the text (possibly moved; NULL stays NULL), or NULL
 * when out of memory (s is then freed). */
char *uat_text_cut(char *s, size_t max, const char *mark);

/* Replaces every control character of s (line breaks, tabs, ESC, DEL) with a space, in place,
 * and returns s: a parser's message quoting the input it choked on (jansson's "near '...'")
 * then stays on one line and cannot move a terminal's cursor. */
char *uat_text_one_line(char *s);

/* strdup that returns NULL for NULL. */
char *uat_strdup0(const char *s);

#endif
