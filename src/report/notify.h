/* Notifications of the gate's verdict (notify: in the playbook) to chat webhooks — Slack,
 * Mattermost, Microsoft Teams — or any receiver of the documented JSON payload: payloads
 * built with jansson, sent with net/http.c (libcurl) under a short timeout. A failure comes
 * back as a sentence naming the webhook by its type and number, never by its URL (a webhook
 * URL is its token); the caller prints it as a warning and keeps its exit code.
 * Ownership: everything passed in is borrowed; a returned char * is the caller's. */
#ifndef UAT_NOTIFY_H
#define UAT_NOTIFY_H

#include "playbook/playbook.h"
#include "report/report.h"
#include "util/error.h"
#include "util/redact.h"

#include <stddef.h>

/* The current version of the generic json payload (docs/notify-json.md). */
#define UAT_NOTIFY_JSON_VERSION 1

/* The event a verdict is: UAT_NOTIFY_OPEN, _WAITING, _BLOCKED (a sign-off was rejected) or
 * _FAILED (the checks did not pass, or did not run). */
unsigned uat_notify_event_of(const struct uat_gate_view *g);
/* "waiting" "open" "blocked" "failed". */
const char *uat_notify_event_name(unsigned event);

/* The JSON text a webhook of this type receives about g; NULL when out of memory. */
char *uat_notify_payload(enum uat_webhook_type type, const struct uat_gate_view *g);

/* Tells webhook number `number` (1-based, as messages name it) about g, when its `on`
 * holds g's event and its URL is set. Returns 1 when the receiver answered 2xx, 0 when this
 * webhook is not concerned, -1 with err (a timeout, an unreachable host, another status;
 * redacted with r) otherwise. Takes at most about timeout_s. */
int uat_notify_send(const struct uat_webhook *w, size_t number, const struct uat_gate_view *g,
                    double timeout_s, const struct uat_redactor *r, struct uat_error *err);

#endif
