/* The playbook digest. It hashes a sorted list of (name, SHA-256 of content) pairs, where a
 * name is relative to the playbook's folder (so two checkouts of one repository agree) and
 * bundled modules are named "<bundled>/NAME.lua" (so moving the install does not matter). */
#include "digest.h"

#include "fsutil.h"
#include "strbuf.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LUA_FILE ((size_t)16 * 1024 * 1024)
#define MAX_DIR_DEPTH 16

void uat_sha256_hex(const void *data, size_t len, char out[UAT_DIGEST_HEX]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
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

/* What the digest covers so far, plus the module names already followed. */
struct inputs {
  struct entry *entries;
  size_t count, cap;
  char **modules;
  size_t nmodules, modcap;
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

/* The name a file has in the digest: its path relative to the playbook folder. */
static const char *relative_name(const struct inputs *in, const char *path) {
  size_t n = strlen(in->dir);
  if (n > 0 && strncmp(path, in->dir, n) == 0 && path[n] == '/')
    return path + n + 1;
  return path;
}

/* Adds a file; its text is returned (caller frees) for the require scan when text is set. */
static int add_file(struct inputs *in, const char *path, const char *name, char **text) {
  size_t len;
  char *data = uat_file_read(path, MAX_LUA_FILE, &len, in->err);
  if (!data)
    return -1;
  int rc = add_entry(in, name, data, len);
  if (rc == 0 && text)
    *text = data;
  else
    free(data);
  return rc;
}

static bool has_lua_suffix(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

/* Every *.lua file under dir, recursively; a missing folder adds nothing. */
static int add_lua_tree(struct inputs *in, const char *dir, int depth) {
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
    if (uat_path_is_dir(path) && depth < MAX_DIR_DEPTH)
      rc = add_lua_tree(in, path, depth + 1);
    else if (has_lua_suffix(de->d_name) && uat_path_is_file(path))
      rc = add_file(in, path, relative_name(in, path), NULL);
    free(path);
  }
  closedir(d);
  return rc;
}

static bool module_seen(const struct inputs *in, const char *name) {
  for (size_t i = 0; i < in->nmodules; i++)
    if (strcmp(in->modules[i], name) == 0)
      return true;
  return false;
}

static int remember_module(struct inputs *in, const char *name) {
  if (in->nmodules == in->modcap) {
    size_t ncap = in->modcap ? in->modcap * 2 : 8;
    char **m = realloc(in->modules, ncap * sizeof *m);
    if (!m)
      return oom(in);
    in->modules = m;
    in->modcap = ncap;
  }
  if (!(in->modules[in->nmodules] = strdup(name)))
    return oom(in);
  in->nmodules++;
  return 0;
}

/* "a.b" → "a/b.lua": where require looks for a module inside a checklists folder. */
static char *module_file(const char *module) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = 0;
  for (const char *p = module; rc == 0 && *p; p++)
    rc = uat_strbuf_add(&sb, *p == '.' ? "/" : p, 1);
  if (rc == 0)
    rc = uat_strbuf_adds(&sb, ".lua");
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

static int scan_requires(struct inputs *in, const char *text);

/* A required module: the local checklists/ copy is hashed already (whole folder); a bundled
 * one is hashed and scanned for its own requires. */
static int follow_module(struct inputs *in, const char *module) {
  if (module_seen(in, module))
    return 0;
  if (remember_module(in, module) != 0)
    return -1;
  char *file = module_file(module);
  if (!file)
    return oom(in);
  int rc = 0;
  char *local_dir = uat_path_join(in->dir, "checklists");
  char *local = local_dir ? uat_path_join(local_dir, file) : NULL;
  char *bundled = in->bundled_dir ? uat_path_join(in->bundled_dir, file) : NULL;
  struct uat_strbuf name;
  uat_strbuf_init(&name, 0);
  if (!local || (in->bundled_dir && !bundled) ||
      uat_strbuf_addf(&name, "<bundled>/%s", file) != 0) {
    rc = oom(in);
  } else if (!uat_path_is_file(local) && bundled && uat_path_is_file(bundled)) {
    char *text = NULL;
    rc = add_file(in, bundled, name.buf, &text);
    if (rc == 0)
      rc = scan_requires(in, text);
    free(text);
  }
  uat_strbuf_release(&name);
  free(file);
  free(local);
  free(local_dir);
  free(bundled);
  return rc;
}

static bool is_module_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

static bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Finds require("x"), require "x" and require('x') in Lua text; a name built at run time
 * cannot be seen, which is why the whole local checklists/ folder is hashed too. */
static int scan_requires(struct inputs *in, const char *text) {
  static const char word[] = "require";
  for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
    if (p > text && is_ident_char(p[-1]))
      continue;
    const char *q = p + sizeof word - 1;
    if (is_ident_char(*q))
      continue;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q == '(')
      q++;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q != '"' && *q != '\'')
      continue;
    char quote = *q++;
    const char *start = q;
    while (is_module_char(*q))
      q++;
    if (*q != quote || q == start)
      continue;
    char *module = strndup(start, (size_t)(q - start));
    if (!module)
      return oom(in);
    int rc = follow_module(in, module);
    free(module);
    if (rc != 0)
      return -1;
  }
  return 0;
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
  if (add_file(in, pb->path, slash ? slash + 1 : pb->path, NULL) != 0)
    return -1;
  for (size_t i = 0; i < pb->nchecks; i++) {
    const struct uat_check *c = &pb->checks[i];
    if (c->script_path && add_file(in, c->script_path, relative_name(in, c->script_path), NULL))
      return -1;
    if (c->source && scan_requires(in, c->source) != 0)
      return -1;
  }
  char *local = uat_path_join(in->dir, "checklists");
  if (!local)
    return oom(in);
  size_t first = in->count;
  int rc = add_lua_tree(in, local, 0);
  free(local);
  /* Local modules may require bundled ones; scan them from disk (bundled entries that this
   * appends are scanned as they are added). */
  size_t last = in->count;
  for (size_t i = first; rc == 0 && i < last; i++) {
    char *path = uat_path_join(in->dir, in->entries[i].name);
    char *text = path ? uat_file_read(path, MAX_LUA_FILE, NULL, in->err) : NULL;
    rc = text ? scan_requires(in, text) : path ? -1 : oom(in);
    free(text);
    free(path);
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
  for (size_t i = 0; i < in.nmodules; i++)
    free(in.modules[i]);
  free(in.modules);
  free(dir);
  return rc;
}
