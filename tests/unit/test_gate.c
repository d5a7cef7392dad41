/* The gate's decision as a pure function: one table row per rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gate/gate.h"

#include <stdio.h>
#include <string.h>

#define NOW ((int64_t)1795334400) /* 2026-11-22 08:00 UTC */
#define HOUR ((int64_t)3600)
#define DIGEST "d1d1"
#define OLD_DIGEST "d0d0"
#define RELEASE "v4.6.3"
#define COMMIT "1a2b3c4"
#define FINGERPRINT "f1f1"
#define OTHER_FINGERPRINT "f0f0"

/* The playbook every case starts from: two support items, one product item. */
static char *support_members[] = {"nesserine", "myriam"};
static char *product_members[] = {"matis", "myriam"};

enum { SUPPORT_BRIEFED, SUPPORT_DOCS, PRODUCT_OK, NITEMS };

static void fixture_playbook(struct uat_playbook *pb, struct uat_signoff_item items[NITEMS],
                             struct uat_role roles[2]) {
  memset(pb, 0, sizeof *pb);
  items[SUPPORT_BRIEFED] = (struct uat_signoff_item){
      .id = "support-briefed", .role = "support", .text = "Support knows what moved"};
  items[SUPPORT_DOCS] = (struct uat_signoff_item){
      .id = "support-docs", .role = "support", .text = "Help pages updated"};
  items[PRODUCT_OK] = (struct uat_signoff_item){
      .id = "product-ok", .role = "product", .text = "Product accepts the release"};
  roles[0] = (struct uat_role){.name = "support", .members = support_members, .nmembers = 2};
  roles[1] = (struct uat_role){.name = "product", .members = product_members, .nmembers = 2};
  pb->name = "Tasking Manager staging UAT";
  pb->signoffs = items;
  pb->nsignoffs = NITEMS;
  pb->roles = roles;
  pb->nroles = 2;
  pb->signoff_max_age_s = 72.0 * 3600;
  pb->nchecks = 5; /* only counted: the gate never looks at the checks themselves */
}

/* One recorded decision; NULL fields take the case's defaults (this release, commit, digest,
 * the item's own role). */
struct dec {
  int64_t seq;
  int64_t age; /* seconds before NOW */
  const char *item;
  const char *signer;
  bool approve;
  const char *digest;
  const char *role;
  const char *release;
  const char *commit;
};

enum run_kind {
  RUN_PASS,
  RUN_NONE,
  RUN_FAIL,
  RUN_OTHER_DIGEST,
  RUN_PARTIAL,
  RUN_OTHER_TARGET,     /* recorded with another base URL or other vars */
  RUN_NO_FINGERPRINT,   /* recorded before fingerprints existed */
  RUN_FAIL_OTHER_TARGET /* failed, and against another target */
};

struct gate_case {
  const char *name;
  bool distinct;
  bool no_product_role; /* roles.product removed from the playbook */
  enum run_kind run;
  struct dec decs[8]; /* ends at the first entry without an item */
  enum uat_gate_state state;
  enum uat_run_state want_run;
  enum uat_item_state want[NITEMS];
  int reason_item; /* which item's reason to check, -1: the run's */
  const char *want_reason;
};

/* Decision shorthands: approve / reject, with optional designated extras (.digest = …). */
#define OK(s, a, it, who, ...)                                                                     \
  { .seq = (s), .age = (a), .item = (it), .signer = (who), .approve = true, __VA_ARGS__ }
#define NO(s, a, it, who, ...)                                                                     \
  { .seq = (s), .age = (a), .item = (it), .signer = (who), .approve = false, __VA_ARGS__ }
#define OK_ALL                                                                                     \
  OK(1, HOUR, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "nesserine"),              \
      OK(3, HOUR, "product-ok", "matis")

#define A UAT_ITEM_APPROVED
#define M UAT_ITEM_MISSING
#define R UAT_ITEM_REJECTED
#define E UAT_ITEM_EXPIRED
#define S UAT_ITEM_STALE_DIGEST
#define N UAT_ITEM_SIGNER_NOT_ALLOWED
#define U UAT_ITEM_SIGNER_REUSED
#define OPEN .state = UAT_GATE_OPEN
#define WAITING .state = UAT_GATE_WAITING
#define FAILED .state = UAT_GATE_FAILED

static const struct gate_case cases[] = {
    {"everything approved and the run passed: open", .decs = {OK_ALL}, OPEN, .want = {A, A, A},
     .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam on 2026-11-22 07:00 UTC"},
    {"nothing signed: waiting", WAITING, .want = {M, M, M}, .reason_item = PRODUCT_OK,
     .want_reason = "not signed yet"},
    {"one item missing: waiting",
     .decs = {OK(1, HOUR, "support-briefed", "myriam"), OK(2, HOUR, "product-ok", "matis")},
     WAITING, .want = {A, M, A}, .reason_item = SUPPORT_DOCS, .want_reason = "not signed yet"},
    {"a later rejection beats an earlier approval",
     .decs = {OK_ALL, NO(4, 60, "support-briefed", "nesserine")}, FAILED, .want = {R, A, A},
     .reason_item = SUPPORT_BRIEFED,
     .want_reason = "rejected by nesserine on 2026-11-22 07:59 UTC"},
    {"a later approval after a rejection wins",
     .decs = {NO(0, 2 * HOUR, "support-briefed", "nesserine"), OK_ALL}, OPEN, .want = {A, A, A},
     .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam"},
    {"the ledger's order decides, not the array's",
     .decs = {NO(9, 2 * HOUR, "support-docs", "myriam"), OK_ALL}, FAILED, .want = {A, R, A},
     .reason_item = SUPPORT_DOCS, .want_reason = "rejected by myriam"},
    {"a rejection beats items still waiting", .decs = {NO(1, HOUR, "product-ok", "matis")}, FAILED,
     .want = {M, M, R}, .reason_item = PRODUCT_OK, .want_reason = "rejected by matis"},
    {"approval one second younger than signoff_max_age counts",
     .decs = {OK(1, 72 * HOUR - 1, "support-briefed", "myriam"),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     OPEN, .want = {A, A, A}, .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam"},
    {"approval exactly signoff_max_age old has expired",
     .decs = {OK(1, 72 * HOUR, "support-briefed", "myriam"),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {E, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason =
         "approved by myriam on 2026-11-19 08:00 UTC, but approvals count for 72h only: sign "
         "again"},
    {"an approval dated up to 5 minutes ahead (clock skew) counts",
     .decs = {OK(1, -300, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "matis")},
     OPEN, .want = {A, A, A}, .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam"},
    {"an approval dated further in the future does not count",
     .decs = {OK(1, -301, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {E, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "approved by myriam on 2026-11-22 08:05 UTC, which is still in the future: "
                    "the signer's clock or this machine's is wrong; fix it and sign again"},
    {"an approval from a clock years ahead does not count forever",
     .decs = {OK(1, -4 * 365 * 24 * HOUR, "support-briefed", "myriam"),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {E, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "on 2030-11-21 08:00 UTC, which is still in the future"},
    {"a rejection dated in the future still rejects",
     .decs = {OK_ALL, NO(4, -100 * HOUR, "support-docs", "nesserine")}, FAILED, .want = {A, R, A},
     .reason_item = SUPPORT_DOCS, .want_reason = "rejected by nesserine"},
    {"an expired approval followed by a fresh one counts",
     .decs = {OK(0, 100 * HOUR, "support-briefed", "myriam"), OK_ALL}, OPEN, .want = {A, A, A},
     .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam"},
    {"approval for an earlier playbook: sign again",
     .decs = {OK(1, HOUR, "support-briefed", "myriam", .digest = OLD_DIGEST),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {S, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "approved by myriam for an earlier version of the playbook; the checks "
                    "changed, sign again"},
    {"a rejection of an earlier playbook still fails the gate",
     .decs = {NO(1, HOUR, "support-briefed", "myriam", .digest = OLD_DIGEST),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     FAILED, .want = {R, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "rejected by myriam"},
    {"a later rejection of another playbook version beats a current approval",
     .decs = {OK_ALL, NO(7, 60, "support-docs", "myriam", .digest = OLD_DIGEST)}, FAILED,
     .want = {A, R, A}, .reason_item = SUPPORT_DOCS, .want_reason = "rejected by myriam"},
    {"a rejection survives a playbook change and its revert",
     .decs = {OK_ALL, OK(4, 50, "support-briefed", "myriam", .digest = OLD_DIGEST),
              NO(5, 40, "support-briefed", "nesserine", .digest = OLD_DIGEST)},
     FAILED, .want = {R, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "rejected by nesserine"},
    {"a current approval after a rejection of an earlier playbook wins",
     .decs = {NO(0, 2 * HOUR, "support-briefed", "nesserine", .digest = OLD_DIGEST), OK_ALL}, OPEN,
     .want = {A, A, A}, .reason_item = SUPPORT_BRIEFED, .want_reason = "approved by myriam"},
    {"an approval of another version after a current one: sign again",
     .decs = {OK_ALL, OK(4, 60, "support-briefed", "myriam", .digest = OLD_DIGEST)}, WAITING,
     .want = {S, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "for an earlier version of the playbook"},
    {"signer not (or no longer) listed under the role",
     .decs = {OK(1, HOUR, "support-briefed", "bob"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {N, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "approved by bob, who is not listed under roles.support: one of them must "
                    "sign"},
    {"a member of another role does not count",
     .decs = {OK(1, HOUR, "support-briefed", "matis"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {N, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "not listed under roles.support"},
    {"role no longer in the playbook", .no_product_role = true, .decs = {OK_ALL}, WAITING,
     .want = {A, A, N}, .reason_item = PRODUCT_OK,
     .want_reason = "approved by matis, but the playbook lists nobody under roles.product: add "
                    "the role"},
    {"a decision recorded under another role is ignored",
     .decs = {OK(1, HOUR, "support-briefed", "myriam", .role = "product"),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {M, A, A}, .reason_item = SUPPORT_BRIEFED, .want_reason = "not signed yet"},
    {"decisions of another release or commit are ignored",
     .decs = {OK(1, HOUR, "support-briefed", "myriam", .release = "v4.6.2"),
              OK(2, HOUR, "support-docs", "nesserine", .commit = "ffff999"),
              OK(3, HOUR, "product-ok", "matis")},
     WAITING, .want = {M, M, A}, .reason_item = SUPPORT_DOCS, .want_reason = "not signed yet"},
    {"decisions for an item the playbook no longer has are ignored",
     .decs = {OK_ALL, NO(8, 60, "support-old", "myriam", .role = "support")}, OPEN,
     .want = {A, A, A}, .reason_item = SUPPORT_DOCS, .want_reason = "approved by nesserine"},
    {"distinct signers: one person cannot satisfy two roles", .distinct = true,
     .decs = {OK(1, HOUR, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "myriam")},
     WAITING, .want = {A, A, U}, .reason_item = PRODUCT_OK,
     .want_reason = "approved by myriam, who already signed for support: each role needs a "
                    "different person (gate.distinct_signers)"},
    {"distinct signers: the later approval gives way, whatever the item order", .distinct = true,
     .decs = {OK(1, HOUR, "product-ok", "myriam"), OK(2, HOUR, "support-briefed", "myriam"),
              OK(3, HOUR, "support-docs", "nesserine")},
     WAITING, .want = {U, A, A}, .reason_item = SUPPORT_BRIEFED,
     .want_reason = "already signed for product"},
    {"without distinct signers one person may sign for two roles",
     .decs = {OK(1, HOUR, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "nesserine"),
              OK(3, HOUR, "product-ok", "myriam")},
     OPEN, .want = {A, A, A}, .reason_item = PRODUCT_OK, .want_reason = "approved by myriam"},
    {"distinct signers: one person may sign two items of the same role", .distinct = true,
     .decs = {OK(1, HOUR, "support-briefed", "myriam"), OK(2, HOUR, "support-docs", "myriam"),
              OK(3, HOUR, "product-ok", "matis")},
     OPEN, .want = {A, A, A}, .reason_item = SUPPORT_DOCS, .want_reason = "approved by myriam"},
    {"distinct signers: an expired approval does not satisfy a role", .distinct = true,
     .decs = {OK(1, 100 * HOUR, "support-briefed", "myriam"),
              OK(2, HOUR, "support-docs", "nesserine"), OK(3, HOUR, "product-ok", "myriam")},
     WAITING, .want = {E, A, A}, .reason_item = PRODUCT_OK, .want_reason = "approved by myriam"},
    {"no run recorded: failed even with every approval", .run = RUN_NONE, .decs = {OK_ALL}, FAILED,
     .want_run = UAT_RUN_MISSING, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "no recorded run of release v4.6.3 commit 1a2b3c4"},
    {"run failed: failed, naming the checks", .run = RUN_FAIL, .decs = {OK_ALL}, FAILED,
     .want_run = UAT_RUN_FAILED, .want = {A, A, A}, .reason_item = -1,
     .want_reason =
         "2 of 5 checks did not pass (run #5, 2026-11-22 07:50 UTC): private-project, mentions"},
    {"run failed and sign-offs missing: failed, not waiting", .run = RUN_FAIL, FAILED,
     .want_run = UAT_RUN_FAILED, .want = {M, M, M}, .reason_item = -1,
     .want_reason = "2 of 5 checks did not pass"},
    {"run of an earlier playbook: failed", .run = RUN_OTHER_DIGEST, .decs = {OK_ALL}, FAILED,
     .want_run = UAT_RUN_STALE, .want = {A, A, A}, .reason_item = -1,
     .want_reason =
         "the last run (#5, 2026-11-22 07:50 UTC) used an earlier version of the playbook"},
    {"a run that left checks out (--only): failed", .run = RUN_PARTIAL, .decs = {OK_ALL}, FAILED,
     .want_run = UAT_RUN_PARTIAL, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "the last run (#5, 2026-11-22 07:50 UTC) covered only 2 of the 5 checks"},
    {"run against another target or other vars: failed", .run = RUN_OTHER_TARGET, .decs = {OK_ALL},
     FAILED, .want_run = UAT_RUN_STALE, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "the recorded run checked another target or with other values (--var, "
                    "${VAR}); run the checks again (or drop --no-run)"},
    {"run recorded without a fingerprint: failed", .run = RUN_NO_FINGERPRINT, .decs = {OK_ALL},
     FAILED, .want_run = UAT_RUN_STALE, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "checked another target or with other values"},
    {"a failed run against another target still reads as failed", .run = RUN_FAIL_OTHER_TARGET,
     .decs = {OK_ALL}, FAILED, .want_run = UAT_RUN_FAILED, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "2 of 5 checks did not pass"},
    {"passed run is described", .decs = {OK_ALL}, OPEN, .want = {A, A, A}, .reason_item = -1,
     .want_reason = "all 5 checks passed (run #5, 2026-11-22 07:50 UTC)"},
};

static char *failed_ids[] = {"private-project", "mentions"};

static void fixture_run(enum run_kind kind, struct uat_run_record *run) {
  memset(run, 0, sizeof *run);
  if (kind == RUN_NONE)
    return;
  run->found = true;
  run->seq = 5;
  run->time = NOW - 600;
  run->digest = kind == RUN_OTHER_DIGEST ? OLD_DIGEST : DIGEST;
  run->fingerprint = kind == RUN_NO_FINGERPRINT                                  ? NULL
                     : kind == RUN_OTHER_TARGET || kind == RUN_FAIL_OTHER_TARGET ? OTHER_FINGERPRINT
                                                                                 : FINGERPRINT;
  run->release = RELEASE;
  run->commit = COMMIT;
  bool failed = kind == RUN_FAIL || kind == RUN_FAIL_OTHER_TARGET;
  run->passed = !failed;
  run->npassed = failed ? 3 : 5;
  if (kind == RUN_PARTIAL)
    run->npassed = 2;
  if (failed) {
    run->nfailed = 1;
    run->nerrored = 1;
    run->failed_ids = failed_ids;
    run->nfailed_ids = 2;
  }
}

static const char *role_of(const struct uat_playbook *pb, const char *item) {
  for (size_t i = 0; i < pb->nsignoffs; i++)
    if (strcmp(pb->signoffs[i].id, item) == 0)
      return pb->signoffs[i].role;
  return "none";
}

static size_t fixture_decisions(const struct gate_case *c, const struct uat_playbook *pb,
                                struct uat_decision *out) {
  size_t n = 0;
  for (; n < 8 && c->decs[n].item; n++) {
    const struct dec *d = &c->decs[n];
    out[n] = (struct uat_decision){
        .seq = d->seq,
        .time = NOW - d->age,
        .playbook = pb->name,
        .digest = (char *)(d->digest ? d->digest : DIGEST),
        .release = (char *)(d->release ? d->release : RELEASE),
        .commit = (char *)(d->commit ? d->commit : COMMIT),
        .role = (char *)(d->role ? d->role : role_of(pb, d->item)),
        .item = (char *)d->item,
        .signer = (char *)d->signer,
        .approve = d->approve,
        .note = "",
    };
  }
  return n;
}

static void test_gate_table(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const struct gate_case *c = &cases[k];
    struct uat_playbook pb;
    struct uat_signoff_item items[NITEMS];
    struct uat_role roles[2];
    struct uat_run_record run;
    struct uat_decision decisions[8];
    fixture_playbook(&pb, items, roles);
    pb.distinct_signers = c->distinct;
    if (c->no_product_role)
      pb.nroles = 1;
    fixture_run(c->run, &run);
    struct uat_gate_input in = {
        .playbook = &pb,
        .digest = DIGEST,
        .release = RELEASE,
        .commit = COMMIT,
        .fingerprint = FINGERPRINT,
        .run = c->run == RUN_NONE ? NULL : &run,
        .decisions = decisions,
        .ndecisions = fixture_decisions(c, &pb, decisions),
        .now = NOW,
    };
    struct uat_gate_verdict v;
    print_message("case: %s\n", c->name);
    assert_int_equal(uat_gate_evaluate(&in, &v), 0);
    assert_string_equal(uat_gate_state_name(v.state), uat_gate_state_name(c->state));
    assert_string_equal(uat_run_state_name(v.run_state), uat_run_state_name(c->want_run));
    assert_int_equal(v.nitems, NITEMS);
    size_t napproved = 0, nrejected = 0;
    for (size_t i = 0; i < NITEMS; i++) {
      assert_ptr_equal(v.items[i].item, &items[i]);
      assert_string_equal(uat_item_state_name(v.items[i].state), uat_item_state_name(c->want[i]));
      assert_true((v.items[i].decision == NULL) == (c->want[i] == UAT_ITEM_MISSING));
      napproved += c->want[i] == UAT_ITEM_APPROVED;
      nrejected += c->want[i] == UAT_ITEM_REJECTED;
    }
    assert_int_equal(v.napproved, napproved);
    assert_int_equal(v.nrejected, nrejected);
    assert_int_equal(v.nwaiting, NITEMS - napproved - nrejected);
    const char *reason = c->reason_item < 0 ? v.run_reason : v.items[c->reason_item].reason;
    if (!strstr(reason, c->want_reason))
      fail_msg("case '%s': reason '%s' lacks '%s'", c->name, reason, c->want_reason);
    int want_exit = c->state == UAT_GATE_OPEN ? 0 : c->state == UAT_GATE_FAILED ? 1 : 3;
    assert_int_equal(uat_gate_exit_code(&v), want_exit);
    uat_gate_verdict_release(&v);
    assert_null(v.items);
  }
}

/* The rejected item's decision is the rejection itself, so the CLI can print its note. */
static void test_gate_rejection_points_at_decision(void **state) {
  (void)state;
  struct uat_playbook pb;
  struct uat_signoff_item items[NITEMS];
  struct uat_role roles[2];
  struct uat_run_record run;
  fixture_playbook(&pb, items, roles);
  fixture_run(RUN_PASS, &run);
  struct uat_decision d[2] = {
      {.seq = 1,
       .time = NOW - 60,
       .playbook = pb.name,
       .digest = DIGEST,
       .release = RELEASE,
       .commit = COMMIT,
       .role = "support",
       .item = "support-docs",
       .signer = "myriam",
       .approve = true,
       .note = "fine"},
      {.seq = 2,
       .time = NOW - 30,
       .playbook = pb.name,
       .digest = DIGEST,
       .release = RELEASE,
       .commit = COMMIT,
       .role = "support",
       .item = "support-docs",
       .signer = "myriam",
       .approve = false,
       .note = "the invitations screen moved"},
  };
  struct uat_gate_input in = {&pb, DIGEST, RELEASE, COMMIT, FINGERPRINT, &run, d, 2, NOW};
  struct uat_gate_verdict v;
  assert_int_equal(uat_gate_evaluate(&in, &v), 0);
  assert_ptr_equal(v.items[SUPPORT_DOCS].decision, &d[1]);
  assert_string_equal(v.items[SUPPORT_DOCS].decision->note, "the invitations screen moved");
  uat_gate_verdict_release(&v);
}

/* A playbook without sign-off items opens on a passed run alone. */
static void test_gate_without_signoffs(void **state) {
  (void)state;
  struct uat_playbook pb;
  struct uat_signoff_item items[NITEMS];
  struct uat_role roles[2];
  struct uat_run_record run;
  fixture_playbook(&pb, items, roles);
  pb.nsignoffs = 0;
  fixture_run(RUN_PASS, &run);
  struct uat_gate_input in = {&pb, DIGEST, RELEASE, COMMIT, FINGERPRINT, &run, NULL, 0, NOW};
  struct uat_gate_verdict v;
  assert_int_equal(uat_gate_evaluate(&in, &v), 0);
  assert_int_equal(v.state, UAT_GATE_OPEN);
  assert_int_equal(v.nitems, 0);
  assert_int_equal(uat_gate_exit_code(&v), 0);
  uat_gate_verdict_release(&v);
  fixture_run(RUN_FAIL, &run);
  assert_int_equal(uat_gate_evaluate(&in, &v), 0);
  assert_int_equal(uat_gate_exit_code(&v), 1);
  uat_gate_verdict_release(&v);
}

/* A run record with found == false is the same as no run. */
static void test_gate_run_not_found(void **state) {
  (void)state;
  struct uat_playbook pb;
  struct uat_signoff_item items[NITEMS];
  struct uat_role roles[2];
  struct uat_run_record run = {.found = false};
  fixture_playbook(&pb, items, roles);
  struct uat_gate_input in = {&pb, DIGEST, RELEASE, COMMIT, FINGERPRINT, &run, NULL, 0, NOW};
  struct uat_gate_verdict v;
  assert_int_equal(uat_gate_evaluate(&in, &v), 0);
  assert_int_equal(v.run_state, UAT_RUN_MISSING);
  assert_int_equal(v.state, UAT_GATE_FAILED);
  uat_gate_verdict_release(&v);
}

static void test_gate_bad_input(void **state) {
  (void)state;
  struct uat_playbook pb;
  struct uat_signoff_item items[NITEMS];
  struct uat_role roles[2];
  fixture_playbook(&pb, items, roles);
  struct uat_gate_verdict v;
  struct uat_gate_input in = {&pb, NULL, RELEASE, COMMIT, FINGERPRINT, NULL, NULL, 0, NOW};
  assert_int_equal(uat_gate_evaluate(&in, &v), -1);
  assert_null(v.items);
  in.digest = DIGEST;
  in.release = NULL;
  assert_int_equal(uat_gate_evaluate(&in, &v), -1);
  in.release = RELEASE;
  in.commit = NULL;
  assert_int_equal(uat_gate_evaluate(&in, &v), -1);
  in.commit = COMMIT;
  in.fingerprint = NULL;
  assert_int_equal(uat_gate_evaluate(&in, &v), -1);
  in.fingerprint = FINGERPRINT;
  in.playbook = NULL;
  assert_int_equal(uat_gate_evaluate(&in, &v), -1);
  assert_int_equal(uat_gate_evaluate(NULL, &v), -1);
  uat_gate_verdict_release(NULL);
}

static void test_gate_names_and_time(void **state) {
  (void)state;
  static const char *items[] = {"approved",     "missing",      "rejected",
                                "expired",      "stale_digest", "signer_not_allowed",
                                "signer_reused"};
  for (int s = UAT_ITEM_APPROVED; s <= UAT_ITEM_SIGNER_REUSED; s++)
    assert_string_equal(uat_item_state_name((enum uat_item_state)s), items[s]);
  assert_string_equal(uat_run_state_name(UAT_RUN_STALE), "stale");
  assert_string_equal(uat_run_state_name(UAT_RUN_MISSING), "missing");
  assert_string_equal(uat_run_state_name(UAT_RUN_PARTIAL), "partial");
  assert_string_equal(uat_gate_state_name(UAT_GATE_OPEN), "open");
  assert_string_equal(uat_gate_state_name(UAT_GATE_WAITING), "waiting");
  char buf[32];
  assert_string_equal(uat_gate_format_time(NOW, buf, sizeof buf), "2026-11-22 08:00 UTC");
  assert_string_equal(uat_gate_format_time(0, buf, sizeof buf), "1970-01-01 00:00 UTC");
  char tiny[4];
  uat_gate_format_time(NOW, tiny, sizeof tiny);
  assert_true(strlen(tiny) < sizeof tiny);
}

/* Max ages that are not whole hours are written as durations. */
static void test_gate_expiry_wording(void **state) {
  (void)state;
  struct uat_playbook pb;
  struct uat_signoff_item items[NITEMS];
  struct uat_role roles[2];
  struct uat_run_record run;
  fixture_playbook(&pb, items, roles);
  pb.nsignoffs = 1;
  pb.signoff_max_age_s = 90 * 60;
  fixture_run(RUN_PASS, &run);
  struct uat_decision d = {.seq = 1,
                           .time = NOW - 2 * HOUR,
                           .playbook = pb.name,
                           .digest = DIGEST,
                           .release = RELEASE,
                           .commit = COMMIT,
                           .role = "support",
                           .item = "support-briefed",
                           .signer = "myriam",
                           .approve = true,
                           .note = ""};
  struct uat_gate_input in = {&pb, DIGEST, RELEASE, COMMIT, FINGERPRINT, &run, &d, 1, NOW};
  struct uat_gate_verdict v;
  assert_int_equal(uat_gate_evaluate(&in, &v), 0);
  assert_int_equal(v.items[0].state, UAT_ITEM_EXPIRED);
  assert_non_null(strstr(v.items[0].reason, "approvals count for 1h30m only"));
  assert_int_equal(v.state, UAT_GATE_WAITING);
  uat_gate_verdict_release(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gate_table),
      cmocka_unit_test(test_gate_rejection_points_at_decision),
      cmocka_unit_test(test_gate_without_signoffs),
      cmocka_unit_test(test_gate_run_not_found),
      cmocka_unit_test(test_gate_bad_input),
      cmocka_unit_test(test_gate_names_and_time),
      cmocka_unit_test(test_gate_expiry_wording),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
