/* Small file-system helpers. Returned char * are the caller's. */
#ifndef UAT_FSUTIL_H
#define UAT_FSUTIL_H

#include "util/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Reads a whole file (at most `cap` bytes; 0 = no cap). Returns the contents
 * NUL-terminated (length in *len if not NULL) or NULL with err set. */
char *uat_file_read(const char *path, size_t cap, size_t *len, struct uat_error *err);

/* Writes data to path all-or-nothing: a temporary file beside it, fsync, rename.
 * A failed write, flush or close is an error; the old file is then untouched.
 * A symbolic link is followed (the file it names is replaced, not the link), and a path
 * that uat_path_written_in_place names is written in place (a descriptor of this process
 * through itself, after stdio is flushed). */
int uat_file_write_atomic(const char *path, const char *data, size_t len, struct uat_error *err);

/* Whether path exists and is a device, a pipe or a descriptor of this process (/dev/null,
 * /dev/stdout, /dev/fd/N), which a write must not replace by a rename. */
bool uat_path_written_in_place(const char *path);

/* The folder part of path ("." when none). */
char *uat_path_dirname(const char *path);
/* dir + "/" + rel, or rel itself when it is absolute. */
char *uat_path_join(const char *dir, const char *rel);
bool uat_path_is_file(const char *path);
bool uat_path_is_dir(const char *path);

#endif
