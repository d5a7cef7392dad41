#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

int uat_error_set(struct uat_error *err, const char *fmt, ...) {
  if (!err)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->text, sizeof err->text, fmt, ap);
  va_end(ap);
  return -1;
}

int uat_error_at(struct uat_error *err, const char *file, int line, int col, const char *fmt, ...) {
  if (!err)
    return -1;
  int n = snprintf(err->text, sizeof err->text, "%s:%d:%d: ", file ? file : "?", line, col);
  if (n < 0 || (size_t)n >= sizeof err->text)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->text + n, sizeof err->text - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}
