/* The ledger: records read back, the hash chain catching edits, deletions, insertions and
 * cut-off heads, concurrent writers, a writer killed mid-write, and files that are not ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ledger/digest.h"
#include "util/fsutil.h"
#include "ledger/ledger.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1795168920 /* 2026-11-20 10:02 UTC */
#define CHILDREN 8
#define PER_CHILD 200

/* ---------- fixtures ---------- */

struct tmp {
  char dir[64];
  char path[128];
};

static int setup_tmp(void **state) {
  struct tmp *t = calloc(1, sizeof *t);
  assert_non_null(t);
  snprintf(t->dir, sizeof t->dir, "/tmp/uat-ledger-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/sub/dir/ledger.db", t->dir);
  *state = t;
  return 0;
}

static int teardown_tmp(void **state) {
  struct tmp *t = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
  assert_int_equal(system(cmd), 0);
  free(t);
  return 0;
}

static struct uat_ledger *open_ok(const char *path, enum uat_ledger_mode mode) {
  struct uat_ledger *l = NULL;
  struct uat_error err = {{0}};
  if (uat_ledger_open(path, mode, &l, &err) != 0)
    fail_msg("open '%s' failed: %s", path, err.text);
  return l;
}

static struct uat_decision decision(const char *release, const char *item, const char *signer,
                                    bool approve, const char *note, int64_t time) {
  struct uat_decision d = {0};
  d.time = time;
  d.playbook = (char *)"tasking-manager";
  d.digest = (char *)"d1g3st";
  d.release = (char *)release;
  d.commit = (char *)"abc123";
  d.role = (char *)"support";
  d.item = (char *)item;
  d.signer = (char *)signer;
  d.approve = approve;
  d.note = (char *)note;
  d.run_seq = 1;
  return d;
}

static void record_decision_ok(struct uat_ledger *l, struct uat_decision d, char head[65]) {
  struct uat_error err = {{0}};
  char h[UAT_HASH_HEX];
  if (uat_ledger_record_decision(l, &d, head ? head : h, &err) != 0)
    fail_msg("record_decision: %s", err.text);
}

/* A two-check run; failing makes the second check fail. */
static void record_run_ok(struct uat_ledger *l, const char *release, const char *commit,
                          bool failing, int64_t finished, int64_t *seq) {
  struct uat_check_result checks[2] = {
      {.id = (char *)"login", .outcome = UAT_OUTCOME_PASS, .attempts = 1, .duration_s = 0.25},
      {.id = (char *)"private-project",
       .outcome = failing ? UAT_OUTCOME_FAIL : UAT_OUTCOME_PASS,
       .error = failing ? (char *)"expected status 200, got 403" : NULL,
       .attempts = failing ? 2 : 1,
       .duration_s = 1.5},
  };
  struct uat_run_result run = {.playbook_name = (char *)"tasking-manager",
                               .playbook_path = (char *)"uat.yml",
                               .release = (char *)release,
                               .commit = (char *)commit,
                               .digest = (char *)"d1g3st",
                               /* a run without a release stands for one recorded before
                                  fingerprints existed */
                               .fingerprint = release ? (char *)"f1ng3r" : NULL,
                               .started_at = finished - 2,
                               .finished_at = finished,
                               .checks = checks,
                               .nchecks = 2,
                               .passed = failing ? 1 : 2,
                               .failed = failing ? 1 : 0};
  struct uat_error err = {{0}};
  char head[UAT_HASH_HEX];
  int64_t s = 0;
  if (uat_ledger_record_run(l, &run, "0.1.0", &s, head, &err) != 0)
    fail_msg("record_run: %s", err.text);
  assert_int_equal(strlen(head), 64);
  if (seq)
    *seq = s;
}

static int64_t verify(struct uat_ledger *l, const char *expected_head, int want_rc,
                      struct uat_error *err) {
  int64_t rows = -1;
  char head[UAT_HASH_HEX];
  int rc = uat_ledger_verify(l, expected_head, &rows, head, err);
  if (rc != want_rc)
    fail_msg("verify returned %d, wanted %d: %s", rc, want_rc, rc ? err->text : "");
  return rows;
}

/* Runs SQL on the file behind uatrun's back, as someone tampering with it would. */
static int raw_exec(const char *path, const char *sql, char *msg, size_t msgsize) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char *errmsg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &errmsg);
  if (msg)
    snprintf(msg, msgsize, "%s", errmsg ? errmsg : "");
  sqlite3_free(errmsg);
  sqlite3_close(db);
  return rc;
}

/* One text value read behind uatrun's back. */
static void raw_text(const char *path, const char *sql, char *out, size_t size) {
  sqlite3 *db;
  sqlite3_stmt *st;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
}

static void checksum(const char *path, char out[UAT_DIGEST_HEX]) {
  struct uat_error err;
  size_t len;
  char *data = uat_file_read(path, 0, &len, &err);
  assert_non_null(data);
  uat_sha256_hex(data, len, out);
  free(data);
}

static void assert_contains(const char *text, const char *part) {
  if (!strstr(text, part))
    fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------- records read back ---------- */

/* What target.build found is recorded with the run and read back for gate and status; a run
 * without it reads back without it. */
static void test_run_build_read_back(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  struct uat_check_result check = {
      .id = (char *)"login", .outcome = UAT_OUTCOME_PASS, .attempts = 1, .duration_s = 0.25};
  struct uat_build_record build = {.url = (char *)"https://staging/api/version?t=***",
                                   .json = (char *)"release.version",
                                   .expected = (char *)"v4.6.3",
                                   .served = (char *)"v4.6.3",
                                   .waited_s = 12.5,
                                   .polls = 7};
  struct uat_run_result run = {.playbook_name = (char *)"tasking-manager",
                               .playbook_path = (char *)"uat.yml",
                               .release = (char *)"v4.6.3",
                               .commit = (char *)"abc",
                               .digest = (char *)"d1g3st",
                               .fingerprint = (char *)"f1ng3r",
                               .started_at = T0 - 2,
                               .finished_at = T0,
                               .checks = &check,
                               .nchecks = 1,
                               .passed = 1,
                               .build = &build};
  struct uat_error err = {{0}};
  char head[UAT_HASH_HEX];
  assert_int_equal(uat_ledger_record_run(l, &run, "0.1.0", NULL, head, &err), 0);
  struct uat_run_record r;
  assert_int_equal(uat_ledger_latest_run(l, "tasking-manager", "v4.6.3", "abc", &r, &err), 0);
  assert_true(r.found);
  assert_true(r.has_build);
  assert_string_equal(r.build_url, "https://staging/api/version?t=***");
  assert_string_equal(r.build_json, "release.version");
  assert_string_equal(r.build_expected, "v4.6.3");
  assert_string_equal(r.build_served, "v4.6.3");
  assert_true(r.build_waited_s == 12.5);
  assert_int_equal(r.build_polls, 7);
  uat_run_record_clear(&r);
  record_run_ok(l, "4.6.2", "abc123", false, T0, NULL);
  assert_int_equal(uat_ledger_latest_run(l, "tasking-manager", "4.6.2", "abc123", &r, &err), 0);
  assert_true(r.found);
  assert_false(r.has_build);
  assert_null(r.build_served);
  uat_run_record_clear(&r);
  assert_true(verify(l, NULL, 0, &err) == 2);
  uat_ledger_close(l);
}

static void test_runs_read_back(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  int64_t seq1, seq2, seq3;
  record_run_ok(l, "4.6.2", "abc123", false, T0, &seq1);
  record_run_ok(l, "4.6.2", "abc123", true, T0 + 60, &seq2);
  record_run_ok(l, NULL, NULL, false, T0 + 120, &seq3);
  assert_int_equal(seq1, 1);
  assert_int_equal(seq2, 2);
  assert_int_equal(seq3, 3);

  struct uat_run_record r;
  struct uat_error err = {{0}};
  assert_int_equal(uat_ledger_latest_run(l, "tasking-manager", "4.6.2", "abc123", &r, &err), 0);
  assert_true(r.found);
  assert_int_equal(r.seq, 2);
  assert_int_equal(r.time, T0 + 60);
  assert_false(r.passed);
  assert_string_equal(r.digest, "d1g3st");
  assert_string_equal(r.fingerprint, "f1ng3r");
  assert_string_equal(r.release, "4.6.2");
  assert_string_equal(r.commit, "abc123");
  assert_int_equal(r.npassed, 1);
  assert_int_equal(r.nfailed, 1);
  assert_int_equal(r.nfailed_ids, 1);
  assert_string_equal(r.failed_ids[0], "private-project");
  uat_run_record_clear(&r);

  /* unknown release and commit match rows stored without them, and only those */
  assert_int_equal(uat_ledger_latest_run(l, "tasking-manager", NULL, NULL, &r, &err), 0);
  assert_true(r.found);
  assert_int_equal(r.seq, 3);
  assert_true(r.passed);
  assert_null(r.release);
  assert_null(r.fingerprint);
  assert_int_equal(r.nfailed_ids, 0);
  uat_run_record_clear(&r);

  /* the file is a WAL-mode database that names itself */
  char text[64];
  raw_text(t->path, "PRAGMA journal_mode", text, sizeof text);
  assert_string_equal(text, "wal");
  raw_text(t->path, "PRAGMA application_id", text, sizeof text);
  assert_string_equal(text, "1969321074");
  raw_text(t->path, "SELECT value FROM meta WHERE key = 'application'", text, sizeof text);
  assert_string_equal(text, "uatrun-ledger");
  raw_text(t->path, "PRAGMA user_version", text, sizeof text);
  assert_string_equal(text, "1");

  const char *misses[][3] = {{"tasking-manager", "4.6.3", "abc123"},
                             {"tasking-manager", "4.6.2", "def456"},
                             {"other-playbook", "4.6.2", "abc123"},
                             {"tasking-manager", "4.6.2", NULL}};
  for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
    assert_int_equal(uat_ledger_latest_run(l, misses[i][0], misses[i][1], misses[i][2], &r, &err),
                     0);
    assert_false(r.found);
  }
  uat_ledger_close(l);
}

/* A commit named in another form than the runs of its release: shorter, longer, other case. */
static void test_run_commit_in_another_form(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  record_run_ok(l, "4.6.3", "4f2a9c1e7b3d00112233", false, T0, NULL);
  record_run_ok(l, "4.6.3", "0123456", false, T0 + 60, NULL);
  const struct {
    const char *release, *commit, *want; /* want NULL: no other form */
  } cases[] = {
      {"4.6.3", "4f2a9c1", "4f2a9c1e7b3d00112233"},                  /* short SHA */
      {"4.6.3", "4F2A9C1E7B3D00112233", "4f2a9c1e7b3d00112233"},     /* upper case */
      {"4.6.3", "4f2a9c1e7b3d0011223344ff", "4f2a9c1e7b3d00112233"}, /* longer */
      {"4.6.3", "01234567", "0123456"},        /* the run used the short one */
      {"4.6.3", "4f2a9c1e7b3d00112233", NULL}, /* the same form */
      {"4.6.3", "4f2a9c0", NULL},              /* another commit */
      {"4.6.3", "4f2a9c", NULL},               /* too short to tell */
      {"4.6.3", "4f2a9c1-dirty", NULL},        /* not a SHA */
      {"4.6.2", "4f2a9c1", NULL},              /* another release */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *other = (char *)"unset";
    struct uat_error err = {{0}};
    assert_int_equal(uat_ledger_run_commit_like(l, "tasking-manager", cases[i].release,
                                                cases[i].commit, &other, &err),
                     0);
    if (cases[i].want == NULL && other != NULL)
      fail_msg("case %zu (%s): got '%s', wanted none", i, cases[i].commit, other);
    if (cases[i].want)
      assert_string_equal(other, cases[i].want);
    free(other);
  }
  uat_ledger_close(l);
}

static void test_decisions_and_history(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  record_run_ok(l, "4.6.2", "abc123", false, T0, NULL);
  record_decision_ok(l, decision("4.6.2", "menu", "myriam", true, "looks right", T0 + 10), NULL);
  record_decision_ok(l, decision("4.6.3", "menu", "myriam", true, NULL, T0 + 20), NULL);
  record_decision_ok(l, decision("4.6.2", "menu", "karim", false, "l'écran a disparu", T0 + 30),
                     NULL);
  uat_ledger_close(l);

  l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_decision_list list;
  struct uat_error err = {{0}};
  assert_int_equal(uat_ledger_decisions(l, "tasking-manager", "4.6.2", "abc123", &list, &err), 0);
  assert_int_equal(list.count, 2);
  assert_int_equal(list.items[0].seq, 2);
  assert_string_equal(list.items[0].signer, "myriam");
  assert_true(list.items[0].approve);
  assert_string_equal(list.items[0].note, "looks right");
  assert_int_equal(list.items[0].time, T0 + 10);
  assert_int_equal(list.items[0].run_seq, 1);
  assert_string_equal(list.items[0].role, "support");
  assert_string_equal(list.items[0].item, "menu");
  assert_string_equal(list.items[0].digest, "d1g3st");
  assert_int_equal(list.items[1].seq, 4);
  assert_false(list.items[1].approve);
  assert_string_equal(list.items[1].note, "l'écran a disparu");
  uat_decision_list_free(&list);

  assert_int_equal(uat_ledger_decisions(l, "tasking-manager", "4.6.3", "abc123", &list, &err), 0);
  assert_int_equal(list.count, 1);
  assert_null(list.items[0].note);
  uat_decision_list_free(&list);

  struct uat_history h;
  assert_int_equal(uat_ledger_history(l, "tasking-manager", NULL, 0, &h, &err), 0);
  assert_int_equal(h.count, 4);
  int64_t want_seq[] = {4, 3, 2, 1};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(h.entries[i].seq, want_seq[i]);
  assert_true(h.entries[3].is_run);
  assert_true(h.entries[3].run.passed);
  assert_false(h.entries[0].is_run);
  assert_string_equal(h.entries[0].decision.signer, "karim");
  uat_history_free(&h);

  assert_int_equal(uat_ledger_history(l, "tasking-manager", "4.6.2", 0, &h, &err), 0);
  assert_int_equal(h.count, 3);
  assert_int_equal(h.entries[0].seq, 4);
  assert_int_equal(h.entries[2].seq, 1);
  uat_history_free(&h);

  assert_int_equal(uat_ledger_history(l, "tasking-manager", NULL, 2, &h, &err), 0);
  assert_int_equal(h.count, 2);
  assert_int_equal(h.entries[0].seq, 4);
  assert_int_equal(h.entries[1].seq, 3);
  uat_history_free(&h);

  /* a READ ledger refuses writes */
  struct uat_decision d = decision("4.6.2", "menu", "myriam", true, NULL, T0);
  char head[UAT_HASH_HEX];
  assert_int_equal(uat_ledger_record_decision(l, &d, head, &err), -1);
  assert_contains(err.text, t->path);
  uat_ledger_close(l);
}

static void test_decision_needs_every_field(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  struct uat_decision d = decision("4.6.2", "menu", NULL, true, NULL, T0);
  struct uat_error err = {{0}};
  char head[UAT_HASH_HEX];
  assert_int_equal(uat_ledger_record_decision(l, &d, head, &err), -1);
  assert_contains(err.text, "its signer is empty");
  d = decision("4.6.2", "menu", "bad\xff", true, NULL, T0);
  assert_int_equal(uat_ledger_record_decision(l, &d, head, &err), -1);
  assert_contains(err.text, "not valid UTF-8");
  verify(l, NULL, 0, &err);
  uat_ledger_close(l);
}

/* A person's decisions from one prompt are one transaction: all recorded, or none. */
static void test_decisions_recorded_all_or_none(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  struct uat_error err = {{0}};
  char head[UAT_HASH_HEX], verified[UAT_HASH_HEX];
  struct uat_decision batch[3] = {
      decision("1.0", "a", "myriam", true, "ok", T0),
      decision("1.0", "b", "myriam", false, "menu gone", T0),
      decision("1.0", "c", "myriam", true, NULL, T0),
  };
  assert_int_equal(uat_ledger_record_decisions(l, batch, 3, head, &err), 0);
  assert_int_equal(batch[0].seq, 1);
  assert_int_equal(batch[2].seq, 3);
  int64_t rows = 0;
  assert_int_equal(uat_ledger_verify(l, NULL, &rows, verified, &err), 0);
  assert_int_equal(rows, 3);
  assert_string_equal(head, verified);

  /* the second decision cannot be recorded: the first is not recorded either */
  struct uat_decision broken[2] = {
      decision("1.0", "d", "myriam", true, NULL, T0),
      decision("1.0", "e", "bad\xff", true, NULL, T0),
  };
  assert_int_equal(uat_ledger_record_decisions(l, broken, 2, head, &err), -1);
  assert_contains(err.text, "not valid UTF-8");
  assert_int_equal(uat_ledger_verify(l, NULL, &rows, head, &err), 0);
  assert_int_equal(rows, 3);
  assert_string_equal(head, verified);
  uat_ledger_close(l);
}

/* ---------- the chain ---------- */

static void test_chain_verifies_and_heads(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  struct uat_error err = {{0}};
  assert_int_equal(verify(l, NULL, 0, &err), 0);
  char first[UAT_HASH_HEX], last[UAT_HASH_HEX], head[UAT_HASH_HEX];
  record_decision_ok(l, decision("1.0", "a", "myriam", true, "n", T0), first);
  record_decision_ok(l, decision("1.0", "b", "myriam", true, "n", T0), NULL);
  record_decision_ok(l, decision("1.0", "c", "myriam", true, "n", T0), last);
  assert_string_not_equal(first, last);
  uat_ledger_close(l);

  l = open_ok(t->path, UAT_LEDGER_READ);
  int64_t rows = 0;
  assert_int_equal(uat_ledger_verify(l, NULL, &rows, head, &err), 0);
  assert_int_equal(rows, 3);
  assert_string_equal(head, last);
  /* an older head is fine: rows were added after it */
  assert_int_equal(verify(l, first, 0, &err), 3);
  assert_int_equal(verify(l, last, 0, &err), 3);
  /* a head never written, and text that is not a head */
  verify(l, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", -1, &err);
  assert_contains(err.text, "the head '0123456789ab…' recorded elsewhere is not in this ledger");
  assert_contains(err.text, t->path);
  verify(l, "abc", -1, &err);
  assert_contains(err.text, "'abc' is not a chain head");
  /* the genesis value stands before the first row of every chain: it proves nothing */
  verify(l, "0000000000000000000000000000000000000000000000000000000000000000", -1, &err);
  assert_contains(err.text, "'000000000000…' is not a chain head: 64 zeros stand before");
  uat_ledger_close(l);
}

struct tamper_case {
  const char *name;
  const char *sql;
  const char *expect[2];
};

static void test_tampering_detected(void **state) {
  struct tmp *t = *state;
  static const struct tamper_case cases[] = {
      {"edited note",
       "DROP TRIGGER entries_no_update;"
       "UPDATE entries SET payload = replace(payload, 'note 3', 'note 3 (forged)') WHERE seq = 3",
       {"row 3 (decision by 'signer3' at 2026-11-20 10:02 UTC): content does not match its "
        "hash — it was edited",
        NULL}},
      {"edited decision",
       "DROP TRIGGER entries_no_update; UPDATE entries SET approve = 0 WHERE seq = 2",
       {"row 2 (decision by 'signer2'", "it was edited"}},
      {"edited type",
       "DROP TRIGGER entries_no_update; UPDATE entries SET time = '2026-11-20' WHERE seq = 4",
       {"row 4 (decision", "it was edited"}},
      {"deleted row",
       "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 3",
       {"row 3 is missing (deleted)", NULL}},
      {"deleted rows",
       "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq BETWEEN 2 AND 4",
       {"rows 2..4 are missing (deleted)", NULL}},
      {"deleted first",
       "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq = 1",
       {"row 1 is missing (deleted)", NULL}},
      {"forged row, made-up hash",
       "INSERT INTO entries(seq, kind, time, playbook, payload, prev_hash, hash) SELECT 6, "
       "'decision', 1795168920, 'tasking-manager', '{}', hash, 'feedface' FROM entries WHERE seq = "
       "5",
       {"row 6 (decision by '?'", "it was edited"}},
      {"forged row from another chain",
       "ATTACH 'OTHER' AS other; INSERT INTO entries SELECT * FROM other.entries WHERE seq = 6",
       {"row 6 (decision by 'intruder'", "previous-hash link broken — a row before it was "
                                         "deleted or inserted"}},
  };
  char other[160];
  snprintf(other, sizeof other, "%s/other.db", t->dir);
  struct uat_ledger *l = open_ok(other, UAT_LEDGER_WRITE);
  for (int i = 1; i <= 6; i++)
    record_decision_ok(l, decision("1.0", "x", "intruder", true, "forged", T0), NULL);
  uat_ledger_close(l);

  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char path[160], sql[512], msg[256];
    snprintf(path, sizeof path, "%s/tamper-%zu.db", t->dir, c);
    l = open_ok(path, UAT_LEDGER_WRITE);
    for (int i = 1; i <= 5; i++) {
      char signer[16], note[16];
      snprintf(signer, sizeof signer, "signer%d", i);
      snprintf(note, sizeof note, "note %d", i);
      record_decision_ok(l, decision("1.0", "menu", signer, true, note, T0), NULL);
    }
    uat_ledger_close(l);
    const char *at = strstr(cases[c].sql, "OTHER");
    if (at)
      snprintf(sql, sizeof sql, "%.*s%s%s", (int)(at - cases[c].sql), cases[c].sql, other, at + 5);
    else
      snprintf(sql, sizeof sql, "%s", cases[c].sql);
    if (raw_exec(path, sql, msg, sizeof msg) != SQLITE_OK)
      fail_msg("%s: tampering failed: %s", cases[c].name, msg);

    l = open_ok(path, UAT_LEDGER_READ);
    struct uat_error err = {{0}};
    verify(l, NULL, -1, &err);
    for (size_t k = 0; k < 2 && cases[c].expect[k]; k++)
      assert_contains(err.text, cases[c].expect[k]);
    assert_contains(err.text, path);
    uat_ledger_close(l);
  }
}

static void test_cut_off_head_detected(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  char head[UAT_HASH_HEX];
  for (int i = 0; i < 5; i++)
    record_decision_ok(l, decision("1.0", "menu", "myriam", true, "ok", T0 + i), head);
  uat_ledger_close(l);
  char msg[256];
  assert_int_equal(raw_exec(t->path,
                            "DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE seq >= 4",
                            msg, sizeof msg),
                   SQLITE_OK);
  l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_error err = {{0}};
  assert_int_equal(verify(l, NULL, 0, &err), 3); /* a chain alone cannot tell */
  verify(l, head, -1, &err);
  assert_contains(err.text, "recorded elsewhere is not in this ledger: newer rows were cut off");
  assert_contains(err.text, t->path);
  uat_ledger_close(l);
}

static void test_update_and_delete_refused(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  record_decision_ok(l, decision("1.0", "menu", "myriam", true, "ok", T0), NULL);
  uat_ledger_close(l);
  const char *sqls[] = {"UPDATE entries SET signer = 'mallory'", "DELETE FROM entries",
                        "INSERT OR REPLACE INTO entries SELECT * FROM entries"};
  for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
    char msg[256];
    assert_int_not_equal(raw_exec(t->path, sqls[i], msg, sizeof msg), SQLITE_OK);
    assert_contains(msg, "the uatrun ledger is append-only");
  }
  l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_error err = {{0}};
  assert_int_equal(verify(l, NULL, 0, &err), 1);
  uat_ledger_close(l);
}

/* ---------- files that are not a ledger ---------- */

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void make_text(const char *path) {
  const char text[] = "release: 4.6.2\nthis is not a database\n";
  write_file(path, text, sizeof text - 1);
}

static void make_random(const char *path) {
  unsigned char buf[8192];
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < sizeof buf; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (unsigned char)x;
  }
  write_file(path, buf, sizeof buf);
}

static void make_other_db(const char *path) {
  assert_int_equal(
      raw_exec(path, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('hi')", NULL, 0),
      SQLITE_OK);
}

static void make_future(const char *path) {
  struct uat_ledger *l = open_ok(path, UAT_LEDGER_WRITE);
  record_decision_ok(l, decision("1.0", "menu", "myriam", true, "ok", T0), NULL);
  uat_ledger_close(l);
  assert_int_equal(raw_exec(path, "PRAGMA user_version = 99", NULL, 0), SQLITE_OK);
}

static void make_corrupt(const char *path) {
  struct uat_ledger *l = open_ok(path, UAT_LEDGER_WRITE);
  for (int i = 0; i < 50; i++)
    record_decision_ok(
        l, decision("1.0", "menu", "myriam", true, "a longer note to fill pages", T0), NULL);
  uat_ledger_close(l);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, 4096, SEEK_SET), 0);
  char junk[8192];
  memset(junk, 0x5a, sizeof junk);
  assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
  assert_int_equal(fclose(f), 0);
}

struct bad_file {
  const char *name;
  void (*make)(const char *path);
  const char *expect; /* in the message, after the path */
  bool opens;         /* the damage shows only when the chain is read (verify) */
};

static void test_bad_files_refused_untouched(void **state) {
  struct tmp *t = *state;
  static const struct bad_file cases[] = {
      {"notes.txt", make_text, "is not a SQLite database", false},
      {"random.bin", make_random, "is not a SQLite database", false},
      {"other.db", make_other_db, "is a SQLite database but not a uatrun ledger", false},
      {"future.db", make_future, "was written by a newer uatrun (schema 99", false},
      {"corrupt.db", make_corrupt, "is corrupt", true},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char path[160], before[UAT_DIGEST_HEX], after[UAT_DIGEST_HEX];
    snprintf(path, sizeof path, "%s/%s", t->dir, cases[c].name);
    cases[c].make(path);
    checksum(path, before);
    enum uat_ledger_mode modes[] = {UAT_LEDGER_READ, UAT_LEDGER_WRITE};
    for (size_t m = 0; m < 2; m++) {
      struct uat_ledger *l = NULL;
      struct uat_error err = {{0}};
      int rc = uat_ledger_open(path, modes[m], &l, &err);
      if (cases[c].opens && rc == 0) {
        int64_t rows;
        char head[UAT_HASH_HEX];
        rc = uat_ledger_verify(l, NULL, &rows, head, &err);
        uat_ledger_close(l);
      } else {
        assert_null(l);
      }
      if (rc != -1)
        fail_msg("%s (mode %zu) was accepted", cases[c].name, m);
      assert_contains(err.text, path);
      assert_contains(err.text, cases[c].expect);
      checksum(path, after);
      if (strcmp(before, after) != 0)
        fail_msg("%s (mode %zu) was modified", cases[c].name, m);
    }
  }
}

static void test_unusable_paths(void **state) {
  struct tmp *t = *state;
  struct {
    const char *path;
    enum uat_ledger_mode mode;
    const char *expect;
  } cases[] = {
      {"/etc/passwd/ledger.db", UAT_LEDGER_WRITE,
       "cannot write the ledger '/etc/passwd/ledger.db': '/etc/passwd' is not a folder"},
      {"/etc/passwd/ledger.db", UAT_LEDGER_READ, "cannot read the ledger '/etc/passwd/ledger.db'"},
      {"/proc/uatrun-ledger.db", UAT_LEDGER_WRITE,
       "cannot write the ledger '/proc/uatrun-ledger.db'"},
      {"/proc/self", UAT_LEDGER_WRITE, "the ledger '/proc/self' is not a regular file"},
      {"", UAT_LEDGER_READ, "no ledger path given"},
      {NULL, UAT_LEDGER_READ, "no ledger at '"},
  };
  char missing[160];
  snprintf(missing, sizeof missing, "%s/nowhere/ledger.db", t->dir);
  cases[5].path = missing;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    struct uat_ledger *l = NULL;
    struct uat_error err = {{0}};
    assert_int_equal(uat_ledger_open(cases[c].path, cases[c].mode, &l, &err), -1);
    assert_null(l);
    assert_contains(err.text, cases[c].expect);
  }
  assert_false(uat_path_is_dir(missing)); /* READ created nothing */
}

static void test_empty_file(void **state) {
  struct tmp *t = *state;
  char path[160];
  snprintf(path, sizeof path, "%s/empty.db", t->dir);
  write_file(path, "", 0);
  struct uat_ledger *l = NULL;
  struct uat_error err = {{0}};
  assert_int_equal(uat_ledger_open(path, UAT_LEDGER_READ, &l, &err), -1);
  assert_contains(err.text, "is empty: nothing was recorded yet");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 0);
  /* a writer may initialise it */
  l = open_ok(path, UAT_LEDGER_WRITE);
  record_decision_ok(l, decision("1.0", "menu", "myriam", true, "ok", T0), NULL);
  uat_ledger_close(l);
  l = open_ok(path, UAT_LEDGER_READ);
  assert_int_equal(verify(l, NULL, 0, &err), 1);
  uat_ledger_close(l);
}

/* ---------- concurrency and crashes ---------- */

static void child_records(const char *path, int child, int count, int ready_fd) {
  struct uat_ledger *l = NULL;
  struct uat_error err;
  if (uat_ledger_open(path, UAT_LEDGER_WRITE, &l, &err) != 0) {
    fprintf(stderr, "child %d: %s\n", child, err.text);
    _exit(2);
  }
  for (int i = 0; count == 0 || i < count; i++) {
    char signer[32], note[64];
    snprintf(signer, sizeof signer, "signer-%d", child);
    snprintf(note, sizeof note, "decision %d of child %d", i, child);
    struct uat_decision d = decision("1.0", "menu", signer, i % 2 == 0, note, T0 + i);
    char head[UAT_HASH_HEX];
    if (uat_ledger_record_decision(l, &d, head, &err) != 0) {
      fprintf(stderr, "child %d: %s\n", child, err.text);
      _exit(3);
    }
    if (i == 0 && ready_fd >= 0 && write(ready_fd, "x", 1) != 1)
      _exit(4);
  }
  uat_ledger_close(l);
  _exit(0);
}

static void test_concurrent_writers(void **state) {
  struct tmp *t = *state;
  double start = now_s();
  pid_t pids[CHILDREN];
  for (int c = 0; c < CHILDREN; c++) {
    pids[c] = fork();
    assert_true(pids[c] >= 0);
    if (pids[c] == 0)
      child_records(t->path, c, PER_CHILD, -1);
  }
  for (int c = 0; c < CHILDREN; c++) {
    int status;
    assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  double elapsed = now_s() - start;
  print_message("      %d writers x %d decisions: %.2f s, %.0f rows/s\n", CHILDREN, PER_CHILD,
                elapsed, CHILDREN * PER_CHILD / elapsed);

  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_error err = {{0}};
  assert_int_equal(verify(l, NULL, 0, &err), CHILDREN * PER_CHILD);
  struct uat_decision_list list;
  assert_int_equal(uat_ledger_decisions(l, "tasking-manager", "1.0", "abc123", &list, &err), 0);
  assert_int_equal(list.count, CHILDREN * PER_CHILD);
  /* each child's decisions keep their order */
  int next[CHILDREN] = {0};
  for (size_t i = 0; i < list.count; i++) {
    int child = -1, n = -1;
    assert_int_equal(sscanf(list.items[i].note, "decision %d of child %d", &n, &child), 2);
    assert_true(child >= 0 && child < CHILDREN);
    assert_int_equal(n, next[child]);
    next[child]++;
    assert_int_equal(list.items[i].seq, (int64_t)i + 1);
  }
  uat_decision_list_free(&list);
  uat_ledger_close(l);
}

static void test_killed_writer_leaves_whole_rows(void **state) {
  struct tmp *t = *state;
  const int delays_ms[] = {1, 30, 100};
  for (size_t k = 0; k < sizeof delays_ms / sizeof delays_ms[0]; k++) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      child_records(t->path, (int)k, 0, fds[1]);
    }
    close(fds[1]);
    char byte;
    assert_int_equal(read(fds[0], &byte, 1), 1); /* the child has written at least one row */
    close(fds[0]);
    usleep((useconds_t)delays_ms[k] * 1000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_READ);
    struct uat_error err = {{0}};
    int64_t rows = verify(l, NULL, 0, &err);
    struct uat_decision_list list;
    assert_int_equal(uat_ledger_decisions(l, "tasking-manager", "1.0", "abc123", &list, &err), 0);
    assert_int_equal((int64_t)list.count, rows);
    assert_true(list.count > 0);
    for (size_t i = 0; i < list.count; i++) {
      struct uat_decision *d = &list.items[i];
      assert_non_null(d->signer);
      assert_non_null(d->digest);
      assert_non_null(d->role);
      assert_non_null(d->item);
      assert_non_null(d->note);
      assert_string_equal(d->playbook, "tasking-manager");
      assert_true(strstr(d->note, " of child ") || strcmp(d->note, "after the kill") == 0);
    }
    uat_decision_list_free(&list);
    uat_ledger_close(l);
    /* and a writer can carry on after the crash */
    l = open_ok(t->path, UAT_LEDGER_WRITE);
    record_decision_ok(l, decision("1.0", "menu", "after", true, "after the kill", T0), NULL);
    assert_int_equal(verify(l, NULL, 0, &err), rows + 1);
    uat_ledger_close(l);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_run_build_read_back, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_runs_read_back, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_run_commit_in_another_form, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_decisions_and_history, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_decision_needs_every_field, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_decisions_recorded_all_or_none, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_chain_verifies_and_heads, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_tampering_detected, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_cut_off_head_detected, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_update_and_delete_refused, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_bad_files_refused_untouched, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_unusable_paths, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_empty_file, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_concurrent_writers, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_killed_writer_leaves_whole_rows, setup_tmp,
                                      teardown_tmp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
