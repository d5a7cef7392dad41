/* The ledger: one SQLite file in WAL mode holding one hash-chained table of
 * runs and decisions. Each row's hash is SHA-256 over the previous row's hash,
 * a newline, and the row's canonical content: a compact JSON object with sorted
 * keys (jansson JSON_COMPACT | JSON_SORT_KEYS) of every stored column but the
 * two hashes, NULL columns as null, the payload as the exact stored string.
 * Rows are only appended (triggers refuse UPDATE and DELETE); the schema grows
 * through the migrations[] table, one transaction per step. */
#include "ledger/ledger.h"

#include "ledger/digest.h"
#include "util/strbuf.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEDGER_APP_ID 1969321074 /* 0x75617472, "uatr": PRAGMA application_id */
#define STR(x) #x
#define XSTR(x) STR(x)
#define LEDGER_APP_NAME "uatrun-ledger"
#define GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define BUSY_TIMEOUT_MS 30000
#define LOCK_DEADLINE_S 120

struct uat_ledger {
  sqlite3 *db;
  char *path;
};

/* Schema steps: migrations[i] brings a ledger from version i to i + 1 and runs in the same
 * transaction as the user_version bump, so a ledger is always wholly at one version. */
static const char *const migrations[] = {
    /* 1: the chain table, its append-only guards and the identity row. */
    "PRAGMA application_id = " XSTR(
        LEDGER_APP_ID) ";"
                       "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                       "INSERT INTO meta(key, value) VALUES ('application', '" LEDGER_APP_NAME "');"
                       "CREATE TABLE entries("
                       "  seq INTEGER PRIMARY KEY,"
                       "  kind TEXT NOT NULL CHECK (kind IN ('run', 'decision')),"
                       "  time INTEGER NOT NULL,"
                       "  playbook TEXT NOT NULL,"
                       "  digest TEXT, release TEXT, commit_sha TEXT,"
                       "  role TEXT, item TEXT, signer TEXT,"
                       "  approve INTEGER, passed INTEGER,"
                       "  payload TEXT NOT NULL,"
                       "  prev_hash TEXT NOT NULL,"
                       "  hash TEXT NOT NULL UNIQUE);"
                       "CREATE INDEX entries_lookup ON entries(playbook, kind, release, "
                       "commit_sha, seq);"
                       "CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries"
                       "  BEGIN SELECT RAISE(ABORT, 'the uatrun ledger is append-only'); END;"
                       "CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries"
                       "  BEGIN SELECT RAISE(ABORT, 'the uatrun ledger is append-only'); END;"
                       /* INSERT OR REPLACE deletes without firing DELETE triggers: refuse it before
                          it can. */
                       "CREATE TRIGGER entries_no_replace BEFORE INSERT ON entries"
                       "  WHEN EXISTS (SELECT 1 FROM entries WHERE seq = NEW.seq OR hash = "
                       "NEW.hash)"
                       "  BEGIN SELECT RAISE(ABORT, 'the uatrun ledger is append-only'); END;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* The hashed columns: JSON key and SQL column, in the order ROW_COLUMNS selects them. */
static const struct {
  const char *key;
  const char *column;
} row_fields[] = {
    {"seq", "seq"},           {"kind", "kind"},       {"time", "time"},
    {"playbook", "playbook"}, {"digest", "digest"},   {"release", "release"},
    {"commit", "commit_sha"}, {"role", "role"},       {"item", "item"},
    {"signer", "signer"},     {"approve", "approve"}, {"passed", "passed"},
    {"payload", "payload"},
};
#define NFIELDS (sizeof row_fields / sizeof row_fields[0])
enum {
  C_SEQ,
  C_KIND,
  C_TIME,
  C_PLAYBOOK,
  C_DIGEST,
  C_RELEASE,
  C_COMMIT,
  C_ROLE,
  C_ITEM,
  C_SIGNER,
  C_APPROVE,
  C_PASSED,
  C_PAYLOAD,
  C_PREV_HASH,
  C_HASH
};
#define ROW_COLUMNS                                                                                \
  "seq, kind, time, playbook, digest, release, commit_sha, role, item, signer, approve, passed, "  \
  "payload, prev_hash, hash"

/* ---------- small helpers ---------- */

static int ledger_fail(struct uat_ledger *l, struct uat_error *err, const char *doing) {
  return uat_error_set(err,
                       "ledger '%s': %s failed: %s; check the file or run `uatrun verify-ledger`",
                       l->path, doing, sqlite3_errmsg(l->db));
}

static void format_time(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
    snprintf(out, 32, "%lld", (long long)t);
}

static char *column_strdup(sqlite3_stmt *st, int col) {
  const unsigned char *s = sqlite3_column_text(st, col);
  return s ? strdup((const char *)s) : NULL;
}

/* A column that may legitimately be NULL copied; false only when memory ran out. */
static bool copy_column(sqlite3_stmt *st, int col, char **out) {
  *out = column_strdup(st, col);
  return *out || sqlite3_column_type(st, col) == SQLITE_NULL;
}

/* mkdir -p for the ledger's folder. */
static int make_parents(const char *path, struct uat_error *err) {
  char *dir = strdup(path);
  if (!dir)
    return uat_error_set(err, "cannot write the ledger '%s': out of memory", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) {
    free(dir);
    return 0;
  }
  *slash = '\0';
  for (char *p = dir + 1;; p++) {
    bool end = *p == '\0';
    if (*p == '/' || end) {
      *p = '\0';
      if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        uat_error_set(err,
                      "cannot write the ledger '%s': cannot create the folder '%s': %s; check "
                      "permissions or set UATRUN_LEDGER",
                      path, dir, strerror(e));
        free(dir);
        return -1;
      }
      struct stat st;
      if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        uat_error_set(err,
                      "cannot write the ledger '%s': '%s' is not a folder; check the path or set "
                      "UATRUN_LEDGER",
                      path, dir);
        free(dir);
        return -1;
      }
      if (end)
        break;
      *p = '/';
    }
  }
  free(dir);
  return 0;
}

/* Refuses a non-empty file whose first bytes are not SQLite's, before SQLite opens it. */
static int check_sqlite_header(const char *path, struct uat_error *err) {
  static const char magic[16] = "SQLite format 3";
  FILE *f = fopen(path, "rb");
  if (!f)
    return uat_error_set(err, "cannot read the ledger '%s': %s; check permissions", path,
                         strerror(errno));
  char head[16];
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  if (n != sizeof head || memcmp(head, magic, sizeof magic) != 0)
    return uat_error_set(err,
                         "'%s' is not a SQLite database (file is not a database); restore the "
                         "ledger from a backup or point `ledger:` elsewhere",
                         path);
  return 0;
}

/* ---------- identity and schema ---------- */

static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static int describe_open_failure(struct uat_ledger *l, int rc, struct uat_error *err) {
  int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB)
    return uat_error_set(err,
                         "'%s' is not a SQLite database (%s); restore the ledger from a backup or "
                         "point `ledger:` elsewhere",
                         l->path, sqlite3_errstr(rc));
  if (primary == SQLITE_CORRUPT)
    return uat_error_set(err, "the ledger '%s' is corrupt (%s); restore it from a backup", l->path,
                         sqlite3_errstr(rc));
  return uat_error_set(err, "cannot read the ledger '%s': %s; check permissions", l->path,
                       sqlite3_errmsg(l->db));
}

/* Reads the file's identity: *version is the schema version, 0 for a fresh empty database.
 * *sqlite_rc receives the SQLite code of a failed read (for the immutable fallback). */
static int identify_in_snapshot(struct uat_ledger *l, int *version, int *sqlite_rc,
                                struct uat_error *err) {
  int64_t app_id = 0, user_version = 0, objects = 0;
  int rc = query_int(l->db, "PRAGMA application_id", &app_id);
  if (rc == SQLITE_OK)
    rc = query_int(l->db, "PRAGMA user_version", &user_version);
  if (rc == SQLITE_OK)
    rc = query_int(l->db, "SELECT count(*) FROM sqlite_master", &objects);
  if (sqlite_rc)
    *sqlite_rc = rc;
  if (rc != SQLITE_OK)
    return describe_open_failure(l, rc, err);
  if (app_id == 0 && user_version == 0 && objects == 0) {
    *version = 0;
    return 0;
  }
  if (app_id != LEDGER_APP_ID)
    return uat_error_set(err,
                         "'%s' is a SQLite database but not a uatrun ledger; point `ledger:` (or "
                         "UATRUN_LEDGER) at another file",
                         l->path);
  if (user_version > SCHEMA_VERSION)
    return uat_error_set(err,
                         "the ledger '%s' was written by a newer uatrun (schema %lld, this one "
                         "knows %d); upgrade uatrun",
                         l->path, (long long)user_version, SCHEMA_VERSION);
  int64_t named = 0;
  rc = query_int(l->db,
                 "SELECT count(*) FROM meta WHERE key = 'application' AND value = '" LEDGER_APP_NAME
                 "'",
                 &named);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_ERROR)
    return describe_open_failure(l, rc, err);
  if (user_version < 1 || rc != SQLITE_OK || named != 1)
    return uat_error_set(err,
                         "'%s' carries the uatrun ledger mark but its identity table is missing or "
                         "wrong; restore the ledger from a backup",
                         l->path);
  *version = (int)user_version;
  return 0;
}

/* Reads the identity from one snapshot: a writer initialising the file at the same time
 * must not be seen half before and half after. */
static int identify(struct uat_ledger *l, int *version, int *sqlite_rc, struct uat_error *err) {
  bool own_txn = sqlite3_get_autocommit(l->db) != 0;
  if (own_txn && sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "starting a read");
  int rc = identify_in_snapshot(l, version, sqlite_rc, err);
  if (own_txn)
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* BEGIN IMMEDIATE, waiting for other writers (busy_timeout, then a few more tries). */
static int begin_write(struct uat_ledger *l, struct uat_error *err) {
  time_t deadline = time(NULL) + LOCK_DEADLINE_S;
  for (;;) {
    int rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
      return 0;
    if ((rc & 0xff) != SQLITE_BUSY || time(NULL) > deadline)
      return uat_error_set(err,
                           "cannot write the ledger '%s': %s; check permissions or set "
                           "UATRUN_LEDGER",
                           l->path, sqlite3_errmsg(l->db));
  }
}

static void rollback(struct uat_ledger *l) {
  if (!sqlite3_get_autocommit(l->db))
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

static int commit_write(struct uat_ledger *l, struct uat_error *err) {
  if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
    return 0;
  uat_error_set(err,
                "cannot write the ledger '%s': %s; nothing was recorded, check the disk and "
                "permissions",
                l->path, sqlite3_errmsg(l->db));
  rollback(l);
  return -1;
}

/* Brings a fresh or older ledger to SCHEMA_VERSION, re-reading the version under the write
 * lock so that writers opening a new file at the same time initialise it once. */
static int migrate(struct uat_ledger *l, struct uat_error *err) {
  int version;
  if (identify(l, &version, NULL, err) != 0)
    return -1;
  if (version == SCHEMA_VERSION)
    return 0;
  if (begin_write(l, err) != 0)
    return -1;
  if (identify(l, &version, NULL, err) != 0) {
    rollback(l);
    return -1;
  }
  for (int v = version; v < SCHEMA_VERSION; v++) {
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
    if (sqlite3_exec(l->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, bump, NULL, NULL, NULL) != SQLITE_OK) {
      uat_error_set(err, "cannot upgrade the ledger '%s' to schema %d: %s; nothing was changed",
                    l->path, v + 1, sqlite3_errmsg(l->db));
      rollback(l);
      return -1;
    }
  }
  return commit_write(l, err);
}

/* journal_mode=WAL needs a moment alone with the file; retry while others hold it. */
static int enable_wal(struct uat_ledger *l, struct uat_error *err) {
  time_t deadline = time(NULL) + LOCK_DEADLINE_S;
  for (;;) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    bool wal = false;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(st);
      if (rc == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        wal = mode && strcmp((const char *)mode, "wal") == 0;
        rc = SQLITE_OK;
      }
      sqlite3_finalize(st);
    }
    if (wal)
      break;
    if ((rc & 0xff) != SQLITE_BUSY || time(NULL) > deadline)
      return uat_error_set(err,
                           "cannot write the ledger '%s': cannot switch it to WAL mode (%s); check "
                           "permissions or set UATRUN_LEDGER",
                           l->path, rc == SQLITE_OK ? "refused" : sqlite3_errmsg(l->db));
    sqlite3_sleep(10);
  }
  if (sqlite3_exec(l->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "setting synchronous=FULL");
  return 0;
}

/* ---------- open / close ---------- */

static struct uat_ledger *ledger_new(const char *path) {
  struct uat_ledger *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->path = strdup(path);
  if (!l->path) {
    free(l);
    return NULL;
  }
  return l;
}

static int open_connection(struct uat_ledger *l, const char *name, int flags, struct uat_error *err,
                           const char *what) {
  int rc = sqlite3_open_v2(name, &l->db, flags, NULL);
  if (rc != SQLITE_OK) {
    uat_error_set(err, "cannot %s the ledger '%s': %s; check permissions or set UATRUN_LEDGER",
                  what, l->path, l->db ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
    sqlite3_close(l->db);
    l->db = NULL;
    return -1;
  }
  sqlite3_extended_result_codes(l->db, 1);
  sqlite3_busy_timeout(l->db, BUSY_TIMEOUT_MS);
  return 0;
}

/* "file:PATH?immutable=1" with the characters URIs reserve percent-encoded. */
static char *immutable_uri(const char *path) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_adds(&sb, "file:");
  for (const char *p = path; rc == 0 && *p; p++) {
    if (*p == '%' || *p == '?' || *p == '#')
      rc = uat_strbuf_addf(&sb, "%%%02X", (unsigned char)*p);
    else
      rc = uat_strbuf_add(&sb, p, 1);
  }
  if (rc == 0)
    rc = uat_strbuf_adds(&sb, "?immutable=1");
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

/* True when PATH-wal holds rows that are not yet merged into the main file. */
static bool has_unmerged_wal(const char *path) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  struct stat st;
  bool found =
      uat_strbuf_addf(&sb, "%s-wal", path) == 0 && stat(sb.buf, &st) == 0 && st.st_size > 0;
  uat_strbuf_release(&sb);
  return found;
}

/* A read-only connection. In a folder where the WAL index cannot be created (read-only
 * media) SQLite cannot open a WAL database; then we read it as immutable, which sees only
 * what was merged into the main file (the last writer to close merges everything). With
 * unmerged rows left in PATH-wal, immutable would hide them, so we refuse instead. */
static int open_reader(struct uat_ledger *l, bool allow_fresh, int *version,
                       struct uat_error *err) {
  if (open_connection(l, l->path, SQLITE_OPEN_READONLY, err, "read") != 0)
    return -1;
  int rc = SQLITE_OK;
  if (identify(l, version, &rc, err) == 0)
    goto identified;
  if ((rc & 0xff) != SQLITE_CANTOPEN)
    return -1;
  sqlite3_close(l->db);
  l->db = NULL;
  if (has_unmerged_wal(l->path))
    return uat_error_set(err,
                         "cannot read the ledger '%s': its newest rows are still in '%s-wal' and "
                         "the folder is read-only; open it once where it can be written (or copy "
                         "the folder) so they are merged",
                         l->path, l->path);
  char *uri = immutable_uri(l->path);
  if (!uri)
    return uat_error_set(err, "cannot read the ledger '%s': out of memory", l->path);
  int failed = open_connection(l, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err, "read");
  free(uri);
  if (failed || identify(l, version, NULL, err) != 0)
    return -1;
identified:
  if (*version == 0 && !allow_fresh)
    return uat_error_set(err,
                         "the ledger '%s' is empty: nothing was recorded yet; run `uatrun run "
                         "PLAYBOOK` first",
                         l->path);
  return 0;
}

static int open_writer(struct uat_ledger *l, bool has_content, struct uat_error *err) {
  /* Look at an existing file through a read-only connection first, so a file that is not
   * ours is never opened for writing (not even for a WAL checkpoint on close). */
  if (has_content) {
    int version;
    int rc = open_reader(l, true, &version, err);
    sqlite3_close(l->db);
    l->db = NULL;
    if (rc != 0)
      return -1;
  } else if (make_parents(l->path, err) != 0) {
    return -1;
  }
  if (open_connection(l, l->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, "write") != 0)
    return -1;
  if (sqlite3_db_readonly(l->db, "main") == 1)
    return uat_error_set(err,
                         "cannot write the ledger '%s': attempt to write a readonly database; "
                         "check permissions or set UATRUN_LEDGER",
                         l->path);
  if (migrate(l, err) != 0)
    return -1;
  return enable_wal(l, err);
}

int uat_ledger_open(const char *path, enum uat_ledger_mode mode, struct uat_ledger **out,
                    struct uat_error *err) {
  *out = NULL;
  if (!path || !*path)
    return uat_error_set(err,
                         "no ledger path given; set `ledger:` in the playbook or UATRUN_LEDGER");
  bool writing = mode == UAT_LEDGER_WRITE;
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (!exists && errno != ENOENT && !(writing && errno == ENOTDIR))
    return uat_error_set(err, "cannot %s the ledger '%s': %s; check the path or set UATRUN_LEDGER",
                         writing ? "write" : "read", path, strerror(errno));
  if (!exists && !writing)
    return uat_error_set(err, "no ledger at '%s' yet: run `uatrun run PLAYBOOK` first", path);
  if (exists && !S_ISREG(st.st_mode))
    return uat_error_set(err, "the ledger '%s' is not a regular file; point `ledger:` elsewhere",
                         path);
  bool has_content = exists && st.st_size > 0;
  if (has_content && check_sqlite_header(path, err) != 0)
    return -1;
  struct uat_ledger *l = ledger_new(path);
  if (!l)
    return uat_error_set(err, "cannot open the ledger '%s': out of memory", path);
  int version = 0;
  int rc = writing ? open_writer(l, has_content, err) : open_reader(l, false, &version, err);
  if (rc != 0) {
    uat_ledger_close(l);
    return -1;
  }
  *out = l;
  return 0;
}

void uat_ledger_close(struct uat_ledger *ledger) {
  if (!ledger)
    return;
  sqlite3_close(ledger->db);
  free(ledger->path);
  free(ledger);
}

/* ---------- hashing ---------- */

static int row_hash(const char *prev_hash, json_t *row, char out[UAT_HASH_HEX]) {
  char *canonical = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
  if (!canonical)
    return -1;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_addf(&sb, "%s\n%s", prev_hash, canonical);
  free(canonical);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return -1;
  }
  uat_sha256_hex(sb.buf, sb.len, out);
  uat_strbuf_release(&sb);
  return 0;
}

/* The canonical object of a stored row, read from its columns with their stored types, so
 * a value whose type was changed no longer matches. NULL when memory ran out or a text
 * column is not UTF-8 (both mean the row cannot match its hash). */
static json_t *row_from_columns(sqlite3_stmt *st) {
  json_t *row = json_object();
  if (!row)
    return NULL;
  for (size_t i = 0; i < NFIELDS; i++) {
    int col = (int)i;
    json_t *v;
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
      v = json_integer(sqlite3_column_int64(st, col));
      break;
    case SQLITE_NULL:
      v = json_null();
      break;
    case SQLITE_FLOAT:
      v = json_real(sqlite3_column_double(st, col));
      break;
    default: {
      const char *s = (const char *)sqlite3_column_text(st, col);
      v = s ? json_stringn(s, (size_t)sqlite3_column_bytes(st, col)) : NULL;
    }
    }
    if (!v || json_object_set_new(row, row_fields[i].key, v) != 0) {
      json_decref(row);
      return NULL;
    }
  }
  return row;
}

/* ---------- appending ---------- */

/* Gives every hashed key a value (null when absent), so the object hashed at write time
 * is the one row_from_columns rebuilds. */
static int complete_row(json_t *row) {
  for (size_t i = 0; i < NFIELDS; i++)
    if (!json_object_get(row, row_fields[i].key) &&
        json_object_set_new(row, row_fields[i].key, json_null()) != 0)
      return -1;
  return 0;
}

static int bind_json(sqlite3_stmt *st, int idx, json_t *v) {
  if (json_is_integer(v))
    return sqlite3_bind_int64(st, idx, json_integer_value(v));
  if (json_is_string(v))
    return sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
                             SQLITE_TRANSIENT);
  return sqlite3_bind_null(st, idx);
}

/* Reads the chain's last row under the write lock. */
static int chain_tail(struct uat_ledger *l, int64_t *seq, char hash[UAT_HASH_HEX],
                      struct uat_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1", -1, &st,
                         NULL) != SQLITE_OK)
    return ledger_fail(l, err, "reading the chain head");
  int rc = sqlite3_step(st);
  *seq = 0;
  snprintf(hash, UAT_HASH_HEX, "%s", GENESIS_HASH);
  if (rc == SQLITE_ROW) {
    *seq = sqlite3_column_int64(st, 0);
    const unsigned char *h = sqlite3_column_text(st, 1);
    snprintf(hash, UAT_HASH_HEX, "%s", h ? (const char *)h : "");
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return ledger_fail(l, err, "reading the chain head");
  return 0;
}

static int insert_row(struct uat_ledger *l, json_t *row, const char *prev, const char *hash,
                      struct uat_error *err) {
  static const char sql[] =
      "INSERT INTO entries(" ROW_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "preparing the insert");
  int rc = SQLITE_OK;
  for (size_t i = 0; i < NFIELDS && rc == SQLITE_OK; i++)
    rc = bind_json(st, (int)i + 1, json_object_get(row, row_fields[i].key));
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, C_PREV_HASH + 1, prev, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(st, C_HASH + 1, hash, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return uat_error_set(err, "cannot write the ledger '%s': %s; nothing was recorded", l->path,
                         sqlite3_errmsg(l->db));
  return 0;
}

/* Chains rows[0..n) (all fields but seq set) after the current tail in one transaction: all
 * are written or none. seqs[i] receives each row's number, head the new chain head. */
static int append_rows(struct uat_ledger *l, json_t *const *rows, size_t n, int64_t *seqs,
                       char head[UAT_HASH_HEX], struct uat_error *err) {
  for (size_t i = 0; i < n; i++)
    if (complete_row(rows[i]) != 0)
      return uat_error_set(err, "cannot write the ledger '%s': out of memory", l->path);
  if (begin_write(l, err) != 0)
    return -1;
  int64_t last;
  char prev[UAT_HASH_HEX], hash[UAT_HASH_HEX];
  if (chain_tail(l, &last, prev, err) != 0)
    goto fail;
  for (size_t i = 0; i < n; i++) {
    if (json_object_set_new(rows[i], "seq", json_integer(last + 1)) != 0 ||
        row_hash(prev, rows[i], hash) != 0) {
      uat_error_set(err, "cannot write the ledger '%s': out of memory", l->path);
      goto fail;
    }
    if (insert_row(l, rows[i], prev, hash, err) != 0)
      goto fail;
    seqs[i] = ++last;
    memcpy(prev, hash, sizeof prev);
  }
  if (commit_write(l, err) != 0)
    goto fail;
  if (head)
    snprintf(head, UAT_HASH_HEX, "%s", prev);
  return 0;
fail:
  rollback(l);
  return -1;
}

/* Appends one row as its own transaction. */
static int append_row(struct uat_ledger *l, json_t *row, int64_t *seq, char head[UAT_HASH_HEX],
                      struct uat_error *err) {
  return append_rows(l, &row, 1, seq, head, err);
}

static char *dump_payload(json_t *payload) {
  char *s = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(payload);
  return s;
}

static json_t *check_json(const struct uat_check_result *c) {
  return json_pack("{s:s, s:s, s:i, s:f, s:s*}", "id", c->id ? c->id : "", "outcome",
                   uat_outcome_name(c->outcome), "attempts", c->attempts, "duration_s",
                   c->duration_s, "error", c->error);
}

/* What target.build found, or NULL (the key is then left out: runs of playbooks without
 * target.build are recorded as before). */
static json_t *build_json(const struct uat_build_record *b) {
  if (!b)
    return NULL;
  return json_pack("{s:s, s:s*, s:s, s:s, s:f, s:i}", "url", b->url, "json", b->json, "expected",
                   b->expected, "served", b->served, "waited_s", b->waited_s, "polls", b->polls);
}

static char *run_payload(const struct uat_run_result *run, const char *uatrun_version) {
  json_t *build = build_json(run->build);
  if (run->build && !build)
    return NULL;
  json_t *checks = json_array();
  if (!checks)
    return NULL;
  for (size_t i = 0; i < run->nchecks; i++) {
    if (json_array_append_new(checks, check_json(&run->checks[i])) != 0) {
      json_decref(checks);
      json_decref(build);
      return NULL;
    }
  }
  json_t *payload =
      json_pack("{s:s*, s:s*, s:s*, s:I, s:I, s:f, s:{s:I, s:I, s:I}, s:o, s:o*}", "path",
                run->playbook_path, "uatrun_version", uatrun_version, "fingerprint",
                run->fingerprint, "started_at", (json_int_t)run->started_at, "finished_at",
                (json_int_t)run->finished_at, "duration_s", run->duration_s, "counts", "passed",
                (json_int_t)run->passed, "failed", (json_int_t)run->failed, "errored",
                (json_int_t)run->errored, "checks", checks, "build", build);
  return dump_payload(payload);
}

int uat_ledger_record_run(struct uat_ledger *ledger, const struct uat_run_result *run,
                          const char *uatrun_version, int64_t *seq, char head[UAT_HASH_HEX],
                          struct uat_error *err) {
  if (!run->playbook_name)
    return uat_error_set(err, "cannot record the run in '%s': it names no playbook", ledger->path);
  char *payload = run_payload(run, uatrun_version);
  int64_t when = run->finished_at ? run->finished_at : (int64_t)time(NULL);
  json_t *row = payload
                    ? json_pack("{s:s, s:I, s:s, s:s*, s:s*, s:s*, s:i, s:s}", "kind", "run",
                                "time", (json_int_t)when, "playbook", run->playbook_name, "digest",
                                run->digest, "release", run->release, "commit", run->commit,
                                "passed", uat_run_result_passed(run) ? 1 : 0, "payload", payload)
                    : NULL;
  free(payload);
  if (!row)
    return uat_error_set(err,
                         "cannot record the run in '%s': a field is not valid UTF-8 (or out of "
                         "memory)",
                         ledger->path);
  int64_t s = 0;
  int rc = append_row(ledger, row, &s, head, err);
  json_decref(row);
  if (rc == 0 && seq)
    *seq = s;
  return rc;
}

static const char *missing_decision_field(const struct uat_decision *d) {
  const struct {
    const char *name;
    const char *value;
  } fields[] = {{"playbook", d->playbook}, {"digest", d->digest}, {"release", d->release},
                {"commit", d->commit},     {"role", d->role},     {"item", d->item},
                {"signer", d->signer}};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!fields[i].value || !*fields[i].value)
      return fields[i].name;
  return NULL;
}

/* The row of one decision (the caller's), or NULL with err set. */
static json_t *decision_row(const struct uat_ledger *ledger, struct uat_decision *d,
                            struct uat_error *err) {
  const char *missing = missing_decision_field(d);
  if (missing) {
    uat_error_set(err, "cannot record the decision in '%s': its %s is empty", ledger->path,
                  missing);
    return NULL;
  }
  if (d->time == 0)
    d->time = (int64_t)time(NULL);
  char *payload =
      dump_payload(json_pack("{s:s*, s:I}", "note", d->note, "run_seq", (json_int_t)d->run_seq));
  json_t *row = payload ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                                    "kind", "decision", "time", (json_int_t)d->time, "playbook",
                                    d->playbook, "digest", d->digest, "release", d->release,
                                    "commit", d->commit, "role", d->role, "item", d->item, "signer",
                                    d->signer, "approve", d->approve ? 1 : 0, "payload", payload)
                        : NULL;
  free(payload);
  if (!row)
    uat_error_set(err,
                  "cannot record the decision in '%s': a field is not valid UTF-8 (or out "
                  "of memory)",
                  ledger->path);
  return row;
}

int uat_ledger_record_decisions(struct uat_ledger *ledger, struct uat_decision *ds, size_t n,
                                char head[UAT_HASH_HEX], struct uat_error *err) {
  json_t **rows = calloc(n ? n : 1, sizeof *rows);
  int64_t *seqs = calloc(n ? n : 1, sizeof *seqs);
  int rc = rows && seqs ? 0 : uat_error_set(err, "cannot record the decisions: out of memory");
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (!(rows[i] = decision_row(ledger, &ds[i], err)))
      rc = -1;
  if (rc == 0)
    rc = append_rows(ledger, rows, n, seqs, head, err);
  for (size_t i = 0; rows && i < n; i++) {
    if (rc == 0)
      ds[i].seq = seqs[i];
    json_decref(rows[i]);
  }
  free(rows);
  free(seqs);
  return rc;
}

int uat_ledger_record_decision(struct uat_ledger *ledger, struct uat_decision *d,
                               char head[UAT_HASH_HEX], struct uat_error *err) {
  return uat_ledger_record_decisions(ledger, d, 1, head, err);
}

/* ---------- reading ---------- */

static int bind_text_or_null(sqlite3_stmt *st, int idx, const char *s) {
  return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
}

static int unreadable_row(struct uat_ledger *l, sqlite3_stmt *st, struct uat_error *err) {
  return uat_error_set(err,
                       "ledger '%s': row %lld cannot be read (bad payload or out of memory); run "
                       "`uatrun verify-ledger`",
                       l->path, (long long)sqlite3_column_int64(st, C_SEQ));
}

static void decision_clear(struct uat_decision *d) {
  free(d->playbook);
  free(d->digest);
  free(d->release);
  free(d->commit);
  free(d->role);
  free(d->item);
  free(d->signer);
  free(d->note);
  memset(d, 0, sizeof *d);
}

static int fill_decision(sqlite3_stmt *st, struct uat_decision *d) {
  memset(d, 0, sizeof *d);
  d->seq = sqlite3_column_int64(st, C_SEQ);
  d->time = sqlite3_column_int64(st, C_TIME);
  d->approve = sqlite3_column_int64(st, C_APPROVE) != 0;
  json_t *payload = json_loads((const char *)sqlite3_column_text(st, C_PAYLOAD), 0, NULL);
  bool ok = json_is_object(payload) && copy_column(st, C_PLAYBOOK, &d->playbook) &&
            copy_column(st, C_DIGEST, &d->digest) && copy_column(st, C_RELEASE, &d->release) &&
            copy_column(st, C_COMMIT, &d->commit) && copy_column(st, C_ROLE, &d->role) &&
            copy_column(st, C_ITEM, &d->item) && copy_column(st, C_SIGNER, &d->signer);
  if (ok) {
    const char *note = json_string_value(json_object_get(payload, "note"));
    d->run_seq = json_integer_value(json_object_get(payload, "run_seq"));
    d->note = note ? strdup(note) : NULL;
    ok = d->note || !note;
  }
  json_decref(payload);
  if (!ok) {
    decision_clear(d);
    return -1;
  }
  return 0;
}

static size_t json_count(json_t *counts, const char *key) {
  json_int_t n = json_integer_value(json_object_get(counts, key));
  return n > 0 ? (size_t)n : 0;
}

static int fill_failed_ids(json_t *checks, struct uat_run_record *r) {
  size_t n = json_array_size(checks);
  if (n == 0)
    return 0;
  r->failed_ids = calloc(n, sizeof *r->failed_ids);
  if (!r->failed_ids)
    return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(checks, i);
    const char *outcome = json_string_value(json_object_get(c, "outcome"));
    const char *id = json_string_value(json_object_get(c, "id"));
    if (!id || !outcome || strcmp(outcome, "pass") == 0 || strcmp(outcome, "skip") == 0)
      continue;
    if (!(r->failed_ids[r->nfailed_ids] = strdup(id)))
      return -1;
    r->nfailed_ids++;
  }
  return 0;
}

/* What target.build found before the run, when the run recorded it. */
static int fill_build(json_t *b, struct uat_run_record *r) {
  if (!json_is_object(b))
    return 0;
  const char *url = json_string_value(json_object_get(b, "url"));
  const char *expected = json_string_value(json_object_get(b, "expected"));
  const char *served = json_string_value(json_object_get(b, "served"));
  const char *field = json_string_value(json_object_get(b, "json"));
  if (!url || !expected || !served)
    return -1;
  r->build_url = strdup(url);
  r->build_json = field ? strdup(field) : NULL;
  r->build_expected = strdup(expected);
  r->build_served = strdup(served);
  r->build_waited_s = json_number_value(json_object_get(b, "waited_s"));
  r->build_polls = (int)json_integer_value(json_object_get(b, "polls"));
  r->has_build = true;
  return r->build_url && r->build_expected && r->build_served && (!field || r->build_json) ? 0 : -1;
}

static int fill_run(sqlite3_stmt *st, struct uat_run_record *r) {
  memset(r, 0, sizeof *r);
  r->found = true;
  r->seq = sqlite3_column_int64(st, C_SEQ);
  r->time = sqlite3_column_int64(st, C_TIME);
  r->passed = sqlite3_column_int64(st, C_PASSED) != 0;
  json_t *payload = json_loads((const char *)sqlite3_column_text(st, C_PAYLOAD), 0, NULL);
  bool ok = json_is_object(payload) && copy_column(st, C_DIGEST, &r->digest) &&
            copy_column(st, C_RELEASE, &r->release) && copy_column(st, C_COMMIT, &r->commit);
  if (ok) {
    json_t *counts = json_object_get(payload, "counts");
    r->npassed = json_count(counts, "passed");
    r->nfailed = json_count(counts, "failed");
    r->nerrored = json_count(counts, "errored");
    ok = fill_failed_ids(json_object_get(payload, "checks"), r) == 0;
  }
  if (ok)
    ok = fill_build(json_object_get(payload, "build"), r) == 0;
  /* Runs recorded before fingerprints existed have none: the gate treats them as stale. */
  const char *fingerprint = json_string_value(json_object_get(payload, "fingerprint"));
  if (ok && fingerprint)
    ok = (r->fingerprint = strdup(fingerprint)) != NULL;
  json_decref(payload);
  if (!ok) {
    uat_run_record_clear(r);
    return -1;
  }
  return 0;
}

static int prepare_filtered(struct uat_ledger *l, const char *sql, const char *playbook,
                            const char *release, const char *commit, sqlite3_stmt **st,
                            struct uat_error *err) {
  if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "preparing a query");
  if (bind_text_or_null(*st, 1, playbook) != SQLITE_OK ||
      bind_text_or_null(*st, 2, release) != SQLITE_OK ||
      bind_text_or_null(*st, 3, commit) != SQLITE_OK) {
    sqlite3_finalize(*st);
    return ledger_fail(l, err, "binding a query");
  }
  return 0;
}

int uat_ledger_latest_run(struct uat_ledger *ledger, const char *playbook, const char *release,
                          const char *commit, struct uat_run_record *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (prepare_filtered(ledger,
                       "SELECT " ROW_COLUMNS " FROM entries WHERE kind = 'run' AND playbook = ?1 "
                       "AND release IS ?2 AND commit_sha IS ?3 ORDER BY seq DESC LIMIT 1",
                       playbook, release, commit, &st, err) != 0)
    return -1;
  int rc = sqlite3_step(st);
  int result = 0;
  if (rc == SQLITE_ROW)
    result = fill_run(st, out) == 0 ? 0 : unreadable_row(ledger, st, err);
  else if (rc != SQLITE_DONE)
    result = ledger_fail(ledger, err, "reading the latest run");
  sqlite3_finalize(st);
  return result;
}

/* Hex digits only, at least as long as git's shortest abbreviation. */
static bool is_sha_like(const char *s) {
  size_t n = strlen(s);
  return n >= 7 && strspn(s, "0123456789abcdefABCDEF") == n;
}

int uat_ledger_run_commit_like(struct uat_ledger *ledger, const char *playbook, const char *release,
                               const char *commit, char **out, struct uat_error *err) {
  *out = NULL;
  if (!commit || !is_sha_like(commit))
    return 0;
  sqlite3_stmt *st;
  if (prepare_filtered(ledger,
                       "SELECT commit_sha FROM entries WHERE kind = 'run' AND playbook = ?1 AND "
                       "release IS ?2 AND commit_sha IS NOT ?3 AND length(commit_sha) >= 7 AND "
                       "(lower(substr(commit_sha, 1, length(?3))) = lower(?3) OR "
                       "lower(substr(?3, 1, length(commit_sha))) = lower(commit_sha)) "
                       "ORDER BY seq DESC",
                       playbook, release, commit, &st, err) != 0)
    return -1;
  int rc, result = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *other = (const char *)sqlite3_column_text(st, 0);
    if (!other || !is_sha_like(other))
      continue;
    if (!(*out = strdup(other)))
      result = uat_error_set(err, "cannot read the ledger '%s': out of memory", ledger->path);
    break;
  }
  if (result == 0 && !*out && rc != SQLITE_DONE)
    result = ledger_fail(ledger, err, "reading the runs of the release");
  sqlite3_finalize(st);
  return result;
}

int uat_ledger_decisions(struct uat_ledger *ledger, const char *playbook, const char *release,
                         const char *commit, struct uat_decision_list *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (prepare_filtered(ledger,
                       "SELECT " ROW_COLUMNS " FROM entries WHERE kind = 'decision' AND "
                       "playbook = ?1 AND release IS ?2 AND commit_sha IS ?3 ORDER BY seq",
                       playbook, release, commit, &st, err) != 0)
    return -1;
  size_t cap = 0;
  int rc, result = 0;
  while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct uat_decision *items = realloc(out->items, ncap * sizeof *items);
      if (!items) {
        result = uat_error_set(err, "cannot read the ledger '%s': out of memory", ledger->path);
        break;
      }
      out->items = items;
      cap = ncap;
    }
    if (fill_decision(st, &out->items[out->count]) != 0)
      result = unreadable_row(ledger, st, err);
    else
      out->count++;
  }
  if (result == 0 && rc != SQLITE_DONE)
    result = ledger_fail(ledger, err, "reading decisions");
  sqlite3_finalize(st);
  if (result != 0)
    uat_decision_list_free(out);
  return result;
}

int uat_ledger_history(struct uat_ledger *ledger, const char *playbook, const char *release,
                       int limit, struct uat_history *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(ledger->db,
                         "SELECT " ROW_COLUMNS " FROM entries WHERE playbook = ?1 AND (?2 IS NULL "
                         "OR release = ?2) ORDER BY seq DESC LIMIT ?3",
                         -1, &st, NULL) != SQLITE_OK)
    return ledger_fail(ledger, err, "preparing the history query");
  if (bind_text_or_null(st, 1, playbook) != SQLITE_OK ||
      bind_text_or_null(st, 2, release) != SQLITE_OK ||
      sqlite3_bind_int(st, 3, limit > 0 ? limit : -1) != SQLITE_OK) {
    sqlite3_finalize(st);
    return ledger_fail(ledger, err, "binding the history query");
  }
  size_t cap = 0;
  int rc, result = 0;
  while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->count == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct uat_history_entry *e = realloc(out->entries, ncap * sizeof *e);
      if (!e) {
        result = uat_error_set(err, "cannot read the ledger '%s': out of memory", ledger->path);
        break;
      }
      out->entries = e;
      cap = ncap;
    }
    struct uat_history_entry *e = &out->entries[out->count];
    memset(e, 0, sizeof *e);
    e->seq = sqlite3_column_int64(st, C_SEQ);
    e->time = sqlite3_column_int64(st, C_TIME);
    const unsigned char *kind = sqlite3_column_text(st, C_KIND);
    e->is_run = kind && strcmp((const char *)kind, "run") == 0;
    int filled = e->is_run ? fill_run(st, &e->run) : fill_decision(st, &e->decision);
    if (filled != 0)
      result = unreadable_row(ledger, st, err);
    else
      out->count++;
  }
  if (result == 0 && rc != SQLITE_DONE)
    result = ledger_fail(ledger, err, "reading the history");
  sqlite3_finalize(st);
  if (result != 0)
    uat_history_free(out);
  return result;
}

void uat_history_free(struct uat_history *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->count; i++) {
    uat_run_record_clear(&h->entries[i].run);
    decision_clear(&h->entries[i].decision);
  }
  free(h->entries);
  h->entries = NULL;
  h->count = 0;
}

void uat_decision_list_free(struct uat_decision_list *list) {
  if (!list)
    return;
  for (size_t i = 0; i < list->count; i++)
    decision_clear(&list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = 0;
}

void uat_run_record_clear(struct uat_run_record *run) {
  if (!run)
    return;
  free(run->digest);
  free(run->release);
  free(run->commit);
  free(run->fingerprint);
  free(run->build_url);
  free(run->build_json);
  free(run->build_expected);
  free(run->build_served);
  for (size_t i = 0; i < run->nfailed_ids; i++)
    free(run->failed_ids[i]);
  free(run->failed_ids);
  memset(run, 0, sizeof *run);
}

/* ---------- verification ---------- */

/* "row 17 (decision by 'myriam' at 2026-11-20 10:02 UTC)" for messages. */
static void describe_row(sqlite3_stmt *st, char *out, size_t size) {
  char when[32];
  format_time(sqlite3_column_int64(st, C_TIME), when);
  const unsigned char *kind = sqlite3_column_text(st, C_KIND);
  const unsigned char *signer = sqlite3_column_text(st, C_SIGNER);
  const unsigned char *release = sqlite3_column_text(st, C_RELEASE);
  long long seq = (long long)sqlite3_column_int64(st, C_SEQ);
  if (kind && strcmp((const char *)kind, "decision") == 0)
    snprintf(out, size, "row %lld (decision by '%s' at %s)", seq,
             signer ? (const char *)signer : "?", when);
  else
    snprintf(out, size, "row %lld (run of release '%s' at %s)", seq,
             release ? (const char *)release : "unknown", when);
}

static bool is_hash_text(const char *s) {
  if (strlen(s) != UAT_HASH_HEX - 1)
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
      return false;
  return true;
}

static int quick_check(struct uat_ledger *l, struct uat_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
    return describe_open_failure(l, sqlite3_errcode(l->db), err);
  int rc = sqlite3_step(st);
  const unsigned char *verdict = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
  int result = 0;
  if (rc != SQLITE_ROW)
    result = describe_open_failure(l, rc, err);
  else if (!verdict || strcmp((const char *)verdict, "ok") != 0)
    result = uat_error_set(err, "the ledger '%s' is corrupt (%s); restore it from a backup",
                           l->path, verdict ? (const char *)verdict : "unknown damage");
  sqlite3_finalize(st);
  return result;
}

/* Checks one row against the one before it; fills err and returns -1 on the first fault. */
static int verify_row(struct uat_ledger *l, sqlite3_stmt *st, int64_t expected_seq,
                      const char *prev, struct uat_error *err) {
  int64_t seq = sqlite3_column_int64(st, C_SEQ);
  char what[256];
  describe_row(st, what, sizeof what);
  if (seq > expected_seq && seq == expected_seq + 1)
    return uat_error_set(err,
                         "ledger '%s': row %lld is missing (deleted); restore the ledger from a "
                         "backup and find out who removed it",
                         l->path, (long long)expected_seq);
  if (seq > expected_seq)
    return uat_error_set(err,
                         "ledger '%s': rows %lld..%lld are missing (deleted); restore the ledger "
                         "from a backup and find out who removed them",
                         l->path, (long long)expected_seq, (long long)(seq - 1));
  if (seq < expected_seq)
    return uat_error_set(err, "ledger '%s': %s has an impossible row number — it was inserted",
                         l->path, what);
  const unsigned char *stored_prev = sqlite3_column_text(st, C_PREV_HASH);
  const unsigned char *stored = sqlite3_column_text(st, C_HASH);
  json_t *row = row_from_columns(st);
  char computed[UAT_HASH_HEX] = "";
  int hashed = row && stored_prev ? row_hash((const char *)stored_prev, row, computed) : -1;
  json_decref(row);
  if (hashed != 0 || !stored || strcmp(computed, (const char *)stored) != 0)
    return uat_error_set(err,
                         "ledger '%s': %s: content does not match its hash — it was edited; "
                         "restore the ledger from a backup",
                         l->path, what);
  if (strcmp((const char *)stored_prev, prev) != 0)
    return uat_error_set(err,
                         "ledger '%s': %s: previous-hash link broken — a row before it was "
                         "deleted or inserted; restore the ledger from a backup",
                         l->path, what);
  return 0;
}

static int walk_chain(struct uat_ledger *l, const char *expected_head, bool *head_seen,
                      int64_t *rows, char head[UAT_HASH_HEX], struct uat_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, "SELECT " ROW_COLUMNS " FROM entries ORDER BY seq", -1, &st,
                         NULL) != SQLITE_OK)
    return ledger_fail(l, err, "reading the chain");
  int64_t expected_seq = 1;
  int rc, result = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (verify_row(l, st, expected_seq, head, err) != 0) {
      result = -1;
      break;
    }
    snprintf(head, UAT_HASH_HEX, "%s", (const char *)sqlite3_column_text(st, C_HASH));
    if (expected_head && strcasecmp(head, expected_head) == 0)
      *head_seen = true;
    expected_seq++;
    (*rows)++;
  }
  if (result == 0 && rc != SQLITE_DONE)
    result = describe_open_failure(l, rc, err);
  sqlite3_finalize(st);
  return result;
}

int uat_ledger_check_head(const char *head, struct uat_error *err) {
  if (!is_hash_text(head))
    return uat_error_set(err,
                         "--head '%s' is not a chain head: give the 64 hex digits printed after a "
                         "write to the ledger (`ledger head: HASH`)",
                         head);
  /* The genesis value is in every chain, so accepting it would vouch for any ledger. */
  if (strcmp(head, GENESIS_HASH) == 0)
    return uat_error_set(err,
                         "--head '%.12s…' is not a chain head: 64 zeros stand before the first row "
                         "of every ledger; give the head printed after a write to it",
                         head);
  return 0;
}

int uat_ledger_verify(struct uat_ledger *ledger, const char *expected_head, int64_t *rows,
                      char head[UAT_HASH_HEX], struct uat_error *err) {
  int64_t count = 0;
  char tail[UAT_HASH_HEX];
  snprintf(tail, sizeof tail, "%s", GENESIS_HASH);
  if (rows)
    *rows = 0;
  if (head)
    snprintf(head, UAT_HASH_HEX, "%s", GENESIS_HASH);
  if (expected_head && uat_ledger_check_head(expected_head, err) != 0)
    return -1;
  if (quick_check(ledger, err) != 0)
    return -1;
  /* Read the whole chain from one snapshot, so rows appended meanwhile cannot confuse it. */
  if (sqlite3_exec(ledger->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return ledger_fail(ledger, err, "starting a read");
  bool head_seen = false;
  int rc = walk_chain(ledger, expected_head, &head_seen, &count, tail, err);
  rollback(ledger);
  if (rows)
    *rows = count;
  if (head)
    snprintf(head, UAT_HASH_HEX, "%s", tail);
  if (rc != 0)
    return -1;
  if (expected_head && !head_seen)
    return uat_error_set(err,
                         "ledger '%s': the head '%.12s…' recorded elsewhere is not in this ledger: "
                         "newer rows were cut off or the ledger was replaced; restore it from a "
                         "backup",
                         ledger->path, expected_head);
  return 0;
}
