/* Rows of the ledger, whatever stores them. Each row's hash is SHA-256 over the previous
 * row's hash, a newline, and the row's canonical content: a compact JSON object with sorted
 * keys (jansson JSON_COMPACT | JSON_SORT_KEYS) of every stored column but the two hashes,
 * NULL columns as null, the payload as the exact stored string. SQLite and PostgreSQL both
 * hash through here, so a ledger copied between them keeps its hashes. */
#include "ledger/ledger_rows.h"

#include "ledger/digest.h"
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct uat_ledger_field uat_ledger_fields[UAT_LEDGER_NFIELDS] = {
    {"seq", "seq", true},
    {"kind", "kind", false},
    {"time", "time", true},
    {"playbook", "playbook", false},
    {"digest", "digest", false},
    {"release", "release", false},
    {"commit", "commit_sha", false},
    {"role", "role", false},
    {"item", "item", false},
    {"signer", "signer", false},
    {"approve", "approve", true},
    {"passed", "passed", true},
    {"payload", "payload", false},
};

static bool is_hashed_key(const char *key) {
  for (size_t i = 0; i < UAT_LEDGER_NFIELDS; i++)
    if (strcmp(key, uat_ledger_fields[i].key) == 0)
      return true;
  return false;
}

char *uat_ledger_canonical_row(const json_t *fields) {
  if (!json_is_object(fields))
    return NULL;
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)fields, key, value) {
    if (!is_hashed_key(key))
      return NULL;
  }
  json_t *full = json_deep_copy(fields);
  if (!full || uat_ledger_row_complete(full) != 0) {
    json_decref(full);
    return NULL;
  }
  char *s = json_dumps(full, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(full);
  return s;
}

int uat_ledger_canonical_hash(const char *prev_hash, const json_t *fields,
                              char out[UAT_LEDGER_HASH_HEX]) {
  char *canonical = uat_ledger_canonical_row(fields);
  if (!canonical)
    return -1;
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_addf(&sb, "%s\n%s", prev_hash, canonical);
  free(canonical);
  if (rc == 0)
    uat_sha256_hex(sb.buf, sb.len, out);
  uat_strbuf_release(&sb);
  return rc == 0 ? 0 : -1;
}

char *uat_ledger_canonical_decision(const struct uat_decision *d) {
  json_t *o = json_pack("{s:s, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:i, s:s?, s:I}",
                        "kind", "decision", "time", (json_int_t)d->time, "playbook", d->playbook,
                        "digest", d->digest, "release", d->release, "commit", d->commit, "role",
                        d->role, "item", d->item, "signer", d->signer, "approve",
                        d->approve ? 1 : 0, "note", d->note, "run_seq", (json_int_t)d->run_seq);
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  return s;
}

int uat_ledger_row_complete(json_t *fields) {
  for (size_t i = 0; i < UAT_LEDGER_NFIELDS; i++)
    if (!json_object_get(fields, uat_ledger_fields[i].key) &&
        json_object_set_new(fields, uat_ledger_fields[i].key, json_null()) != 0)
      return -1;
  return 0;
}

int uat_ledger_chain_rows(const char *where, json_t *const *fields, size_t n, int64_t last,
                          const char *tail, uat_ledger_insert_fn insert, void *backend,
                          int64_t *seqs, char head[UAT_LEDGER_HASH_HEX], struct uat_error *err) {
  char prev[UAT_LEDGER_HASH_HEX], hash[UAT_LEDGER_HASH_HEX];
  snprintf(prev, sizeof prev, "%s", tail);
  for (size_t i = 0; i < n; i++) {
    if (json_object_set_new(fields[i], "seq", json_integer(last + 1)) != 0 ||
        uat_ledger_canonical_hash(prev, fields[i], hash) != 0)
      return uat_error_set(err, "cannot write the ledger '%s': out of memory", where);
    if (insert(backend, fields[i], prev, hash, err) != 0)
      return -1;
    seqs[i] = ++last;
    memcpy(prev, hash, sizeof prev);
  }
  if (head)
    snprintf(head, UAT_LEDGER_HASH_HEX, "%s", prev);
  return 0;
}

/* ---------- the rows of a run and of a decision ---------- */

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
  if (!checks) {
    json_decref(build);
    return NULL;
  }
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

json_t *uat_ledger_run_fields(const char *where, const struct uat_run_result *run,
                              const char *uatrun_version, struct uat_error *err) {
  if (!run->playbook_name) {
    uat_error_set(err, "cannot record the run in '%s': it names no playbook", where);
    return NULL;
  }
  char *payload = run_payload(run, uatrun_version);
  int64_t when = run->finished_at ? run->finished_at : (int64_t)time(NULL);
  json_t *row = payload
                    ? json_pack("{s:s, s:I, s:s, s:s*, s:s*, s:s*, s:i, s:s}", "kind", "run",
                                "time", (json_int_t)when, "playbook", run->playbook_name, "digest",
                                run->digest, "release", run->release, "commit", run->commit,
                                "passed", uat_run_result_passed(run) ? 1 : 0, "payload", payload)
                    : NULL;
  free(payload);
  if (!row || uat_ledger_row_complete(row) != 0) {
    json_decref(row);
    uat_error_set(
        err, "cannot record the run in '%s': a field is not valid UTF-8 (or out of memory)", where);
    return NULL;
  }
  return row;
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

/* The payload keeps what the columns do not: the note, the run the signer saw, and the
 * signature when there is one (absent otherwise, so unsigned rows hash as they always did). */
static char *decision_payload(const struct uat_decision *d) {
  json_t *p = json_pack("{s:s*, s:I}", "note", d->note, "run_seq", (json_int_t)d->run_seq);
  if (p && d->signature && json_object_set_new(p, "signature", json_string(d->signature)) != 0) {
    json_decref(p);
    return NULL;
  }
  return dump_payload(p);
}

json_t *uat_ledger_decision_fields(const char *where, struct uat_decision *d,
                                   struct uat_error *err) {
  const char *missing = missing_decision_field(d);
  if (missing) {
    uat_error_set(err, "cannot record the decision in '%s': its %s is empty", where, missing);
    return NULL;
  }
  if (d->time == 0)
    d->time = (int64_t)time(NULL);
  char *payload = decision_payload(d);
  json_t *row = payload ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                                    "kind", "decision", "time", (json_int_t)d->time, "playbook",
                                    d->playbook, "digest", d->digest, "release", d->release,
                                    "commit", d->commit, "role", d->role, "item", d->item, "signer",
                                    d->signer, "approve", d->approve ? 1 : 0, "payload", payload)
                        : NULL;
  free(payload);
  if (!row || uat_ledger_row_complete(row) != 0) {
    json_decref(row);
    uat_error_set(err,
                  "cannot record the decision in '%s': a field is not valid UTF-8 (or out "
                  "of memory)",
                  where);
    return NULL;
  }
  return row;
}

/* ---------- reading records back ---------- */

int64_t uat_ledger_row_int(const struct uat_ledger_row *row, int field) {
  return json_integer_value(json_object_get(row->fields, uat_ledger_fields[field].key));
}

const char *uat_ledger_row_text(const struct uat_ledger_row *row, int field) {
  return json_string_value(json_object_get(row->fields, uat_ledger_fields[field].key));
}

bool uat_ledger_row_is_run(const struct uat_ledger_row *row) {
  const char *kind = uat_ledger_row_text(row, UAT_LF_KIND);
  return kind && strcmp(kind, "run") == 0;
}

/* A column that may legitimately be NULL copied; false only when memory ran out. */
static bool copy_text(const struct uat_ledger_row *row, int field, char **out) {
  const char *s = uat_ledger_row_text(row, field);
  *out = s ? strdup(s) : NULL;
  return *out || !s;
}

static json_t *row_payload(const struct uat_ledger_row *row) {
  const char *text = uat_ledger_row_text(row, UAT_LF_PAYLOAD);
  return text ? json_loads(text, 0, NULL) : NULL;
}

void uat_ledger_decision_clear(struct uat_decision *d) {
  free(d->playbook);
  free(d->digest);
  free(d->release);
  free(d->commit);
  free(d->role);
  free(d->item);
  free(d->signer);
  free(d->note);
  free(d->signature);
  memset(d, 0, sizeof *d);
}

static bool copy_json_text(json_t *payload, const char *key, char **out) {
  const char *s = json_string_value(json_object_get(payload, key));
  *out = s ? strdup(s) : NULL;
  return *out || !s;
}

int uat_ledger_fill_decision(const struct uat_ledger_row *row, struct uat_decision *d) {
  memset(d, 0, sizeof *d);
  d->seq = uat_ledger_row_int(row, UAT_LF_SEQ);
  d->time = uat_ledger_row_int(row, UAT_LF_TIME);
  d->approve = uat_ledger_row_int(row, UAT_LF_APPROVE) != 0;
  json_t *payload = row_payload(row);
  bool ok = json_is_object(payload) && copy_text(row, UAT_LF_PLAYBOOK, &d->playbook) &&
            copy_text(row, UAT_LF_DIGEST, &d->digest) &&
            copy_text(row, UAT_LF_RELEASE, &d->release) &&
            copy_text(row, UAT_LF_COMMIT, &d->commit) && copy_text(row, UAT_LF_ROLE, &d->role) &&
            copy_text(row, UAT_LF_ITEM, &d->item) && copy_text(row, UAT_LF_SIGNER, &d->signer) &&
            copy_json_text(payload, "note", &d->note) &&
            copy_json_text(payload, "signature", &d->signature);
  if (ok)
    d->run_seq = json_integer_value(json_object_get(payload, "run_seq"));
  json_decref(payload);
  if (!ok) {
    uat_ledger_decision_clear(d);
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

/* Every check of the run with its outcome, attempts, time and (redacted) error. */
static int fill_checks(json_t *checks, struct uat_run_record *r) {
  size_t n = json_array_size(checks);
  if (n == 0)
    return 0;
  if (!(r->checks = calloc(n, sizeof *r->checks)))
    return -1;
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(checks, i);
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *outcome = json_string_value(json_object_get(c, "outcome"));
    const char *error = json_string_value(json_object_get(c, "error"));
    if (!id || !outcome)
      continue;
    struct uat_run_check *rc = &r->checks[r->nchecks++];
    rc->attempts = (int)json_integer_value(json_object_get(c, "attempts"));
    rc->duration_s = json_number_value(json_object_get(c, "duration_s"));
    rc->id = strdup(id);
    rc->outcome = strdup(outcome);
    rc->error = error ? strdup(error) : NULL;
    if (!rc->id || !rc->outcome || (error && !rc->error))
      return -1;
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

int uat_ledger_fill_run(const struct uat_ledger_row *row, struct uat_run_record *r) {
  memset(r, 0, sizeof *r);
  r->found = true;
  r->seq = uat_ledger_row_int(row, UAT_LF_SEQ);
  r->time = uat_ledger_row_int(row, UAT_LF_TIME);
  r->passed = uat_ledger_row_int(row, UAT_LF_PASSED) != 0;
  json_t *payload = row_payload(row);
  bool ok = json_is_object(payload) && copy_text(row, UAT_LF_DIGEST, &r->digest) &&
            copy_text(row, UAT_LF_RELEASE, &r->release) &&
            copy_text(row, UAT_LF_COMMIT, &r->commit);
  if (ok) {
    json_t *counts = json_object_get(payload, "counts");
    r->npassed = json_count(counts, "passed");
    r->nfailed = json_count(counts, "failed");
    r->nerrored = json_count(counts, "errored");
    ok = fill_failed_ids(json_object_get(payload, "checks"), r) == 0 &&
         fill_checks(json_object_get(payload, "checks"), r) == 0;
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

/* ---------- verification ---------- */

static void format_time(int64_t t, char out[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
    snprintf(out, 32, "%lld", (long long)t);
}

/* "row 17 (decision by 'myriam' at 2026-11-20 10:02 UTC)" for messages. */
static void describe_row(const struct uat_ledger_row *row, char *out, size_t size) {
  char when[32];
  format_time(uat_ledger_row_int(row, UAT_LF_TIME), when);
  const char *kind = uat_ledger_row_text(row, UAT_LF_KIND);
  const char *signer = uat_ledger_row_text(row, UAT_LF_SIGNER);
  const char *release = uat_ledger_row_text(row, UAT_LF_RELEASE);
  long long seq = (long long)uat_ledger_row_int(row, UAT_LF_SEQ);
  if (kind && strcmp(kind, "decision") == 0)
    snprintf(out, size, "row %lld (decision by '%s' at %s)", seq, signer ? signer : "?", when);
  else
    snprintf(out, size, "row %lld (run of release '%s' at %s)", seq, release ? release : "unknown",
             when);
}

bool uat_ledger_is_hash_text(const char *s) {
  if (strlen(s) != UAT_LEDGER_HASH_HEX - 1)
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
      return false;
  return true;
}

int uat_ledger_verify_row(const char *where, const struct uat_ledger_row *row, int64_t expected_seq,
                          const char *prev, struct uat_error *err) {
  int64_t seq = uat_ledger_row_int(row, UAT_LF_SEQ);
  char what[256];
  describe_row(row, what, sizeof what);
  if (seq > expected_seq && seq == expected_seq + 1)
    return uat_error_set(err,
                         "ledger '%s': row %lld is missing (deleted); restore the ledger from a "
                         "backup and find out who removed it",
                         where, (long long)expected_seq);
  if (seq > expected_seq)
    return uat_error_set(err,
                         "ledger '%s': rows %lld..%lld are missing (deleted); restore the ledger "
                         "from a backup and find out who removed them",
                         where, (long long)expected_seq, (long long)(seq - 1));
  if (seq < expected_seq)
    return uat_error_set(err, "ledger '%s': %s has an impossible row number — it was inserted",
                         where, what);
  char computed[UAT_LEDGER_HASH_HEX] = "";
  int hashed =
      row->prev_hash ? uat_ledger_canonical_hash(row->prev_hash, row->fields, computed) : -1;
  if (hashed != 0 || !row->hash || strcmp(computed, row->hash) != 0)
    return uat_error_set(err,
                         "ledger '%s': %s: content does not match its hash — it was edited; "
                         "restore the ledger from a backup",
                         where, what);
  if (strcmp(row->prev_hash, prev) != 0)
    return uat_error_set(err,
                         "ledger '%s': %s: previous-hash link broken — a row before it was "
                         "deleted or inserted; restore the ledger from a backup",
                         where, what);
  return 0;
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
  for (size_t i = 0; i < run->nchecks; i++) {
    free(run->checks[i].id);
    free(run->checks[i].outcome);
    free(run->checks[i].error);
  }
  free(run->checks);
  memset(run, 0, sizeof *run);
}
