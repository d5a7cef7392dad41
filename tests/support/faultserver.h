/* Loopback servers that fail the way broken staging does, for the network-fault tests.
 * Bound to 127.0.0.1 only; each listens on a port the system picks.
 *
 *   reset port   plain sockets: reads the request, sends "200 OK" with Content-Length
 *                1 MiB and the first 4 KiB of the body, then closes with SO_LINGER 0, so
 *                the client gets a TCP reset in the middle of the body
 *   tls port     libmicrohttpd over TLS (GnuTLS) with a self-signed certificate for
 *                127.0.0.1 made at start (OpenSSL, in memory): any client that verifies
 *                certificates fails the handshake
 *
 * The other faults (a trickling body, a 2 GiB body, a redirect loop) are routes of the
 * ordinary test server (testserver.c). */
#ifndef UAT_FAULTSERVER_H
#define UAT_FAULTSERVER_H

#include <stddef.h>

struct uat_faultserver;

/* Starts both servers. NULL with a message in err (when not NULL) on failure. */
struct uat_faultserver *uat_faultserver_start(char *err, size_t err_size);

unsigned uat_faultserver_reset_port(const struct uat_faultserver *server);
unsigned uat_faultserver_tls_port(const struct uat_faultserver *server);

/* Stops both servers and frees them; NULL is fine. */
void uat_faultserver_stop(struct uat_faultserver *server);

#endif
