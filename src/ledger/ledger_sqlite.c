/* The SQLite backend: one file in WAL mode holding one hash-chained table of runs and
 * decisions (the hashing itself is ledger_rows.c). Rows are only appended (triggers refuse
 * UPDATE and DELETE); the schema grows through the migrations[] table, one transaction per
 * step. Every write is one BEGIN IMMEDIATE transaction: writers queue on SQLite's lock, so
 * the chain never forks. */
#include "ledger/ledger_backend.h"

#include "util/strbuf.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEDGER_APP_ID 1969321074 /* 0x75617472, "uatr": PRAGMA application_id */
#define STR(x) #x
#define XSTR(x) STR(x)
#define LEDGER_APP_NAME "uatrun-ledger"
#define BUSY_TIMEOUT_MS 30000
#define LOCK_DEADLINE_S 120

struct sqlite_ledger {
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
#define ROW_COLUMNS UAT_LEDGER_ROW_COLUMNS
#define C_SEQ UAT_LF_SEQ
#define C_PREV_HASH UAT_LF_PREV_HASH
#define C_HASH UAT_LF_HASH
#define NFIELDS UAT_LEDGER_NFIELDS

/* ---------- small helpers ---------- */

static int ledger_fail(struct sqlite_ledger *l, struct uat_error *err, const char *doing) {
  return uat_error_set(err,
                       "ledger '%s': %s failed: %s; check the file or run `uatrun verify-ledger`",
                       l->path, doing, sqlite3_errmsg(l->db));
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

static int describe_open_failure(struct sqlite_ledger *l, int rc, struct uat_error *err) {
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
static int identify_in_snapshot(struct sqlite_ledger *l, int *version, int *sqlite_rc,
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
static int identify(struct sqlite_ledger *l, int *version, int *sqlite_rc, struct uat_error *err) {
  bool own_txn = sqlite3_get_autocommit(l->db) != 0;
  if (own_txn && sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "starting a read");
  int rc = identify_in_snapshot(l, version, sqlite_rc, err);
  if (own_txn)
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* BEGIN IMMEDIATE, waiting for other writers (busy_timeout, then a few more tries). */
static int begin_write(struct sqlite_ledger *l, struct uat_error *err) {
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

static void rollback(struct sqlite_ledger *l) {
  if (!sqlite3_get_autocommit(l->db))
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

static int commit_write(struct sqlite_ledger *l, struct uat_error *err) {
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
static int migrate(struct sqlite_ledger *l, struct uat_error *err) {
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
static int enable_wal(struct sqlite_ledger *l, struct uat_error *err) {
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

static struct sqlite_ledger *ledger_new(const char *path) {
  struct sqlite_ledger *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->path = strdup(path);
  if (!l->path) {
    free(l);
    return NULL;
  }
  return l;
}

static int open_connection(struct sqlite_ledger *l, const char *name, int flags,
                           struct uat_error *err, const char *what) {
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
static int open_reader(struct sqlite_ledger *l, bool allow_fresh, int *version,
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

static int open_writer(struct sqlite_ledger *l, bool has_content, struct uat_error *err) {
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

static void sqlite_close(void *b) {
  struct sqlite_ledger *ledger = b;
  if (!ledger)
    return;
  sqlite3_close(ledger->db);
  free(ledger->path);
  free(ledger);
}

static int sqlite_open(const char *path, const char *shown, enum uat_ledger_mode mode, void **out,
                       struct uat_error *err) {
  *out = NULL;
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
  struct sqlite_ledger *l = ledger_new(path);
  if (!l)
    return uat_error_set(err, "cannot open the ledger '%s': out of memory", path);
  int version = 0;
  int rc = writing ? open_writer(l, has_content, err) : open_reader(l, false, &version, err);
  if (rc != 0) {
    sqlite_close(l);
    return -1;
  }
  *out = l;
  return 0;
}

/* ---------- rows ---------- */

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
    if (!v || json_object_set_new(row, uat_ledger_fields[i].key, v) != 0) {
      json_decref(row);
      return NULL;
    }
  }
  return row;
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
static int chain_tail(struct sqlite_ledger *l, int64_t *seq, char hash[UAT_HASH_HEX],
                      struct uat_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1", -1, &st,
                         NULL) != SQLITE_OK)
    return ledger_fail(l, err, "reading the chain head");
  int rc = sqlite3_step(st);
  *seq = 0;
  snprintf(hash, UAT_HASH_HEX, "%s", UAT_LEDGER_GENESIS);
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

static int insert_row(struct sqlite_ledger *l, const json_t *row, const char *prev,
                      const char *hash, struct uat_error *err) {
  static const char sql[] =
      "INSERT INTO entries(" ROW_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "preparing the insert");
  int rc = SQLITE_OK;
  for (size_t i = 0; i < NFIELDS && rc == SQLITE_OK; i++)
    rc = bind_json(st, (int)i + 1, json_object_get((json_t *)row, uat_ledger_fields[i].key));
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

static int sqlite_insert(void *b, const json_t *fields, const char *prev, const char *hash,
                         struct uat_error *err) {
  return insert_row(b, fields, prev, hash, err);
}

/* Chains rows[0..n) (all fields but seq set) after the current tail in one transaction: all
 * are written or none. seqs[i] receives each row's number, head the new chain head. */
static int sqlite_append(void *b, json_t *const *rows, size_t n, int64_t *seqs,
                         char head[UAT_HASH_HEX], struct uat_error *err) {
  struct sqlite_ledger *l = b;
  for (size_t i = 0; i < n; i++)
    if (uat_ledger_row_complete(rows[i]) != 0)
      return uat_error_set(err, "cannot write the ledger '%s': out of memory", l->path);
  if (begin_write(l, err) != 0)
    return -1;
  int64_t last;
  char prev[UAT_HASH_HEX];
  if (chain_tail(l, &last, prev, err) != 0 ||
      uat_ledger_chain_rows(l->path, rows, n, last, prev, sqlite_insert, l, seqs, head, err) != 0 ||
      commit_write(l, err) != 0)
    goto fail;
  return 0;
fail:
  rollback(l);
  return -1;
}

static int bind_text_or_null(sqlite3_stmt *st, int idx, const char *s) {
  return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
}

static int sqlite_check(void *b, struct uat_error *err) {
  struct sqlite_ledger *l = b;
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
static int sqlite_insert_verbatim(void *b, const struct uat_ledger_row *rows, size_t n,
                                  struct uat_error *err) {
  struct sqlite_ledger *l = b;
  if (begin_write(l, err) != 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (insert_row(l, rows[i].fields, rows[i].prev_hash, rows[i].hash, err) != 0) {
      rollback(l);
      return -1;
    }
  return commit_write(l, err);
}

/* The SQL of each query: ?1 playbook, ?2 release, ?3 commit, ?4 limit (-1: all). */
static const char *query_sql(enum uat_ledger_query q) {
  switch (q) {
  case UAT_LEDGER_Q_LATEST_RUN:
    return "SELECT " ROW_COLUMNS " FROM entries WHERE kind = 'run' AND playbook = ?1 "
           "AND release IS ?2 AND commit_sha IS ?3 ORDER BY seq DESC LIMIT 1";
  case UAT_LEDGER_Q_RELEASE_RUNS:
    return "SELECT " ROW_COLUMNS " FROM entries WHERE kind = 'run' AND playbook = ?1 "
           "AND release IS ?2 AND ?3 IS ?3 ORDER BY seq DESC";
  case UAT_LEDGER_Q_DECISIONS:
    return "SELECT " ROW_COLUMNS " FROM entries WHERE kind = 'decision' AND "
           "playbook = ?1 AND release IS ?2 AND commit_sha IS ?3 ORDER BY seq";
  case UAT_LEDGER_Q_HISTORY:
    return "SELECT " ROW_COLUMNS " FROM entries WHERE playbook = ?1 AND (?2 IS NULL "
           "OR release = ?2) AND ?3 IS ?3 ORDER BY seq DESC LIMIT ?4";
  case UAT_LEDGER_Q_CHAIN:
    return "SELECT " ROW_COLUMNS " FROM entries WHERE ?1 IS ?1 AND ?2 IS ?2 AND ?3 IS ?3 "
           "ORDER BY seq LIMIT ?4";
  }
  return NULL;
}

static int bind_filter(sqlite3_stmt *st, const struct uat_ledger_filter *f) {
  int rc = bind_text_or_null(st, 1, f->playbook);
  if (rc == SQLITE_OK)
    rc = bind_text_or_null(st, 2, f->release);
  if (rc == SQLITE_OK)
    rc = bind_text_or_null(st, 3, f->commit);
  if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) >= 4)
    rc = sqlite3_bind_int(st, 4, f->limit > 0 ? f->limit : -1);
  return rc;
}

static int step_rows(struct sqlite_ledger *l, sqlite3_stmt *st, uat_ledger_row_fn fn, void *ctx,
                     struct uat_error *err) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *prev = (const char *)sqlite3_column_text(st, C_PREV_HASH);
    const char *hash = (const char *)sqlite3_column_text(st, C_HASH);
    struct uat_ledger_row row = {row_from_columns(st), prev ? prev : "", hash ? hash : ""};
    if (!row.fields) {
      /* Not UTF-8 or out of memory: the row cannot match its hash; say which one. */
      row.fields = json_pack("{s:I}", "seq", (json_int_t)sqlite3_column_int64(st, C_SEQ));
      if (!row.fields)
        return uat_error_set(err, "cannot read the ledger '%s': out of memory", l->path);
      uat_ledger_row_complete(row.fields);
      json_object_set_new(row.fields, "payload", json_string("\x01"));
    }
    int stop = fn(&row, ctx, err);
    json_decref(row.fields);
    if (stop)
      return stop;
  }
  if (rc != SQLITE_DONE)
    return describe_open_failure(l, rc, err);
  return 0;
}

static int sqlite_select(void *b, enum uat_ledger_query q, const struct uat_ledger_filter *f,
                         uat_ledger_row_fn fn, void *ctx, struct uat_error *err) {
  struct sqlite_ledger *l = b;
  /* The chain is read from one snapshot, so rows appended meanwhile cannot confuse it. */
  bool snapshot = q == UAT_LEDGER_Q_CHAIN && sqlite3_get_autocommit(l->db);
  if (snapshot && sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return ledger_fail(l, err, "starting a read");
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(l->db, query_sql(q), -1, &st, NULL) != SQLITE_OK)
    rc = ledger_fail(l, err, "preparing a query");
  else if (bind_filter(st, f) != SQLITE_OK)
    rc = ledger_fail(l, err, "binding a query");
  else
    rc = step_rows(l, st, fn, ctx, err);
  sqlite3_finalize(st);
  if (snapshot)
    rollback(l);
  return rc;
}

static int sqlite_identity(void *b, char **user, struct uat_error *err) {
  *user = NULL;
  return 0;
}

const struct uat_ledger_backend uat_ledger_sqlite_backend = {
    .name = "SQLite",
    .open = sqlite_open,
    .close = sqlite_close,
    .append = sqlite_append,
    .insert_verbatim = sqlite_insert_verbatim,
    .select = sqlite_select,
    .check = sqlite_check,
    .identity = sqlite_identity,
};
