/* The PostgreSQL backend (libpq): the team ledger. The same rows and hashes as the SQLite
 * file, in uatrun.entries. Writers serialise on the chain head with a transaction-scoped
 * advisory lock, taken again by the insert trigger, so even a hand-written INSERT cannot
 * fork the chain. Who may write what is the database's job: row-level security lets the CI
 * group insert runs and the signer group insert decisions signed as session_user; triggers
 * refuse UPDATE, DELETE and TRUNCATE to everybody. */
#include "ledger/ledger_backend.h"
#include "ledger/ledger_pg.h"

#include "util/redact.h"
#include "util/strbuf.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_APP_NAME "uatrun-ledger"
/* The advisory lock key of the chain head: "uatr" as in the SQLite application_id. */
#define PG_CHAIN_LOCK "1969321074"

struct pg_ledger {
  PGconn *conn;
  const char *shown;
  struct uat_redactor redactor; /* the URL's password, kept out of every message */
};

/* Schema steps: pg_migrations[i] brings a ledger from version i to i + 1. `ledger init` runs
 * the missing ones and the version bump in the transaction that (re)applies the roles and
 * grants, so a database is always wholly at one version. Version 0 is an empty database. */
static const char *const pg_migrations[] = {
    /* 1: the chain table, meta, the append-only and chain-extending guards, read policy. */
    "CREATE SCHEMA uatrun;"
    "REVOKE ALL ON SCHEMA uatrun FROM PUBLIC;"
    "CREATE TABLE IF NOT EXISTS uatrun.meta(key text PRIMARY KEY, value text NOT NULL);"
    "INSERT INTO uatrun.meta(key, value) VALUES ('application', '" PG_APP_NAME "'), "
    "('schema_version', '0');"
    "CREATE TABLE IF NOT EXISTS uatrun.entries("
    "  seq bigint PRIMARY KEY CHECK (seq > 0),"
    "  kind text NOT NULL CHECK (kind IN ('run', 'decision')),"
    "  time bigint NOT NULL,"
    "  playbook text NOT NULL,"
    "  digest text, release text, commit_sha text,"
    "  role text, item text, signer text,"
    "  approve integer, passed integer,"
    "  payload text NOT NULL,"
    "  prev_hash text NOT NULL,"
    "  hash text NOT NULL UNIQUE);"
    "CREATE INDEX IF NOT EXISTS entries_lookup ON uatrun.entries(playbook, kind, release, "
    "commit_sha, seq);"
    "REVOKE ALL ON uatrun.entries, uatrun.meta FROM PUBLIC;"
    "CREATE OR REPLACE FUNCTION uatrun.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN RAISE EXCEPTION 'the uatrun ledger is append-only: % refused', TG_OP"
    "   USING ERRCODE = 'insufficient_privilege'; END $f$;"
    /* Each new row must extend the chain: the next number after the tail, linked to its
     * hash, and a decision names the database user who inserts it (the owner, copying a
     * ledger, excepted). The lock is the one writers take: hand-written INSERTs queue too. */
    "CREATE OR REPLACE FUNCTION uatrun.check_insert() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " DECLARE tail_seq bigint; tail_hash text;"
    " BEGIN"
    "  PERFORM pg_advisory_xact_lock(" PG_CHAIN_LOCK ");"
    "  SELECT seq, hash INTO tail_seq, tail_hash FROM uatrun.entries ORDER BY seq DESC LIMIT 1;"
    "  IF NEW.seq <> coalesce(tail_seq, 0) + 1 OR NEW.prev_hash <> coalesce(tail_hash, "
    "'" UAT_LEDGER_GENESIS "') THEN"
    "   RAISE EXCEPTION 'row % does not extend the chain (its tail is row %)', NEW.seq, "
    "coalesce(tail_seq, 0) USING ERRCODE = 'integrity_constraint_violation';"
    "  END IF;"
    "  IF NEW.kind = 'decision' AND NEW.signer IS DISTINCT FROM session_user AND NOT "
    "pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') "
    "THEN"
    "   RAISE EXCEPTION 'a decision signed as \"%\" cannot be inserted by the database user "
    "\"%\"', NEW.signer, session_user USING ERRCODE = 'insufficient_privilege';"
    "  END IF;"
    "  RETURN NEW;"
    " END $f$;"
    "CREATE OR REPLACE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON uatrun.entries"
    "  FOR EACH ROW EXECUTE FUNCTION uatrun.refuse_change();"
    "CREATE OR REPLACE TRIGGER entries_no_truncate BEFORE TRUNCATE ON uatrun.entries"
    "  FOR EACH STATEMENT EXECUTE FUNCTION uatrun.refuse_change();"
    "CREATE OR REPLACE TRIGGER entries_extend_chain BEFORE INSERT ON uatrun.entries"
    "  FOR EACH ROW EXECUTE FUNCTION uatrun.check_insert();"
    /* meta changes only by a migration raising the schema version */
    "CREATE OR REPLACE FUNCTION uatrun.meta_guard() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  IF TG_OP = 'UPDATE' AND OLD.key = 'schema_version' AND NEW.key = OLD.key AND "
    "NEW.value ~ '^[0-9]{1,9}$' THEN"
    "   IF NEW.value::int > OLD.value::int THEN RETURN NEW; END IF;"
    "  END IF;"
    "  RAISE EXCEPTION 'the uatrun ledger is append-only: % refused', TG_OP"
    "   USING ERRCODE = 'insufficient_privilege';"
    " END $f$;"
    "CREATE OR REPLACE TRIGGER meta_fixed BEFORE UPDATE OR DELETE ON uatrun.meta"
    "  FOR EACH ROW EXECUTE FUNCTION uatrun.meta_guard();"
    "CREATE OR REPLACE TRIGGER meta_no_truncate BEFORE TRUNCATE ON uatrun.meta"
    "  FOR EACH STATEMENT EXECUTE FUNCTION uatrun.refuse_change();"
    "ALTER TABLE uatrun.entries ENABLE ROW LEVEL SECURITY;"
    "DROP POLICY IF EXISTS uatrun_read ON uatrun.entries;"
    "CREATE POLICY uatrun_read ON uatrun.entries FOR SELECT USING (true);",
};
#define PG_SCHEMA_VERSION ((int)(sizeof pg_migrations / sizeof pg_migrations[0]))

/* The steps from version to PG_SCHEMA_VERSION, each followed by its version bump. */
static int migrations_sql(int version, struct uat_strbuf *sql) {
  for (int v = version; v < PG_SCHEMA_VERSION; v++)
    if (uat_strbuf_adds(sql, pg_migrations[v]) != 0 ||
        uat_strbuf_addf(sql, "UPDATE uatrun.meta SET value = '%d' WHERE key = 'schema_version';",
                        v + 1) != 0)
      return -1;
  return 0;
}

char *uat_ledger_pg_password(const char *url) {
  PQconninfoOption *opts = PQconninfoParse(url, NULL);
  char *password = NULL;
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
      password = strdup(o->val);
  PQconninfoFree(opts);
  return password;
}

char *uat_ledger_pg_shown_name(const char *url) {
  char *password = uat_ledger_pg_password(url);
  struct uat_redactor r;
  uat_redactor_init(&r);
  char *shown = NULL;
  if (!password || uat_redactor_add(&r, password) == 0)
    shown = uat_redact(&r, url);
  uat_redactor_release(&r);
  if (password) {
    memset(password, 0, strlen(password));
    free(password);
  }
  return shown;
}

/* libpq's last message on one line, redacted. */
static void pg_message(const struct pg_ledger *l, const char *raw, char *out, size_t size) {
  char *text = uat_redact(&l->redactor, raw ? raw : "");
  snprintf(out, size, "%s", text ? text : "unknown error");
  free(text);
  size_t n = strlen(out);
  while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
    out[--n] = '\0';
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\t')
      *p = ' ';
}

static int pg_fail(const struct pg_ledger *l, const PGresult *res, const char *doing,
                   struct uat_error *err) {
  char msg[1024];
  pg_message(l, res ? PQresultErrorMessage(res) : PQerrorMessage(l->conn), msg, sizeof msg);
  if (!*msg)
    pg_message(l, PQerrorMessage(l->conn), msg, sizeof msg);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (state && strcmp(state, "42501") == 0)
    return uat_error_set(err,
                         "ledger '%s': %s was refused: %s; nothing was recorded (the CI role may "
                         "insert runs, a signer only decisions signed as themselves)",
                         l->shown, doing, msg);
  return uat_error_set(err,
                       "ledger '%s': %s failed: %s; check the database or run `uatrun "
                       "verify-ledger`",
                       l->shown, doing, msg);
}

/* Runs one command; 0 when it succeeded. */
static int pg_exec(struct pg_ledger *l, const char *sql, const char *doing, struct uat_error *err) {
  PGresult *res = PQexec(l->conn, sql);
  ExecStatusType st = PQresultStatus(res);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_fail(l, res, doing, err);
  PQclear(res);
  return rc;
}

static void pg_rollback(struct pg_ledger *l) {
  if (PQtransactionStatus(l->conn) != PQTRANS_IDLE)
    PQclear(PQexec(l->conn, "ROLLBACK"));
}

/* ---------- open / close ---------- */

static void pg_close(void *b) {
  struct pg_ledger *l = b;
  if (!l)
    return;
  PQfinish(l->conn);
  uat_redactor_release(&l->redactor);
  free(l);
}

static int pg_connect(const char *url, const char *shown, struct pg_ledger **out,
                      struct uat_error *err) {
  struct pg_ledger *l = calloc(1, sizeof *l);
  if (!l)
    return uat_error_set(err, "cannot open the ledger '%s': out of memory", shown);
  l->shown = shown;
  uat_redactor_init(&l->redactor);
  char *password = uat_ledger_pg_password(url);
  int added = password ? uat_redactor_add(&l->redactor, password) : 0;
  free(password);
  l->conn = added == 0 ? PQconnectdb(url) : NULL;
  if (!l->conn || PQstatus(l->conn) != CONNECTION_OK) {
    char msg[1024];
    pg_message(l, l->conn ? PQerrorMessage(l->conn) : "out of memory", msg, sizeof msg);
    uat_error_set(err,
                  "cannot connect to the ledger '%s': %s; check the URL, the server, and the "
                  "user and password (PG* variables, ~/.pgpass)",
                  shown, msg);
    pg_close(l);
    return -1;
  }
  /* A writer that holds the chain head too long (a hung client) fails the others after two
   * minutes with a message, instead of leaving them waiting for ever, as SQLite's busy
   * timeout does. */
  PQclear(PQexec(l->conn, "SET client_min_messages = warning"));
  PQclear(PQexec(l->conn, "SET lock_timeout = '120s'"));
  *out = l;
  return 0;
}

/* The schema version the database holds; 0 when it has no uatrun ledger. */
static int schema_version(struct pg_ledger *l, int *version, struct uat_error *err) {
  *version = 0;
  PGresult *res =
      PQexec(l->conn, "SELECT (SELECT value FROM uatrun.meta WHERE key = 'application'), "
                      "(SELECT value FROM uatrun.meta WHERE key = 'schema_version') "
                      "WHERE to_regclass('uatrun.meta') IS NOT NULL");
  int rc = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    /* to_regclass is evaluated lazily only in theory: a missing table lands here too. */
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state || (strcmp(state, "42P01") != 0 && strcmp(state, "3F000") != 0))
      rc = pg_fail(l, res, "reading the ledger's identity", err);
  } else if (PQntuples(res) == 1) {
    const char *app = PQgetvalue(res, 0, 0);
    if (PQgetisnull(res, 0, 0) || strcmp(app, PG_APP_NAME) != 0)
      rc = uat_error_set(err,
                         "the database '%s' has a uatrun schema but not a uatrun ledger; point "
                         "`ledger:` (or UATRUN_LEDGER) elsewhere",
                         l->shown);
    else
      *version = atoi(PQgetvalue(res, 0, 1));
  }
  PQclear(res);
  return rc;
}

static int pg_open(const char *url, const char *shown, enum uat_ledger_mode mode, void **out,
                   struct uat_error *err) {
  *out = NULL;
  struct pg_ledger *l;
  if (pg_connect(url, shown, &l, err) != 0)
    return -1;
  int version;
  int rc = schema_version(l, &version, err);
  if (rc == 0 && version == 0)
    rc = uat_error_set(err,
                       "the database '%s' holds no uatrun ledger yet; create it once with `uatrun "
                       "ledger init URL` as the database owner",
                       shown);
  else if (rc == 0 && version > PG_SCHEMA_VERSION)
    rc = uat_error_set(err,
                       "the ledger '%s' was written by a newer uatrun (schema %d, this one knows "
                       "%d); upgrade uatrun",
                       shown, version, PG_SCHEMA_VERSION);
  else if (rc == 0 && version < PG_SCHEMA_VERSION)
    rc = uat_error_set(err,
                       "the ledger '%s' has an older schema (%d); upgrade it with `uatrun ledger "
                       "init URL` as the database owner",
                       shown, version);
  if (rc != 0) {
    pg_close(l);
    return -1;
  }
  /* A reader never writes, whatever its grants (the same as a read-only SQLite file). */
  if (mode == UAT_LEDGER_READ &&
      pg_exec(l, "SET default_transaction_read_only = on", "opening for reading", err) != 0) {
    pg_close(l);
    return -1;
  }
  *out = l;
  return 0;
}

/* ---------- rows ---------- */

static json_t *row_fields(const PGresult *res, int r) {
  json_t *row = json_object();
  for (int i = 0; row && i < UAT_LEDGER_NFIELDS; i++) {
    json_t *v;
    if (PQgetisnull(res, r, i))
      v = json_null();
    else if (uat_ledger_fields[i].integer)
      v = json_integer(strtoll(PQgetvalue(res, r, i), NULL, 10));
    else
      v = json_stringn(PQgetvalue(res, r, i), (size_t)PQgetlength(res, r, i));
    if (!v || json_object_set_new(row, uat_ledger_fields[i].key, v) != 0) {
      json_decref(row);
      return NULL;
    }
  }
  return row;
}

/* The query of each kind: $1 playbook, $2 release, $3 commit, $4 limit (NULL: all). */
static const char *query_sql(enum uat_ledger_query q) {
  switch (q) {
  case UAT_LEDGER_Q_LATEST_RUN:
    return "SELECT " UAT_LEDGER_ROW_COLUMNS " FROM uatrun.entries WHERE kind = 'run' AND "
           "playbook = $1 AND release IS NOT DISTINCT FROM $2 AND commit_sha IS NOT DISTINCT "
           "FROM $3 AND $4::int IS NULL ORDER BY seq DESC LIMIT 1";
  case UAT_LEDGER_Q_RELEASE_RUNS:
    return "SELECT " UAT_LEDGER_ROW_COLUMNS " FROM uatrun.entries WHERE kind = 'run' AND "
           "playbook = $1 AND release IS NOT DISTINCT FROM $2 AND ($3::text IS NULL OR true) "
           "AND $4::int IS NULL ORDER BY seq DESC";
  case UAT_LEDGER_Q_DECISIONS:
    return "SELECT " UAT_LEDGER_ROW_COLUMNS " FROM uatrun.entries WHERE kind = 'decision' AND "
           "playbook = $1 AND release IS NOT DISTINCT FROM $2 AND commit_sha IS NOT DISTINCT "
           "FROM $3 AND $4::int IS NULL ORDER BY seq";
  case UAT_LEDGER_Q_HISTORY:
    return "SELECT " UAT_LEDGER_ROW_COLUMNS " FROM uatrun.entries WHERE playbook = $1 AND "
           "($2::text IS NULL OR release = $2) AND ($3::text IS NULL OR true) ORDER BY seq DESC "
           "LIMIT $4::int";
  case UAT_LEDGER_Q_CHAIN:
    /* One statement is one snapshot: rows committed meanwhile are not half seen. */
    return "SELECT " UAT_LEDGER_ROW_COLUMNS " FROM uatrun.entries WHERE ($1::text IS NULL OR "
           "true) AND ($2::text IS NULL OR true) AND ($3::text IS NULL OR true) AND $4::int IS "
           "NULL ORDER BY seq";
  }
  return NULL;
}

static int pg_select(void *b, enum uat_ledger_query q, const struct uat_ledger_filter *f,
                     uat_ledger_row_fn fn, void *ctx, struct uat_error *err) {
  struct pg_ledger *l = b;
  char limit[24];
  snprintf(limit, sizeof limit, "%d", f->limit);
  const char *params[4] = {f->playbook, f->release, f->commit,
                           q == UAT_LEDGER_Q_HISTORY && f->limit > 0 ? limit : NULL};
  PGresult *res = PQexecParams(l->conn, query_sql(q), 4, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    int rc = pg_fail(l, res, "reading the ledger", err);
    PQclear(res);
    return rc;
  }
  int rc = 0;
  for (int r = 0; rc == 0 && r < PQntuples(res); r++) {
    struct uat_ledger_row row = {row_fields(res, r), PQgetvalue(res, r, UAT_LF_PREV_HASH),
                                 PQgetvalue(res, r, UAT_LF_HASH)};
    rc = row.fields ? fn(&row, ctx, err)
                    : uat_error_set(err, "cannot read the ledger '%s': out of memory", l->shown);
    json_decref(row.fields);
  }
  PQclear(res);
  return rc;
}

/* ---------- appending ---------- */

static int insert_row(struct pg_ledger *l, const json_t *fields, const char *prev, const char *hash,
                      struct uat_error *err) {
  static const char sql[] = "INSERT INTO uatrun.entries(" UAT_LEDGER_ROW_COLUMNS
                            ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)";
  char ints[UAT_LEDGER_NFIELDS][24];
  const char *params[UAT_LEDGER_NFIELDS + 2];
  for (int i = 0; i < UAT_LEDGER_NFIELDS; i++) {
    json_t *v = json_object_get((json_t *)fields, uat_ledger_fields[i].key);
    params[i] = NULL;
    if (json_is_integer(v)) {
      snprintf(ints[i], sizeof ints[i], "%lld", (long long)json_integer_value(v));
      params[i] = ints[i];
    } else if (json_is_string(v)) {
      params[i] = json_string_value(v);
    }
  }
  params[UAT_LF_PREV_HASH] = prev;
  params[UAT_LF_HASH] = hash;
  PGresult *res = PQexecParams(l->conn, sql, UAT_LEDGER_NFIELDS + 2, NULL, params, NULL, NULL, 0);
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(l, res, "writing a row", err);
  PQclear(res);
  return rc;
}

static int pg_insert(void *b, const json_t *fields, const char *prev, const char *hash,
                     struct uat_error *err) {
  return insert_row(b, fields, prev, hash, err);
}

/* Begins a write holding the chain head's lock, and reads the tail under it. */
static int begin_write(struct pg_ledger *l, int64_t *seq, char hash[UAT_HASH_HEX],
                       struct uat_error *err) {
  if (pg_exec(l, "BEGIN", "starting a write", err) != 0)
    return -1;
  if (pg_exec(l, "SELECT pg_advisory_xact_lock(" PG_CHAIN_LOCK ")", "locking the chain head",
              err) != 0)
    return -1;
  PGresult *res = PQexec(l->conn, "SELECT seq, hash FROM uatrun.entries ORDER BY seq DESC LIMIT 1");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    int rc = pg_fail(l, res, "reading the chain head", err);
    PQclear(res);
    return rc;
  }
  *seq = 0;
  snprintf(hash, UAT_HASH_HEX, "%s", UAT_LEDGER_GENESIS);
  if (PQntuples(res) == 1) {
    *seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(hash, UAT_HASH_HEX, "%s", PQgetvalue(res, 0, 1));
  }
  PQclear(res);
  return 0;
}

static int commit_write(struct pg_ledger *l, struct uat_error *err) {
  PGresult *res = PQexec(l->conn, "COMMIT");
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_fail(l, res, "committing", err);
  PQclear(res);
  return rc;
}

static int pg_append(void *b, json_t *const *rows, size_t n, int64_t *seqs, char head[UAT_HASH_HEX],
                     struct uat_error *err) {
  struct pg_ledger *l = b;
  int64_t last;
  char prev[UAT_HASH_HEX];
  if (begin_write(l, &last, prev, err) != 0 ||
      uat_ledger_chain_rows(l->shown, rows, n, last, prev, pg_insert, l, seqs, head, err) != 0 ||
      commit_write(l, err) != 0)
    goto fail;
  return 0;
fail:
  pg_rollback(l);
  return -1;
}

static int pg_insert_verbatim(void *b, const struct uat_ledger_row *rows, size_t n,
                              struct uat_error *err) {
  struct pg_ledger *l = b;
  int64_t last;
  char tail[UAT_HASH_HEX];
  if (begin_write(l, &last, tail, err) != 0)
    goto fail;
  for (size_t i = 0; i < n; i++)
    if (insert_row(l, rows[i].fields, rows[i].prev_hash, rows[i].hash, err) != 0)
      goto fail;
  if (commit_write(l, err) == 0)
    return 0;
fail:
  pg_rollback(l);
  return -1;
}

static int pg_check(void *b, struct uat_error *err) {
  return 0;
}

static int pg_identity(void *b, char **user, struct uat_error *err) {
  struct pg_ledger *l = b;
  *user = NULL;
  PGresult *res = PQexec(l->conn, "SELECT session_user");
  int rc = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    rc = pg_fail(l, res, "asking who you are", err);
  else if (!(*user = strdup(PQgetvalue(res, 0, 0))))
    rc = uat_error_set(err, "cannot read the ledger '%s': out of memory", l->shown);
  PQclear(res);
  return rc;
}

const struct uat_ledger_backend uat_ledger_pg_backend = {
    .name = "PostgreSQL",
    .open = pg_open,
    .close = pg_close,
    .append = pg_append,
    .insert_verbatim = pg_insert_verbatim,
    .select = pg_select,
    .check = pg_check,
    .identity = pg_identity,
};

/* ---------- ledger init ---------- */

/* Creates the group role when missing (NOLOGIN: people log in as themselves, members of it). */
static int ensure_role(struct pg_ledger *l, const char *role, struct uat_strbuf *sql,
                       struct uat_error *err) {
  const char *params[1] = {role};
  PGresult *res = PQexecParams(l->conn, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, NULL,
                               params, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    int rc = pg_fail(l, res, "looking up roles", err);
    PQclear(res);
    return rc;
  }
  bool exists = PQntuples(res) == 1;
  PQclear(res);
  char *id = PQescapeIdentifier(l->conn, role, strlen(role));
  if (!id)
    return pg_fail(l, NULL, "quoting a role name", err);
  int rc = exists ? 0 : uat_strbuf_addf(sql, "CREATE ROLE %s NOLOGIN;", id);
  PQfreemem(id);
  return rc == 0 ? 0 : uat_error_set(err, "cannot initialise the ledger: out of memory");
}

/* Grants and row-level policies: read for both, INSERT of runs for CI, INSERT of decisions
 * signed as themselves for signers, nothing else for anyone. */
static int grants_sql(struct pg_ledger *l, const char *ci, const char *signer,
                      struct uat_strbuf *sql, struct uat_error *err) {
  char *c = PQescapeIdentifier(l->conn, ci, strlen(ci));
  char *s = PQescapeIdentifier(l->conn, signer, strlen(signer));
  int rc = -1;
  if (c && s) {
    rc = uat_strbuf_addf(
        sql,
        "GRANT USAGE ON SCHEMA uatrun TO %s, %s;"
        "GRANT SELECT ON uatrun.meta, uatrun.entries TO %s, %s;"
        "GRANT INSERT ON uatrun.entries TO %s, %s;"
        "REVOKE UPDATE, DELETE, TRUNCATE ON uatrun.entries, uatrun.meta FROM %s, %s;"
        "DROP POLICY IF EXISTS uatrun_ci_inserts_runs ON uatrun.entries;"
        "CREATE POLICY uatrun_ci_inserts_runs ON uatrun.entries FOR INSERT TO %s"
        "  WITH CHECK (kind = 'run');"
        "DROP POLICY IF EXISTS uatrun_signers_insert_decisions ON uatrun.entries;"
        "CREATE POLICY uatrun_signers_insert_decisions ON uatrun.entries FOR INSERT TO %s"
        "  WITH CHECK (kind = 'decision' AND signer = session_user);",
        c, s, c, s, c, s, c, s, c, s);
  }
  PQfreemem(c);
  PQfreemem(s);
  if (rc != 0)
    return uat_error_set(err, "cannot initialise the ledger '%s': out of memory", l->shown);
  return 0;
}

int uat_ledger_pg_init(const char *url, const char *ci_role, const char *signer_role,
                       struct uat_error *err) {
  char *shown = uat_ledger_pg_shown_name(url);
  if (!shown)
    return uat_error_set(err, "cannot initialise the ledger: out of memory");
  if (strcmp(ci_role, signer_role) == 0) {
    uat_error_set(err,
                  "--ci-role and --signer-role are both '%s': CI must not be able to sign, so "
                  "give them different names",
                  ci_role);
    free(shown);
    return -1;
  }
  struct pg_ledger *l;
  if (pg_connect(url, shown, &l, err) != 0) {
    free(shown);
    return -1;
  }
  struct uat_strbuf sql;
  uat_strbuf_init(&sql, 0);
  int version = 0;
  int rc = schema_version(l, &version, err);
  if (rc == 0 && version > PG_SCHEMA_VERSION)
    rc = uat_error_set(err, "the ledger '%s' was written by a newer uatrun; upgrade uatrun", shown);
  if (rc == 0 && uat_strbuf_adds(&sql, "BEGIN;") != 0)
    rc = uat_error_set(err, "cannot initialise the ledger: out of memory");
  if (rc == 0)
    rc = ensure_role(l, ci_role, &sql, err);
  if (rc == 0)
    rc = ensure_role(l, signer_role, &sql, err);
  if (rc == 0 && migrations_sql(version, &sql) != 0)
    rc = uat_error_set(err, "cannot initialise the ledger: out of memory");
  if (rc == 0)
    rc = grants_sql(l, ci_role, signer_role, &sql, err);
  if (rc == 0 && uat_strbuf_adds(&sql, "COMMIT;") != 0)
    rc = uat_error_set(err, "cannot initialise the ledger: out of memory");
  if (rc == 0)
    rc = pg_exec(l, sql.buf, "creating the schema and roles", err);
  pg_rollback(l);
  uat_strbuf_release(&sql);
  pg_close(l);
  free(shown);
  return rc;
}
