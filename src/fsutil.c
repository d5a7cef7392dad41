#include "fsutil.h"

#include "strbuf.h"

#include <errno.h>
#include <fcntl.h>
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

int uat_file_write_atomic(const char *path, const char *data, size_t len, struct uat_error *err) {
  struct uat_strbuf tmp;
  uat_strbuf_init(&tmp, 0);
  if (uat_strbuf_addf(&tmp, "%s.tmp.XXXXXX", path) != 0)
    return uat_error_set(err, "cannot write '%s': out of memory", path);
  int fd = mkstemp(tmp.buf);
  if (fd < 0) {
    int e = errno;
    uat_strbuf_release(&tmp);
    return uat_error_set(err, "cannot write '%s': %s", path, strerror(e));
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    done += (size_t)w;
  }
  int e = errno;
  int ok = done == len && fsync(fd) == 0;
  if (!ok)
    e = errno;
  if (close(fd) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok && rename(tmp.buf, path) != 0) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    unlink(tmp.buf);
    uat_strbuf_release(&tmp);
    return uat_error_set(err, "cannot write '%s': %s", path, strerror(e ? e : EIO));
  }
  /* mkstemp creates 0600; reports are meant to be read by CI tooling. */
  chmod(path, 0644);
  uat_strbuf_release(&tmp);
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
