/* The gate's decision: one pass over the recorded decisions per sign-off item,
 * then the distinct-signers rule, then the run. Pure: no I/O, no clock. */
#include "gate/gate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool same(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

const char *uat_item_state_name(enum uat_item_state s) {
  switch (s) {
  case UAT_ITEM_APPROVED:
    return "approved";
  case UAT_ITEM_MISSING:
    return "missing";
  case UAT_ITEM_REJECTED:
    return "rejected";
  case UAT_ITEM_EXPIRED:
    return "expired";
  case UAT_ITEM_STALE_DIGEST:
    return "stale_digest";
  case UAT_ITEM_SIGNER_NOT_ALLOWED:
    return "signer_not_allowed";
  case UAT_ITEM_SIGNER_REUSED:
    return "signer_reused";
  }
  return "unknown";
}

const char *uat_run_state_name(enum uat_run_state s) {
  switch (s) {
  case UAT_RUN_PASSED:
    return "passed";
  case UAT_RUN_FAILED:
    return "failed";
  case UAT_RUN_MISSING:
    return "missing";
  case UAT_RUN_STALE:
    return "stale";
  case UAT_RUN_PARTIAL:
    return "partial";
  }
  return "unknown";
}

const char *uat_gate_state_name(enum uat_gate_state s) {
  switch (s) {
  case UAT_GATE_OPEN:
    return "open";
  case UAT_GATE_FAILED:
    return "failed";
  case UAT_GATE_WAITING:
    return "waiting";
  }
  return "unknown";
}

const char *uat_gate_format_time(int64_t t, char *buf, size_t size) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (size == 0)
    return buf;
  if (!gmtime_r(&tt, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
    snprintf(buf, size, "@%" PRId64, t);
  return buf;
}

/* "72h", "1h30m", "45m", "90s": how a playbook writes a max age. */
static const char *format_age(double seconds, char *buf, size_t size) {
  int64_t s = (int64_t)seconds;
  int64_t h = s / 3600, m = s % 3600 / 60, sec = s % 60;
  if (h && !m && !sec)
    snprintf(buf, size, "%" PRId64 "h", h);
  else if (h && !sec)
    snprintf(buf, size, "%" PRId64 "h%" PRId64 "m", h, m);
  else if (!h && m && !sec)
    snprintf(buf, size, "%" PRId64 "m", m);
  else
    snprintf(buf, size, "%" PRId64 "s", s);
  return buf;
}

/* A decision about this item of this release and commit, whatever the digest. */
static bool concerns_item(const struct uat_gate_input *in, const struct uat_signoff_item *item,
                          const struct uat_decision *d) {
  if (!same(d->item, item->id) || !same(d->release, in->release) || !same(d->commit, in->commit))
    return false;
  /* A decision made while the item belonged to another role does not count for this one. */
  if (d->role && !same(d->role, item->role))
    return false;
  return !d->playbook || !in->playbook->name || same(d->playbook, in->playbook->name);
}

static const struct uat_decision *later(const struct uat_decision *best,
                                        const struct uat_decision *d) {
  return !best || d->seq > best->seq ? d : best;
}

/* Judges the latest decision of one item (before the distinct-signers rule). */
static void judge_decision(const struct uat_gate_input *in, struct uat_gate_item *gi,
                           const struct uat_decision *d) {
  char when[32], age[32];
  const struct uat_playbook *pb = in->playbook;
  uat_gate_format_time(d->time, when, sizeof when);
  gi->decision = d;
  if (!d->approve) {
    gi->state = UAT_ITEM_REJECTED;
    snprintf(gi->reason, sizeof gi->reason, "rejected by %s on %s", d->signer, when);
    return;
  }
  const struct uat_role *role = uat_playbook_find_role(pb, gi->item->role);
  if (!role || !uat_role_has_member(role, d->signer)) {
    gi->state = UAT_ITEM_SIGNER_NOT_ALLOWED;
    if (role)
      snprintf(gi->reason, sizeof gi->reason,
               "approved by %s, who is not listed under roles.%s: one of them must sign", d->signer,
               gi->item->role);
    else
      snprintf(gi->reason, sizeof gi->reason,
               "approved by %s, but the playbook lists nobody under roles.%s: add the role",
               d->signer, gi->item->role);
    return;
  }
  /* A clock running ahead (the signer's) or behind (this machine's) must not make an
   * approval count for longer than signoff_max_age: one from the future does not count. */
  if (d->time - in->now > UAT_GATE_CLOCK_SKEW_S) {
    gi->state = UAT_ITEM_EXPIRED;
    snprintf(gi->reason, sizeof gi->reason,
             "approved by %s on %s, which is still in the future: the signer's clock or this "
             "machine's is wrong; fix it and sign again",
             d->signer, when);
    return;
  }
  if ((double)(in->now - d->time) >= pb->signoff_max_age_s) {
    gi->state = UAT_ITEM_EXPIRED;
    snprintf(gi->reason, sizeof gi->reason,
             "approved by %s on %s, but approvals count for %s only: sign again", d->signer, when,
             format_age(pb->signoff_max_age_s, age, sizeof age));
    return;
  }
  gi->state = UAT_ITEM_APPROVED;
  snprintf(gi->reason, sizeof gi->reason, "approved by %s on %s", d->signer, when);
}

/* The latest decision of any digest decides: a rejection stands even after the playbook
 * changed (or was reverted), while an approval counts only for the playbook it saw. */
static void judge_item(const struct uat_gate_input *in, struct uat_gate_item *gi) {
  const struct uat_decision *latest = NULL;
  for (size_t i = 0; i < in->ndecisions; i++)
    if (concerns_item(in, gi->item, &in->decisions[i]))
      latest = later(latest, &in->decisions[i]);
  if (!latest) {
    gi->state = UAT_ITEM_MISSING;
    snprintf(gi->reason, sizeof gi->reason, "not signed yet");
    return;
  }
  if (!latest->approve || same(latest->digest, in->digest)) {
    judge_decision(in, gi, latest);
    return;
  }
  gi->state = UAT_ITEM_STALE_DIGEST;
  gi->decision = latest;
  snprintf(gi->reason, sizeof gi->reason,
           "approved by %s for an earlier version of the playbook; the checks changed, sign "
           "again",
           latest->signer);
}

/* The earliest-approved item of another role that this person already satisfies. */
static const struct uat_gate_item *role_already_satisfied(const struct uat_gate_verdict *v,
                                                          const struct uat_gate_item *gi) {
  const struct uat_gate_item *found = NULL;
  for (size_t i = 0; i < v->nitems; i++) {
    const struct uat_gate_item *o = &v->items[i];
    if (o == gi || o->state != UAT_ITEM_APPROVED || same(o->item->role, gi->item->role) ||
        !same(o->decision->signer, gi->decision->signer) || o->decision->seq > gi->decision->seq)
      continue;
    if (!found || o->decision->seq < found->decision->seq)
      found = o;
  }
  return found;
}

/* One person may not satisfy two roles: the later approval gives way, in ledger order, so
 * an approval that was itself set aside no longer blocks a third role. */
static void apply_distinct_signers(struct uat_gate_verdict *v) {
  for (;;) {
    struct uat_gate_item *next = NULL;
    for (size_t i = 0; i < v->nitems; i++) {
      struct uat_gate_item *gi = &v->items[i];
      if (gi->state == UAT_ITEM_APPROVED && role_already_satisfied(v, gi) &&
          (!next || gi->decision->seq < next->decision->seq))
        next = gi;
    }
    if (!next)
      return;
    const struct uat_gate_item *first = role_already_satisfied(v, next);
    next->state = UAT_ITEM_SIGNER_REUSED;
    snprintf(next->reason, sizeof next->reason,
             "approved by %s, who already signed for %s: each role needs a different person "
             "(gate.distinct_signers)",
             next->decision->signer, first->item->role);
  }
}

static void judge_run(const struct uat_gate_input *in, struct uat_gate_verdict *v) {
  const struct uat_run_record *run = in->run;
  char when[32];
  if (!run || !run->found) {
    v->run_state = UAT_RUN_MISSING;
    snprintf(v->run_reason, sizeof v->run_reason, "no recorded run of release %s commit %s",
             in->release, in->commit);
    return;
  }
  uat_gate_format_time(run->time, when, sizeof when);
  size_t total = run->npassed + run->nfailed + run->nerrored;
  if (!same(run->digest, in->digest)) {
    v->run_state = UAT_RUN_STALE;
    snprintf(v->run_reason, sizeof v->run_reason,
             "the last run (#%" PRId64 ", %s) used an earlier version of the playbook", run->seq,
             when);
    return;
  }
  if (!run->passed) {
    v->run_state = UAT_RUN_FAILED;
    int n = snprintf(v->run_reason, sizeof v->run_reason,
                     "%zu of %zu check%s did not pass (run #%" PRId64 ", %s)",
                     run->nfailed + run->nerrored, total, total == 1 ? "" : "s", run->seq, when);
    for (size_t i = 0; i < run->nfailed_ids && n > 0 && (size_t)n < sizeof v->run_reason; i++)
      n += snprintf(v->run_reason + n, sizeof v->run_reason - (size_t)n, "%s%s", i ? ", " : ": ",
                    run->failed_ids[i]);
    return;
  }
  /* A failed run stays "failed" wherever it ran; only a pass must be of this target. */
  if (!same(run->fingerprint, in->fingerprint)) {
    v->run_state = UAT_RUN_STALE;
    snprintf(v->run_reason, sizeof v->run_reason,
             "the recorded run checked another target or with other values (--var, ${VAR}); "
             "run the checks again (or drop --no-run)");
    return;
  }
  if (total < in->playbook->nchecks) {
    v->run_state = UAT_RUN_PARTIAL;
    snprintf(v->run_reason, sizeof v->run_reason,
             "the last run (#%" PRId64 ", %s) covered only %zu of the %zu checks", run->seq, when,
             total, in->playbook->nchecks);
    return;
  }
  v->run_state = UAT_RUN_PASSED;
  if (total == 1)
    snprintf(v->run_reason, sizeof v->run_reason, "the one check passed (run #%" PRId64 ", %s)",
             run->seq, when);
  else
    snprintf(v->run_reason, sizeof v->run_reason, "all %zu checks passed (run #%" PRId64 ", %s)",
             total, run->seq, when);
}

int uat_gate_evaluate(const struct uat_gate_input *in, struct uat_gate_verdict *out) {
  memset(out, 0, sizeof *out);
  if (!in || !in->playbook || !in->digest || !in->release || !in->commit || !in->fingerprint)
    return -1;
  const struct uat_playbook *pb = in->playbook;
  if (pb->nsignoffs) {
    out->items = calloc(pb->nsignoffs, sizeof *out->items);
    if (!out->items)
      return -1;
  }
  out->nitems = pb->nsignoffs;
  for (size_t i = 0; i < out->nitems; i++) {
    out->items[i].item = &pb->signoffs[i];
    judge_item(in, &out->items[i]);
  }
  if (pb->distinct_signers)
    apply_distinct_signers(out);
  for (size_t i = 0; i < out->nitems; i++) {
    if (out->items[i].state == UAT_ITEM_APPROVED)
      out->napproved++;
    else if (out->items[i].state == UAT_ITEM_REJECTED)
      out->nrejected++;
    else
      out->nwaiting++;
  }
  judge_run(in, out);
  if (out->run_state != UAT_RUN_PASSED || out->nrejected)
    out->state = UAT_GATE_FAILED;
  else if (out->nwaiting)
    out->state = UAT_GATE_WAITING;
  else
    out->state = UAT_GATE_OPEN;
  return 0;
}

void uat_gate_verdict_release(struct uat_gate_verdict *v) {
  if (!v)
    return;
  free(v->items);
  memset(v, 0, sizeof *v);
}

int uat_gate_exit_code(const struct uat_gate_verdict *v) {
  switch (v->state) {
  case UAT_GATE_OPEN:
    return 0;
  case UAT_GATE_WAITING:
    return 3;
  case UAT_GATE_FAILED:
    break;
  }
  return 1;
}
