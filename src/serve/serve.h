/* The sign-off page's HTTP server (libmicrohttpd): the listening socket, who is asking
 * (htpasswd sessions or a trusted proxy's header), CSRF on every POST, security headers on
 * every response, and routing. What the pages say and what a decision does is the app's
 * (cmd_serve.c): this layer knows no ledger, so it can be tested on its own.
 * Ownership: the config and app are borrowed for the server's life; uat_server_start's
 * result is the caller's (uat_server_stop). */
#ifndef UAT_SERVE_H
#define UAT_SERVE_H

#include "serve/serve_auth.h"
#include "serve/serve_pages.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* What a POST /decide asks. */
struct uat_serve_decision {
  const char *item;
  bool approve;
  const char *note; /* "" when none */
};

/* The pages and actions. Each returns the HTTP status of its answer. */
struct uat_serve_app {
  void *data;
  /* The release page for who, with flash (the outcome of a decision, or NULL). */
  int (*release_page)(void *data, const struct uat_page_who *who, const char *flash, bool flash_ok,
                      struct uat_strbuf *html);
  /* What `uatrun status` prints. */
  int (*status_page)(void *data, const struct uat_page_who *who, struct uat_strbuf *html);
  /* Records the decision of user, or refuses it: 200, 400 (bad input), 403 (not allowed),
   * 409 (refused in this state), 500 (ledger). msg receives one plain sentence. */
  int (*decide)(void *data, const char *user, const struct uat_serve_decision *d,
                struct uat_strbuf *msg);
  /* The file of artifact n of the run report shown on the page (caller frees), or NULL. */
  char *(*artifact_path)(void *data, size_t n);
};

enum uat_serve_auth { UAT_SERVE_HTPASSWD, UAT_SERVE_HEADER };

struct uat_serve_config {
  const char *listen; /* HOST:PORT or [V6]:PORT; port 0 picks a free one */
  enum uat_serve_auth auth;
  const struct uat_htpasswd *htpasswd; /* UAT_SERVE_HTPASSWD */
  const char *header;                  /* UAT_SERVE_HEADER: the identity header's name */
  const struct uat_cidr *trusted;      /* proxies whose header (and X-Forwarded-Proto) count */
  size_t ntrusted;
};

struct uat_server;

/* Binds cfg->listen, then serves on threads of its own. A taken port, a bad address or a
 * refused bind: -1 with err saying which and what to do. */
int uat_server_start(const struct uat_serve_config *cfg, const struct uat_serve_app *app,
                     struct uat_server **out, struct uat_error *err);
/* "http://127.0.0.1:8642/" (borrowed). */
const char *uat_server_url(const struct uat_server *s);
/* Stops serving (waits for requests under way) and frees the server. */
void uat_server_stop(struct uat_server *s);

/* "127.0.0.1:8642", "[::1]:8642", "localhost:8642" into addr. */
int uat_serve_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *len,
                           struct uat_error *err);

#endif
