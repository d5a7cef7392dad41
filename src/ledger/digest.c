/* The playbook digest. It hashes a sorted list of (name, SHA-256 of content) pairs, where a
 * name is relative to the playbook's folder (so two checkouts of one repository agree) and
 * bundled modules are named "<bundled>/NAME.lua" (so moving the install does not matter).
 * Every *.lua file of the local checklists/ folder and of the bundled folder is covered, used
 * or not: a module can be required through a name built at run time, which no scan sees. */
#include "ledger/digest.h"

#include "util/fsutil.h"
#include "util/strbuf.h"

/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP_Digest
 * fetches the algorithm from a provider on every call, and the first fetch builds
 * OpenSSL's whole name store: about a third of a short run's own CPU time. The low-level
 * functions hash the same bytes without any of that. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <dirent.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LUA_FILE ((size_t)16 * 1024 * 1024)
#define MAX_DIR_DEPTH 16

void uat_sha256_hex(const void *data, size_t len, char out[UAT_DIGEST_HEX]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_LENGTH];
  const unsigned int n = SHA256_DIGEST_LENGTH;
  SHA256_CTX ctx;
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data, len) != 1 ||
      SHA256_Final(md, &ctx) != 1) {
    /* Only a broken libcrypto gets here; an all-zero digest then matches nothing real. */
    memset(out, '0', UAT_DIGEST_HEX - 1);
    out[UAT_DIGEST_HEX - 1] = '\0';
    return;
  }
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[2 * n] = '\0';
}

struct entry {
  char *name;
  char hash[UAT_DIGEST_HEX];
};

/* What the digest covers so far. */
struct inputs {
  struct entry *entries;
  size_t count, cap;
  const char *dir;
  const char *bundled_dir;
  struct uat_error *err;
};

static int oom(struct inputs *in) {
  return uat_error_set(in->err, "cannot compute the playbook digest: out of memory");
}

static int add_entry(struct inputs *in, const char *name, const char *data, size_t len) {
  if (in->count == in->cap) {
    size_t ncap = in->cap ? in->cap * 2 : 16;
    struct entry *e = realloc(in->entries, ncap * sizeof *e);
    if (!e)
      return oom(in);
    in->entries = e;
    in->cap = ncap;
  }
  struct entry *e = &in->entries[in->count];
  if (!(e->name = strdup(name)))
    return oom(in);
  uat_sha256_hex(data, len, e->hash);
  in->count++;
  return 0;
}

/* Adds a file under name. */
static int add_file(struct inputs *in, const char *path, const char *name) {
  size_t len;
  char *data = uat_file_read(path, MAX_LUA_FILE, &len, in->err);
  if (!data)
    return -1;
  int rc = add_entry(in, name, data, len);
  free(data);
  return rc;
}

/* path relative to root when it lies below it, else path itself. */
static const char *below(const char *root, const char *path) {
  size_t n = strlen(root);
  if (n > 0 && strncmp(path, root, n) == 0 && path[n] == '/')
    return path + n + 1;
  return path;
}

/* The name a file has in the digest: its path relative to the playbook folder. */
static const char *relative_name(const struct inputs *in, const char *path) {
  return below(in->dir, path);
}

static bool has_lua_suffix(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

/* A tree to hash: files are named prefix + their path below root. */
struct tree {
  const char *root;
  const char *prefix;
};

static int add_tree_file(struct inputs *in, const struct tree *t, const char *path) {
  struct uat_strbuf name;
  uat_strbuf_init(&name, 0);
  if (uat_strbuf_addf(&name, "%s%s", t->prefix, below(t->root, path)) != 0) {
    uat_strbuf_release(&name);
    return oom(in);
  }
  int rc = add_file(in, path, name.buf);
  uat_strbuf_release(&name);
  return rc;
}

/* Every *.lua file under dir, recursively; a missing folder adds nothing. Symlinked folders
 * are not followed (a link to "." or "/" would never end); a symlinked file counts when it
 * leads to a regular file. */
static int add_lua_tree(struct inputs *in, const struct tree *t, const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    char *path = uat_path_join(dir, de->d_name);
    if (!path) {
      rc = oom(in);
      break;
    }
    struct stat link, target;
    if (lstat(path, &link) == 0 && S_ISDIR(link.st_mode)) {
      if (depth < MAX_DIR_DEPTH)
        rc = add_lua_tree(in, t, path, depth + 1);
    } else if (has_lua_suffix(de->d_name) && stat(path, &target) == 0 && S_ISREG(target.st_mode)) {
      rc = add_tree_file(in, t, path);
    }
    free(path);
  }
  closedir(d);
  return rc;
}

static int by_name(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return strcmp(x->name, y->name);
}

/* The canonical text: one "LENGTH:NAME HASH" line per distinct file, sorted by name. */
static int finish(struct inputs *in, char out[UAT_DIGEST_HEX]) {
  qsort(in->entries, in->count, sizeof *in->entries, by_name);
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_adds(&sb, "uatrun-digest-v1\n");
  for (size_t i = 0; rc == 0 && i < in->count; i++) {
    if (i > 0 && strcmp(in->entries[i].name, in->entries[i - 1].name) == 0)
      continue;
    rc = uat_strbuf_addf(&sb, "%zu:%s %s\n", strlen(in->entries[i].name), in->entries[i].name,
                         in->entries[i].hash);
  }
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return oom(in);
  }
  uat_sha256_hex(sb.buf, sb.len, out);
  uat_strbuf_release(&sb);
  return 0;
}

static int collect(struct inputs *in, const struct uat_playbook *pb) {
  const char *slash = strrchr(pb->path, '/');
  if (add_file(in, pb->path, slash ? slash + 1 : pb->path) != 0)
    return -1;
  for (size_t i = 0; i < pb->nchecks; i++) {
    const struct uat_check *c = &pb->checks[i];
    if (c->script_path && add_file(in, c->script_path, relative_name(in, c->script_path)) != 0)
      return -1;
  }
  char *local = uat_path_join(in->dir, "checklists");
  if (!local)
    return oom(in);
  struct tree local_tree = {.root = in->dir, .prefix = ""};
  int rc = add_lua_tree(in, &local_tree, local, 0);
  free(local);
  if (rc == 0 && in->bundled_dir) {
    struct tree bundled = {.root = in->bundled_dir, .prefix = "<bundled>/"};
    rc = add_lua_tree(in, &bundled, in->bundled_dir, 0);
  }
  return rc;
}

int uat_playbook_digest(const struct uat_playbook *pb, const char *bundled_dir,
                        char out[UAT_DIGEST_HEX], struct uat_error *err) {
  if (!pb || !pb->path)
    return uat_error_set(err, "cannot compute the playbook digest: no playbook file");
  char *dir = pb->dir ? strdup(pb->dir) : uat_path_dirname(pb->path);
  if (!dir)
    return uat_error_set(err, "cannot compute the playbook digest: out of memory");
  struct inputs in = {.dir = dir, .bundled_dir = bundled_dir, .err = err};
  int rc = collect(&in, pb);
  if (rc == 0)
    rc = finish(&in, out);
  for (size_t i = 0; i < in.count; i++)
    free(in.entries[i].name);
  free(in.entries);
  free(dir);
  return rc;
}
