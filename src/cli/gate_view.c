/* From gate.c's verdict to the words reports and chats show, and the notifications. */
#include "cli/gate_view.h"

#include "report/notify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keeps s (which may be NULL: out of memory) among the view's strings. */
static const char *keep(struct uat_gate_view_owned *o, char *s, bool *ok) {
  if (!s || o->nstrings == o->capacity) {
    free(s);
    *ok = false;
    return NULL;
  }
  return o->strings[o->nstrings++] = s;
}

static char *iso_time(int64_t t) {
  char buf[40];
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, sizeof buf, "%lld", (long long)t);
  return strdup(buf);
}

static void fill_item(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                      const struct uat_gate_item *gi, struct uat_gate_view_owned *o,
                      struct uat_gate_view_item *it, bool *ok) {
  const struct uat_decision *d = gi->decision;
  *it = (struct uat_gate_view_item){.id = gi->item->id,
                                    .role = gi->item->role,
                                    .text = gi->item->text,
                                    .state = uat_item_state_name(gi->state),
                                    .reason = gi->reason};
  if (d) {
    it->signer = d->signer;
    it->decided_at = keep(o, iso_time(d->time), ok);
    /* A note is what a person typed: it may hold a secret pasted by mistake. */
    if (d->note && *d->note)
      it->note = keep(o, uat_redact(&ctx->redactor, d->note), ok);
  }
  if (gi->state != UAT_ITEM_APPROVED) {
    it->may_sign = keep(o, uat_gate_who_may_sign(ctx, &snap->verdict, gi->item->role), ok);
    it->command = keep(o, uat_gate_signoff_command(ctx, gi->item->role, gi->item->id), ok);
  }
}

int uat_gate_view_build(const struct uat_context *ctx, const struct uat_gate_snapshot *snap,
                        const char *headline, struct uat_gate_view_owned *out) {
  const struct uat_gate_verdict *verdict = &snap->verdict;
  memset(out, 0, sizeof *out);
  out->capacity = 4 * verdict->nitems + 1;
  out->strings = calloc(out->capacity, sizeof *out->strings);
  out->items = calloc(verdict->nitems ? verdict->nitems : 1, sizeof *out->items);
  bool ok = out->strings && out->items;
  for (size_t i = 0; ok && i < verdict->nitems; i++)
    fill_item(ctx, snap, &verdict->items[i], out, &out->items[i], &ok);
  const struct uat_run_record *run = &snap->run;
  out->view = (struct uat_gate_view){
      .verdict = uat_gate_state_name(verdict->state),
      .exit_code = uat_gate_exit_code(verdict),
      .headline = headline,
      .playbook = ctx->playbook->name,
      .release = ctx->release,
      .commit = ctx->commit,
      .run_state = uat_run_state_name(verdict->run_state),
      .run_reason = verdict->run_reason,
      .passed = run->found ? run->npassed : 0,
      .failed = run->found ? run->nfailed : 0,
      .errored = run->found ? run->nerrored : 0,
      .items = out->items,
      .nitems = verdict->nitems,
      .page_url = ctx->playbook->notify.page_url,
  };
  if (ok)
    out->view.gate_command = keep(out, uat_gate_command_for(ctx, "gate"), &ok);
  if (!ok) {
    uat_gate_view_release(out);
    return -1;
  }
  return 0;
}

void uat_gate_view_release(struct uat_gate_view_owned *v) {
  for (size_t i = 0; v->strings && i < v->nstrings; i++)
    free(v->strings[i]);
  free(v->strings);
  free(v->items);
  memset(v, 0, sizeof *v);
}

void uat_gate_notify(const struct uat_context *ctx, const struct uat_gate_view *view) {
  const struct uat_notify *nf = &ctx->playbook->notify;
  fflush(ctx->opts->out); /* a warning follows the verdict's lines in a shared CI log */
  for (size_t i = 0; i < nf->nwebhooks; i++) {
    struct uat_error err;
    if (uat_notify_send(&nf->webhooks[i], i + 1, view, nf->timeout_s, &ctx->redactor, &err) < 0)
      uat_cli_error(ctx->opts, "warning: %s", err.text);
  }
}
