/* The per-run share of run_share.h. Bytecode: lua_dump of a module compiled from its text
 * (with debug information, so messages and tracebacks name the same lines), loaded back with
 * mode "b" into each later check's state. The sandbox's rule that scripts load text chunks
 * only is untouched: load() still forces "t", and the only binary chunks ever loaded are
 * these, dumped by this process from text it compiled itself. */
#include "check/run_share.h"

#include "net/http.h"
#include "util/strbuf.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Past this many bytes of bytecode kept, modules are compiled per check again: a playbook
 * with thousands of distinct modules must not grow the run without bound. */
#define MAX_KEPT_BYTES ((size_t)32 * 1024 * 1024)

/* One kept module; immutable once listed, freed with the share. */
struct chunk {
  struct chunk *next;
  char *path;
  char *chunkname;
  char *bytes;
  size_t len;
};

struct uat_run_share {
  pthread_mutex_t lock; /* guards refs, chunks and kept_bytes */
  int refs;
  struct chunk *chunks;
  size_t kept_bytes;
  struct uat_http_share *http;
};

struct uat_run_share *uat_run_share_new(struct uat_error *err) {
  struct uat_run_share *share = calloc(1, sizeof *share);
  if (!share) {
    uat_error_set(err, "out of memory preparing the run");
    return NULL;
  }
  share->http = uat_http_share_new(err);
  if (!share->http) {
    free(share);
    return NULL;
  }
  pthread_mutex_init(&share->lock, NULL);
  share->refs = 1;
  return share;
}

struct uat_run_share *uat_run_share_ref(struct uat_run_share *share) {
  if (share) {
    pthread_mutex_lock(&share->lock);
    share->refs++;
    pthread_mutex_unlock(&share->lock);
  }
  return share;
}

static void free_chunk(struct chunk *c) {
  free(c->path);
  free(c->chunkname);
  free(c->bytes);
  free(c);
}

void uat_run_share_unref(struct uat_run_share *share) {
  if (!share)
    return;
  pthread_mutex_lock(&share->lock);
  bool last = --share->refs == 0;
  pthread_mutex_unlock(&share->lock);
  if (!last)
    return;
  for (struct chunk *c = share->chunks, *next; c; c = next) {
    next = c->next;
    free_chunk(c);
  }
  uat_http_share_free(share->http);
  pthread_mutex_destroy(&share->lock);
  free(share);
}

struct uat_http_share *uat_run_share_http(struct uat_run_share *share) {
  return share ? share->http : NULL;
}

/* The kept chunk for (path, chunkname), or NULL. Chunks are never changed or freed while
 * the share lives, so the caller may read the one returned without the lock. */
static const struct chunk *find_chunk(struct uat_run_share *share, const char *path,
                                      const char *chunkname) {
  pthread_mutex_lock(&share->lock);
  const struct chunk *c = share->chunks;
  while (c && (strcmp(c->path, path) != 0 || strcmp(c->chunkname, chunkname) != 0))
    c = c->next;
  pthread_mutex_unlock(&share->lock);
  return c;
}

bool uat_run_share_load_module(struct uat_run_share *share, lua_State *L, const char *path,
                               const char *chunkname) {
  const struct chunk *c = share ? find_chunk(share, path, chunkname) : NULL;
  if (!c)
    return false;
  if (luaL_loadbufferx(L, c->bytes, c->len, chunkname, "b") != LUA_OK)
    lua_error(L);
  return true;
}

static int dump_writer(lua_State *L, const void *p, size_t size, void *ud) {
  return uat_strbuf_add(ud, p, size) == 0 ? 0 : 1;
}

/* Lists c unless another thread kept the same module meanwhile or the cache is full;
 * frees c when it is not listed. */
static void list_chunk(struct uat_run_share *share, struct chunk *c) {
  pthread_mutex_lock(&share->lock);
  bool listed = false;
  const struct chunk *e = share->chunks;
  while (e && (strcmp(e->path, c->path) != 0 || strcmp(e->chunkname, c->chunkname) != 0))
    e = e->next;
  if (!e && share->kept_bytes + c->len <= MAX_KEPT_BYTES) {
    c->next = share->chunks;
    share->chunks = c;
    share->kept_bytes += c->len;
    listed = true;
  }
  pthread_mutex_unlock(&share->lock);
  if (!listed)
    free_chunk(c);
}

void uat_run_share_keep_module(struct uat_run_share *share, lua_State *L, const char *path,
                               const char *chunkname) {
  if (!share || !lua_isfunction(L, -1))
    return;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, MAX_KEPT_BYTES);
  /* strip = 0: keep line numbers and the source name for error messages and tracebacks. */
  if (lua_dump(L, dump_writer, &sb, 0) != 0 || sb.len == 0) {
    uat_strbuf_release(&sb);
    return;
  }
  struct chunk *c = calloc(1, sizeof *c);
  if (!c) {
    uat_strbuf_release(&sb);
    return;
  }
  c->len = sb.len;
  c->bytes = uat_strbuf_take(&sb);
  c->path = strdup(path);
  c->chunkname = strdup(chunkname);
  if (!c->bytes || !c->path || !c->chunkname) {
    free_chunk(c);
    return;
  }
  list_chunk(share, c);
}
