/* The gate's verdict as report/report.h's neutral struct uat_gate_view, which the HTML
 * report and the notifications read, and the firing of notify:'s webhooks.
 * Ownership: a uat_gate_view_owned owns the strings it had to make (redacted notes, commands,
 * times) and borrows the rest from the context and the snapshot, which must outlive it. */
#ifndef UAT_GATE_VIEW_H
#define UAT_GATE_VIEW_H

#include "cli/gate_snapshot.h"
#include "cli/context.h"
#include "report/report.h"

struct uat_gate_view_owned {
  struct uat_gate_view view;
  struct uat_gate_view_item *items;
  char **strings; /* everything made for the view */
  size_t nstrings, capacity;
};

/* Returns 0, or -1 when out of memory (nothing then to release). */
int uat_gate_view_build(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                        const char *headline, struct uat_gate_view_owned *out);
void uat_gate_view_release(struct uat_gate_view_owned *v);

/* Tells each webhook of notify: whose `on` holds the verdict's event, one after the other,
 * each within notify.timeout. One that fails is a warning line on ctx->opts->err naming it
 * by type and number (never its URL); the verdict and the exit code stay as they are. */
void uat_gate_notify(const struct uat_context *ctx, const struct uat_gate_view *view);

#endif
