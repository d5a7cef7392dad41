/* Error reports that modules return and only the CLI prints.
 * A module fills a struct uat_error and returns -1; the text is complete
 * ("FILE:LINE:COL: what went wrong; what to do") and already redacted. */
#ifndef UAT_ERROR_H
#define UAT_ERROR_H

#include <stddef.h>

struct uat_error {
  char text[2048];
};

/* Formats into err (if not NULL) and returns -1, so `return uat_error_set(...)` reads well. */
int uat_error_set(struct uat_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Like uat_error_set, prefixed with "FILE:LINE:COL: ". */
int uat_error_at(struct uat_error *err, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
