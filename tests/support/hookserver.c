/* The webhook receiver of hookserver.h: one thread per connection, so a hanging reply never
 * blocks the next request; bodies are written to files so a shell test can read them. */
#include "hookserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY ((size_t)1024 * 1024)
#define HANG_MS 30000L

struct uat_hookserver {
  struct MHD_Daemon *daemon;
  char *dir;
  atomic_uint count;
  atomic_bool stopping;
  unsigned port;
};

struct upload {
  char *data;
  size_t len;
  bool too_big;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  enum MHD_Result rc = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* "ok" from "/ok/T0KEN": the first path segment, letters only, as file names take it. */
static void route_of(const char *path, char *out, size_t size) {
  size_t n = 0;
  for (const char *p = path + (*path == '/'); *p && *p != '/' && n + 1 < size; p++)
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
      out[n++] = *p;
  out[n] = '\0';
  if (n == 0)
    snprintf(out, size, "root");
}

static int write_file(const char *dir, unsigned seq, const char *route, const char *ext,
                      const char *data, size_t len) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%03u-%s.%s", dir, seq, route, ext);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f)
    return -1;
  int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
  if (fclose(f) != 0)
    rc = -1;
  /* A reader polling the folder sees the whole file or none (the .tmp name is skipped). */
  return rc == 0 ? rename(tmp, path) : rc;
}

static void record(struct uat_hookserver *srv, const char *path, const char *route,
                   const struct upload *up) {
  unsigned seq = atomic_fetch_add(&srv->count, 1) + 1;
  write_file(srv->dir, seq, route, "json", up->data ? up->data : "", up->len);
  write_file(srv->dir, seq, route, "path", path, strlen(path));
}

/* Waits about ms, in short steps so stop does not wait for the whole of it. */
static void hang(struct uat_hookserver *srv, long ms) {
  struct timespec step = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
  for (long waited = 0; waited < ms && !atomic_load(&srv->stopping); waited += 50)
    nanosleep(&step, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state) {
  struct uat_hookserver *srv = cls;
  struct upload *up = *state;
  if (!up) {
    if (!(up = calloc(1, sizeof *up)))
      return MHD_NO;
    *state = up;
    return MHD_YES;
  }
  if (*size) {
    if (up->len + *size > MAX_BODY) {
      up->too_big = true;
    } else {
      char *grown = realloc(up->data, up->len + *size + 1);
      if (!grown)
        return MHD_NO;
      memcpy(grown + up->len, data, *size);
      up->data = grown;
      up->len += *size;
      up->data[up->len] = '\0';
    }
    *size = 0;
    return MHD_YES;
  }
  if (up->too_big)
    return reply(conn, 413, "too big");
  char route[32];
  route_of(url, route, sizeof route);
  record(srv, url, route, up);
  if (strcmp(method, "POST") != 0)
    return reply(conn, 405, "POST only");
  if (strcmp(route, "ok") == 0)
    return reply(conn, 200, "ok");
  if (strcmp(route, "fail") == 0)
    return reply(conn, 500, "no_service\nsecond line");
  if (strcmp(route, "hang") == 0) {
    hang(srv, HANG_MS);
    return reply(conn, 200, "late");
  }
  return reply(conn, 404, "not found");
}

static void request_done(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode code) {
  struct upload *up = *state;
  if (up) {
    free(up->data);
    free(up);
  }
  *state = NULL;
}

struct uat_hookserver *uat_hookserver_start(unsigned port, const char *dir, char *err,
                                            size_t err_size) {
  struct uat_hookserver *srv = calloc(1, sizeof *srv);
  if (!srv || !(srv->dir = strdup(dir))) {
    free(srv);
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
      (uint16_t)port, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_NOTIFY_COMPLETED, request_done, srv, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)60, MHD_OPTION_END);
  if (!srv->daemon) {
    snprintf(err, err_size, "cannot listen on 127.0.0.1:%u; is the port in use?", port);
    free(srv->dir);
    free(srv);
    return NULL;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  srv->port = info ? info->port : port;
  return srv;
}

unsigned uat_hookserver_port(const struct uat_hookserver *server) {
  return server->port;
}

unsigned uat_hookserver_count(const struct uat_hookserver *server) {
  return atomic_load(&((struct uat_hookserver *)server)->count);
}

void uat_hookserver_stop(struct uat_hookserver *server) {
  if (!server)
    return;
  atomic_store(&server->stopping, true);
  MHD_stop_daemon(server->daemon);
  free(server->dir);
  free(server);
}
