/* The ledger: records read back, the hash chain catching edits, deletions, insertions and
 * cut-off heads, concurrent writers, a writer killed mid-write, and files that are not ours.
 * Every test of the public interface runs twice: on a SQLite file and on a real PostgreSQL
 * database (a fresh one per test in the cluster tests/support/pg_cluster.sh started, its URL
 * in UATRUN_TEST_PG_URL). PostgreSQL's own guards (roles, grants, triggers) are tested too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>

#include "ledger/digest.h"
#include "util/fsutil.h"
#include "ledger/ledger.h"
#include "ledger/ledger_rows.h"

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
  char path[512]; /* the ledger: a SQLite file, or the URL of this test's database */
  bool pg;
  char db[64];     /* pg: this test's database */
  char admin[512]; /* pg: the owner's URL of the cluster's first database */
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

/* Runs SQL on a PostgreSQL database as the given URL's user; the error text in msg. */
static bool pg_run(const char *url, const char *sql, char *msg, size_t size) {
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK)
    fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
  PGresult *res = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(res);
  bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (msg)
    snprintf(msg, size, "%s", ok ? "" : PQresultErrorMessage(res));
  PQclear(res);
  PQfinish(c);
  return ok;
}

/* url with its user replaced (the test cluster's URLs name uatrun_owner). */
static void url_as(const struct tmp *t, const char *user, char *out, size_t size) {
  const char *at = strstr(t->path, "uatrun_owner@");
  assert_non_null(at);
  snprintf(out, size, "%.*s%s%s", (int)(at - t->path), t->path, user, at + strlen("uatrun_owner"));
}

/* A fresh database with a uatrun ledger in it, and login users for the concurrent signers
 * (signer-0..7) and a CI runner. Roles belong to the whole cluster: made once. */
static int setup_pg(void **state) {
  setup_tmp(state);
  struct tmp *t = *state;
  const char *url = getenv("UATRUN_TEST_PG_URL");
  if (!url || !*url)
    fail_msg("UATRUN_TEST_PG_URL is not set: run this test through tests/support/pg_cluster.sh "
             "exec (ctest does)");
  t->pg = true;
  snprintf(t->admin, sizeof t->admin, "%s", url);
  static int n;
  snprintf(t->db, sizeof t->db, "ledger_%d_%d", (int)getpid(), n++);
  char sql[256];
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->db);
  char msg[512];
  if (!pg_run(url, sql, msg, sizeof msg))
    fail_msg("%s", msg);
  const char *slash = strstr(url, "@/uat?");
  assert_non_null(slash);
  snprintf(t->path, sizeof t->path, "%.*s@/%s%s", (int)(slash - url), url, t->db, slash + 5);
  struct uat_error err = {{0}};
  if (uat_ledger_init(t->path, "uatrun_ci", "uatrun_signer", &err) != 0)
    fail_msg("ledger init: %s", err.text);
  pg_run(url,
         "DO $$ BEGIN FOR i IN 0..8 LOOP IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
         "'signer-' || i) THEN EXECUTE format('CREATE ROLE %I LOGIN IN ROLE uatrun_signer', "
         "'signer-' || i); END IF; END LOOP; IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname "
         "= 'ci-runner') THEN CREATE ROLE \"ci-runner\" LOGIN PASSWORD 'ci-s3cret-pw' IN ROLE "
         "uatrun_ci; END IF; END $$",
         msg, sizeof msg);
  return 0;
}

static int teardown_tmp(void **state) {
  struct tmp *t = *state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
  assert_int_equal(system(cmd), 0);
  if (t->pg) {
    char sql[128], msg[256];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", t->db);
    if (!pg_run(t->admin, sql, msg, sizeof msg))
      fail_msg("%s", msg);
  }
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
  if (t->pg)
    goto misses;
  raw_text(t->path, "PRAGMA journal_mode", text, sizeof text);
  assert_string_equal(text, "wal");
  raw_text(t->path, "PRAGMA application_id", text, sizeof text);
  assert_string_equal(text, "1969321074");
  raw_text(t->path, "SELECT value FROM meta WHERE key = 'application'", text, sizeof text);
  assert_string_equal(text, "uatrun-ledger");
  raw_text(t->path, "PRAGMA user_version", text, sizeof text);
  assert_string_equal(text, "1");

misses:;
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

/* Each child signs as its own person: on PostgreSQL, its own database user. */
static void child_records(const struct tmp *t, int child, int count, int ready_fd) {
  struct uat_ledger *l = NULL;
  struct uat_error err;
  char path[600], user[32];
  snprintf(user, sizeof user, "signer-%d", child);
  if (t->pg)
    url_as(t, user, path, sizeof path);
  else
    snprintf(path, sizeof path, "%s", t->path);
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

/* 8 writers of 200 decisions each, and a ninth killed (SIGKILL) while they all write: the
 * 1600 are all there, in each writer's order, the victim's rows whole, the chain intact. */
static void test_concurrent_writers(void **state) {
  struct tmp *t = *state;
  double start = now_s();
  pid_t pids[CHILDREN];
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t victim = fork();
  assert_true(victim >= 0);
  if (victim == 0) {
    close(fds[0]);
    child_records(t, CHILDREN, 0, fds[1]);
  }
  close(fds[1]);
  char byte;
  assert_int_equal(read(fds[0], &byte, 1), 1); /* the victim has written a row */
  close(fds[0]);
  for (int c = 0; c < CHILDREN; c++) {
    pids[c] = fork();
    assert_true(pids[c] >= 0);
    if (pids[c] == 0)
      child_records(t, c, PER_CHILD, -1);
  }
  /* killed while the others write: wait until the chain has grown past its first rows */
  struct uat_ledger *watch = open_ok(t->path, UAT_LEDGER_READ);
  for (;;) {
    struct uat_history h;
    struct uat_error werr = {{0}};
    assert_int_equal(uat_ledger_history(watch, "tasking-manager", NULL, 1, &h, &werr), 0);
    bool grown = h.count == 1 && h.entries[0].seq > 50;
    uat_history_free(&h);
    if (grown)
      break;
    usleep(2000);
  }
  uat_ledger_close(watch);
  assert_int_equal(kill(victim, SIGKILL), 0);
  int vstatus;
  assert_int_equal(waitpid(victim, &vstatus, 0), victim);
  assert_true(WIFSIGNALED(vstatus));
  for (int c = 0; c < CHILDREN; c++) {
    int status;
    assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  double elapsed = now_s() - start;
  print_message("      %s: %d writers x %d decisions: %.2f s, %.0f rows/s\n",
                t->pg ? "PostgreSQL" : "SQLite", CHILDREN, PER_CHILD, elapsed,
                CHILDREN * PER_CHILD / elapsed);

  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_error err = {{0}};
  int64_t rows = verify(l, NULL, 0, &err);
  struct uat_decision_list list;
  assert_int_equal(uat_ledger_decisions(l, "tasking-manager", "1.0", "abc123", &list, &err), 0);
  assert_int_equal((int64_t)list.count, rows);
  /* each child's decisions keep their order; none of the 8 lost one */
  int next[CHILDREN + 1] = {0};
  for (size_t i = 0; i < list.count; i++) {
    int child = -1, n = -1;
    assert_int_equal(sscanf(list.items[i].note, "decision %d of child %d", &n, &child), 2);
    assert_true(child >= 0 && child <= CHILDREN);
    assert_int_equal(n, next[child]);
    next[child]++;
    assert_int_equal(list.items[i].seq, (int64_t)i + 1);
  }
  for (int c = 0; c < CHILDREN; c++)
    assert_int_equal(next[c], PER_CHILD);
  assert_true(next[CHILDREN] > 0);
  assert_int_equal(rows, CHILDREN * PER_CHILD + next[CHILDREN]);
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
      child_records(t, (int)k, 0, fds[1]);
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

/* ---------- PostgreSQL: who may write what ---------- */

static struct uat_ledger *open_as(const struct tmp *t, const char *user,
                                  enum uat_ledger_mode mode) {
  char url[600];
  url_as(t, user, url, sizeof url);
  return open_ok(url, mode);
}

/* The CI role records runs, never decisions; a signer records decisions as themselves only;
 * nobody updates, deletes or truncates, the owner included (triggers). */
static void test_pg_roles_and_grants(void **state) {
  struct tmp *t = *state;
  struct uat_error err = {{0}};
  char head[UAT_HASH_HEX], url[600], msg[512];

  struct uat_ledger *ci = open_as(t, "ci-runner", UAT_LEDGER_WRITE);
  record_run_ok(ci, "4.6.2", "abc123", false, T0, NULL);
  struct uat_decision d = decision("4.6.2", "menu", "ci-runner", true, NULL, T0);
  assert_int_equal(uat_ledger_record_decision(ci, &d, head, &err), -1);
  assert_contains(err.text, "writing a row was refused");
  assert_contains(err.text, "row-level security");
  char *who = NULL;
  assert_int_equal(uat_ledger_identity(ci, &who, &err), 0);
  assert_string_equal(who, "ci-runner");
  free(who);
  uat_ledger_close(ci);

  struct uat_ledger *s0 = open_as(t, "signer-0", UAT_LEDGER_WRITE);
  d = decision("4.6.2", "menu", "signer-0", true, "mine", T0);
  record_decision_ok(s0, d, NULL);
  /* signing as somebody else: refused by the policy (and the trigger behind it) */
  d = decision("4.6.2", "menu", "signer-1", true, "forged", T0);
  assert_int_equal(uat_ledger_record_decision(s0, &d, head, &err), -1);
  assert_contains(err.text, "was refused");
  /* a signer cannot record runs */
  struct uat_run_result run = {.playbook_name = (char *)"tasking-manager", .release = (char *)"x"};
  int64_t seq;
  assert_int_equal(uat_ledger_record_run(s0, &run, "0.1.0", &seq, head, &err), -1);
  assert_contains(err.text, "was refused");
  uat_ledger_close(s0);

  const char *changes[] = {"UPDATE uatrun.entries SET approve = 0",
                           "DELETE FROM uatrun.entries",
                           "TRUNCATE uatrun.entries",
                           "UPDATE uatrun.meta SET value = 'x'",
                           "UPDATE uatrun.meta SET value = '0' WHERE key = 'schema_version'",
                           "DELETE FROM uatrun.meta WHERE key = 'application'"};
  const char *users[] = {"signer-0", "ci-runner", "uatrun_owner"};
  for (size_t u = 0; u < 3; u++)
    for (size_t c = 0; c < sizeof changes / sizeof changes[0]; c++) {
      url_as(t, users[u], url, sizeof url);
      if (pg_run(url, changes[c], msg, sizeof msg))
        fail_msg("%s could run '%s'", users[u], changes[c]);
      if (!strstr(msg, "permission denied") && !strstr(msg, "append-only"))
        fail_msg("%s: '%s' failed for another reason: %s", users[u], changes[c], msg);
    }
  /* a hand-written row that does not extend the chain is refused, even from the owner */
  assert_false(pg_run(t->path,
                      "INSERT INTO uatrun.entries(seq, kind, time, playbook, payload, prev_hash, "
                      "hash) VALUES (9, 'run', 0, 'p', '{}', 'x', 'y')",
                      msg, sizeof msg));
  assert_contains(msg, "does not extend the chain");

  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_READ);
  assert_int_equal(verify(l, NULL, 0, &err), 2);
  uat_ledger_close(l);
}

/* The owner can switch the triggers off: the chain still tells. */
static void test_pg_tampering_detected(void **state) {
  struct tmp *t = *state;
  struct uat_ledger *l = open_ok(t->path, UAT_LEDGER_WRITE);
  char head[UAT_HASH_HEX];
  for (int i = 1; i <= 5; i++)
    record_decision_ok(l, decision("1.0", "menu", "myriam", true, "ok", T0 + i), head);
  uat_ledger_close(l);
  char msg[512];
  if (!pg_run(t->path,
              "ALTER TABLE uatrun.entries DISABLE TRIGGER USER;"
              "UPDATE uatrun.entries SET approve = 0 WHERE seq = 2;"
              "DELETE FROM uatrun.entries WHERE seq = 5;"
              "ALTER TABLE uatrun.entries ENABLE TRIGGER USER",
              msg, sizeof msg))
    fail_msg("%s", msg);
  l = open_ok(t->path, UAT_LEDGER_READ);
  struct uat_error err = {{0}};
  verify(l, NULL, -1, &err);
  assert_contains(err.text, "row 2 (decision by 'myriam'");
  assert_contains(err.text, "it was edited");
  verify(l, head, -1, &err);
  uat_ledger_close(l);
}

/* A password in the URL never shows: not in the shown name, not in a connection error. */
static void test_pg_password_redacted(void **state) {
  struct tmp *t = *state;
  const char *port = getenv("UATRUN_TEST_PG_PORT");
  assert_non_null(port);
  char url[256];
  snprintf(url, sizeof url, "postgresql://ci-runner:wrong-pw-Zq81@127.0.0.1:%s/%s", port, t->db);
  char *shown = uat_ledger_shown_name(url);
  assert_non_null(shown);
  assert_null(strstr(shown, "wrong-pw-Zq81"));
  assert_contains(shown, "ci-runner:***@127.0.0.1");
  free(shown);
  struct uat_ledger *l = NULL;
  struct uat_error err = {{0}};
  assert_int_equal(uat_ledger_open(url, UAT_LEDGER_READ, &l, &err), -1);
  assert_null(strstr(err.text, "wrong-pw-Zq81"));
  assert_contains(err.text, "password authentication failed");
  /* the right one, over TCP with scram */
  snprintf(url, sizeof url, "postgresql://ci-runner:ci-s3cret-pw@127.0.0.1:%s/%s", port, t->db);
  l = open_ok(url, UAT_LEDGER_READ);
  uat_ledger_close(l);
  /* and from ~/.pgpass (libpq's PGPASSFILE), the URL carrying no password */
  char pgpass[160];
  snprintf(pgpass, sizeof pgpass, "%s/pgpass", t->dir);
  FILE *f = fopen(pgpass, "w");
  assert_non_null(f);
  fprintf(f, "127.0.0.1:%s:*:ci-runner:ci-s3cret-pw\n", port);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(pgpass, 0600), 0);
  setenv("PGPASSFILE", pgpass, 1);
  snprintf(url, sizeof url, "postgresql://ci-runner@127.0.0.1:%s/%s", port, t->db);
  l = open_ok(url, UAT_LEDGER_READ);
  uat_ledger_close(l);
  unsetenv("PGPASSFILE");
}

/* SQLite -> PostgreSQL -> SQLite: the same rows, numbers and head; a copy into a ledger
 * that holds rows is refused. */
static void test_copy_between_backends(void **state) {
  struct tmp *t = *state;
  char file[160], back[160];
  snprintf(file, sizeof file, "%s/from.db", t->dir);
  snprintf(back, sizeof back, "%s/back.db", t->dir);
  struct uat_ledger *l = open_ok(file, UAT_LEDGER_WRITE);
  record_run_ok(l, "4.6.2", "abc123", false, T0, NULL);
  record_decision_ok(l, decision("4.6.2", "menu", "myriam", true, "l'écran est là", T0 + 5), NULL);
  record_run_ok(l, NULL, NULL, true, T0 + 9, NULL);
  char head[UAT_HASH_HEX], copied[UAT_HASH_HEX], again[UAT_HASH_HEX];
  record_decision_ok(l, decision("4.6.2", "menu", "karim", false, "no", T0 + 10), head);
  uat_ledger_close(l);

  struct uat_error err = {{0}};
  struct uat_ledger *from = open_ok(file, UAT_LEDGER_READ);
  struct uat_ledger *to = open_ok(t->path, UAT_LEDGER_WRITE);
  int64_t rows = 0;
  if (uat_ledger_copy(from, to, &rows, copied, &err) != 0)
    fail_msg("copy: %s", err.text);
  assert_int_equal(rows, 4);
  assert_string_equal(copied, head);
  /* again: the target is not empty any more */
  assert_int_equal(uat_ledger_copy(from, to, &rows, copied, &err), -1);
  assert_contains(err.text, "already holds 4 rows");
  uat_ledger_close(to);
  uat_ledger_close(from);

  from = open_ok(t->path, UAT_LEDGER_READ);
  to = open_ok(back, UAT_LEDGER_WRITE);
  assert_int_equal(uat_ledger_copy(from, to, &rows, again, &err), 0);
  assert_string_equal(again, head);
  struct uat_decision_list a, b;
  assert_int_equal(uat_ledger_decisions(from, "tasking-manager", "4.6.2", "abc123", &a, &err), 0);
  assert_int_equal(uat_ledger_decisions(to, "tasking-manager", "4.6.2", "abc123", &b, &err), 0);
  assert_int_equal(a.count, 2);
  assert_int_equal(b.count, 2);
  assert_string_equal(a.items[0].note, b.items[0].note);
  assert_int_equal(a.items[1].seq, 4);
  uat_decision_list_free(&a);
  uat_decision_list_free(&b);
  uat_ledger_close(to);
  uat_ledger_close(from);
}

/* ---------- the canonical row, a pure function ---------- */

static void test_canonical_row(void **state) {
  json_t *row = json_pack("{s:I, s:s, s:I, s:s, s:s}", "seq", (json_int_t)1, "kind", "run", "time",
                          (json_int_t)T0, "playbook", "p", "payload", "{\"a\":1}");
  char *c = uat_ledger_canonical_row(row);
  assert_string_equal(c, "{\"approve\":null,\"commit\":null,\"digest\":null,\"item\":null,"
                         "\"kind\":\"run\",\"passed\":null,\"payload\":\"{\\\"a\\\":1}\","
                         "\"playbook\":\"p\",\"release\":null,\"role\":null,\"seq\":1,"
                         "\"signer\":null,\"time\":1795168920}");
  free(c);
  char h1[UAT_LEDGER_HASH_HEX], h2[UAT_LEDGER_HASH_HEX];
  assert_int_equal(uat_ledger_canonical_hash(UAT_LEDGER_GENESIS, row, h1), 0);
  json_object_set_new(row, "time", json_string("1795168920")); /* a changed type */
  assert_int_equal(uat_ledger_canonical_hash(UAT_LEDGER_GENESIS, row, h2), 0);
  assert_string_not_equal(h1, h2);
  json_object_set_new(row, "extra", json_true()); /* not a hashed field */
  assert_null(uat_ledger_canonical_row(row));
  json_decref(row);
  assert_null(uat_ledger_canonical_row(NULL));
  struct uat_decision d = decision("1.0", "menu", "myriam", true, NULL, T0);
  char *bytes = uat_ledger_canonical_decision(&d);
  assert_string_equal(bytes, "{\"approve\":1,\"commit\":\"abc123\",\"digest\":\"d1g3st\","
                             "\"item\":\"menu\",\"kind\":\"decision\",\"note\":null,"
                             "\"playbook\":\"tasking-manager\",\"release\":\"1.0\","
                             "\"role\":\"support\",\"run_seq\":1,\"signer\":\"myriam\","
                             "\"time\":1795168920}");
  free(bytes);
}

/* The tests of the public interface, on either backend. */
#define BACKEND_TESTS(setup)                                                                       \
  cmocka_unit_test_setup_teardown(test_run_build_read_back, setup, teardown_tmp),                  \
      cmocka_unit_test_setup_teardown(test_runs_read_back, setup, teardown_tmp),                   \
      cmocka_unit_test_setup_teardown(test_run_commit_in_another_form, setup, teardown_tmp),       \
      cmocka_unit_test_setup_teardown(test_decisions_and_history, setup, teardown_tmp),            \
      cmocka_unit_test_setup_teardown(test_decision_needs_every_field, setup, teardown_tmp),       \
      cmocka_unit_test_setup_teardown(test_decisions_recorded_all_or_none, setup, teardown_tmp),   \
      cmocka_unit_test_setup_teardown(test_chain_verifies_and_heads, setup, teardown_tmp),         \
      cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown_tmp),               \
      cmocka_unit_test_setup_teardown(test_killed_writer_leaves_whole_rows, setup, teardown_tmp)

int main(void) {
  const struct CMUnitTest sqlite_tests[] = {
      BACKEND_TESTS(setup_tmp),
      cmocka_unit_test_setup_teardown(test_tampering_detected, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_cut_off_head_detected, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_update_and_delete_refused, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_bad_files_refused_untouched, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_unusable_paths, setup_tmp, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_empty_file, setup_tmp, teardown_tmp),
      cmocka_unit_test(test_canonical_row),
  };
  const struct CMUnitTest pg_tests[] = {
      BACKEND_TESTS(setup_pg),
      cmocka_unit_test_setup_teardown(test_pg_roles_and_grants, setup_pg, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_pg_tampering_detected, setup_pg, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_pg_password_redacted, setup_pg, teardown_tmp),
      cmocka_unit_test_setup_teardown(test_copy_between_backends, setup_pg, teardown_tmp),
  };
  int failed = cmocka_run_group_tests_name("ledger on SQLite", sqlite_tests, NULL, NULL);
  return failed + cmocka_run_group_tests_name("ledger on PostgreSQL", pg_tests, NULL, NULL);
}
