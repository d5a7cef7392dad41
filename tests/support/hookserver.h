/* A webhook receiver for the notify: tests (libmicrohttpd), bound to 127.0.0.1 only.
 * Every POST is recorded as a file in a folder: DIR/NNN-ROUTE.json holds the body, and
 * DIR/NNN-ROUTE.path the request path (NNN counts from 001 in arrival order). Routes, by the
 * first path segment:
 *   /ok/...     200 "ok"
 *   /fail/...   500 "no_service" (what Slack answers for a removed webhook)
 *   /hang/...   answers nothing for 30 s (cut short by stop): a receiver that hangs
 *   else        404 "not found" (recorded too) */
#ifndef UAT_HOOKSERVER_H
#define UAT_HOOKSERVER_H

#include <stddef.h>

struct uat_hookserver;

/* Starts on port (0: any free one), recording into dir (which must exist). NULL with a
 * message in err on failure. */
struct uat_hookserver *uat_hookserver_start(unsigned port, const char *dir, char *err,
                                            size_t err_size);
unsigned uat_hookserver_port(const struct uat_hookserver *server);
/* How many requests were recorded so far. */
unsigned uat_hookserver_count(const struct uat_hookserver *server);
/* Stops (interrupting a hanging reply) and frees; NULL is fine. */
void uat_hookserver_stop(struct uat_hookserver *server);

#endif
