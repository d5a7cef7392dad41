/* A loopback HTTP server for tests (libmicrohttpd), bound to 127.0.0.1 only.
 * Its routes are listed at the top of testserver.c; end-to-end tests rely on them. */
#ifndef UAT_TESTSERVER_H
#define UAT_TESTSERVER_H

#include <stddef.h>

struct uat_testserver;

/* Starts serving on port (0: a free port the system picks). Returns NULL and writes a
 * message into err (when not NULL) on failure. */
struct uat_testserver *uat_testserver_start(unsigned port, char *err, size_t err_size);

/* The port the server listens on. */
unsigned uat_testserver_port(const struct uat_testserver *server);

/* Stops serving (interrupting slow replies) and frees the server; NULL is fine. */
void uat_testserver_stop(struct uat_testserver *server);

#endif
