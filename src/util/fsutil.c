#include "util/fsutil.h"

#include "util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *uat_file_read(const char *path, size_t cap, size_t *len, struct uat_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    uat_error_set(err, "cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, cap ? cap + 1 : 0);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (uat_strbuf_add(&sb, chunk, n) != 0) {
      uat_error_set(err, "cannot read '%s': larger than %zu bytes", path, cap);
      uat_strbuf_release(&sb);
      fclose(f);
      return NULL;
    }
  }
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    uat_error_set(err, "cannot read '%s': read error", path);
    uat_strbuf_release(&sb);
    return NULL;
  }
  if (len)
    *len = sb.len;
  return uat_strbuf_take(&sb);
}

/* Writes all of data to fd; returns 0, or -1 with errno set. */
static int write_all(int fd, const char *data, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    if (w == 0) {
      errno = EIO;
      return -1;
    }
    done += (size_t)w;
  }
  return 0;
}

/* The descriptor that /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N names, or -1. */
static int named_descriptor(const char *path) {
  if (strcmp(path, "/dev/stdout") == 0)
    return 1;
  if (strcmp(path, "/dev/stderr") == 0)
    return 2;
  const char *digits = NULL;
  if (strncmp(path, "/dev/fd/", 8) == 0)
    digits = path + 8;
  else if (strncmp(path, "/proc/self/fd/", 14) == 0)
    digits = path + 14;
  if (!digits || *digits < '0' || *digits > '9')
    return -1;
  char *end;
  long fd = strtol(digits, &end, 10);
  return *end == '\0' && fd <= INT_MAX ? (int)fd : -1;
}

bool uat_path_written_in_place(const char *path) {
  if (named_descriptor(path) >= 0)
    return true;
  struct stat st;
  return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/* A device, a pipe or a descriptor cannot be replaced by a rename (and must not be: as root,
 * that would put a regular file where /dev/null was): write into it, every error counted.
 * A descriptor of this process is written through itself, after what stdio holds, so the
 * report follows the terminal output even when stdout is a file. */
static int write_in_place(const char *path, const char *data, size_t len, struct uat_error *err) {
  int own = named_descriptor(path);
  int fd = own;
  if (own >= 0)
    fflush(NULL);
  else
    fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0)
    return uat_error_set(err, "cannot write '%s': %s", path, strerror(errno));
  int rc = write_all(fd, data, len);
  int e = errno;
  if (own < 0 && close(fd) != 0 && rc == 0) {
    rc = -1;
    e = errno;
  }
  return rc == 0 ? 0 : uat_error_set(err, "cannot write '%s': %s", path, strerror(e));
}

int uat_file_write_atomic(const char *path, const char *data, size_t len, struct uat_error *err) {
  if (uat_path_written_in_place(path))
    return write_in_place(path, data, len, err);
  /* Through a symbolic link: replace the file it names, beside that file. */
  char *real = realpath(path, NULL);
  const char *target = real ? real : path;
  struct uat_strbuf tmp;
  uat_strbuf_init(&tmp, 0);
  if (uat_strbuf_addf(&tmp, "%s.tmp.XXXXXX", target) != 0) {
    free(real);
    return uat_error_set(err, "cannot write '%s': out of memory", path);
  }
  int fd = mkstemp(tmp.buf);
  if (fd < 0) {
    int e = errno;
    uat_strbuf_release(&tmp);
    free(real);
    return uat_error_set(err, "cannot write '%s': %s", path, strerror(e));
  }
  int e = 0;
  int ok = write_all(fd, data, len) == 0 && fsync(fd) == 0;
  if (!ok)
    e = errno;
  if (close(fd) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok && rename(tmp.buf, target) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    unlink(tmp.buf);
    uat_strbuf_release(&tmp);
    free(real);
    return uat_error_set(err, "cannot write '%s': %s", path, strerror(e ? e : EIO));
  }
  /* mkstemp creates 0600; reports are meant to be read by CI tooling. */
  chmod(target, 0644);
  uat_strbuf_release(&tmp);
  free(real);
  return 0;
}

char *uat_path_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return strdup(".");
  if (slash == path)
    return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

char *uat_path_join(const char *dir, const char *rel) {
  if (rel[0] == '/' || !dir || !*dir)
    return strdup(rel);
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (uat_strbuf_addf(&sb, "%s/%s", dir, rel) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

bool uat_path_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool uat_path_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
