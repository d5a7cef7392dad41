/* What every ledger backend shares: the hashed row (its fields, its canonical bytes, its
 * hash), the rows of a run and of a decision, reading records back out of rows, and the
 * check of one row against the one before it. Pure functions: no SQL, no I/O, so the
 * canonicaliser can be tested and fuzzed alone and SQLite and PostgreSQL hash alike.
 * Internal to src/ledger (the backends and ledger.c include it, nothing above them).
 * Ownership: returned json_t / char * are the caller's; a struct uat_ledger_row borrows. */
#ifndef UAT_LEDGER_ROWS_H
#define UAT_LEDGER_ROWS_H

#include "gate/gate.h"
#include "util/error.h"
#include "util/result.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UAT_LEDGER_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define UAT_LEDGER_HASH_HEX 65

/* The hashed columns: JSON key, SQL column, and whether the column holds an integer. */
struct uat_ledger_field {
  const char *key;
  const char *column;
  bool integer;
};
extern const struct uat_ledger_field uat_ledger_fields[];
#define UAT_LEDGER_NFIELDS 13
enum {
  UAT_LF_SEQ,
  UAT_LF_KIND,
  UAT_LF_TIME,
  UAT_LF_PLAYBOOK,
  UAT_LF_DIGEST,
  UAT_LF_RELEASE,
  UAT_LF_COMMIT,
  UAT_LF_ROLE,
  UAT_LF_ITEM,
  UAT_LF_SIGNER,
  UAT_LF_APPROVE,
  UAT_LF_PASSED,
  UAT_LF_PAYLOAD,
  UAT_LF_PREV_HASH, /* not hashed: the SQL column order of ROW_COLUMNS continues with these */
  UAT_LF_HASH
};
#define UAT_LEDGER_ROW_COLUMNS                                                                     \
  "seq, kind, time, playbook, digest, release, commit_sha, role, item, signer, approve, passed, "  \
  "payload, prev_hash, hash"

/* One stored row: fields holds the UAT_LEDGER_NFIELDS hashed keys (null when NULL). */
struct uat_ledger_row {
  json_t *fields;
  const char *prev_hash;
  const char *hash;
};

/* The canonical bytes of a row: compact JSON with sorted keys of exactly the hashed fields,
 * every one present (null when absent). NULL when fields is not an object, holds a key that
 * is not a hashed field, or memory ran out. */
char *uat_ledger_canonical_row(const json_t *fields);
/* SHA-256 hex of prev_hash, "\n", canonical row. 0, or -1 as uat_ledger_canonical_row. */
int uat_ledger_canonical_hash(const char *prev_hash, const json_t *fields,
                              char out[UAT_LEDGER_HASH_HEX]);
/* The bytes a signer signs: compact sorted JSON of what the decision says (no row number,
 * no chain, no signature), so it can be signed before the row is chained. */
char *uat_ledger_canonical_decision(const struct uat_decision *d);

/* Stores one chained row (a backend's INSERT). 0, or -1 with err set. */
typedef int (*uat_ledger_insert_fn)(void *backend, const json_t *fields, const char *prev_hash,
                                    const char *hash, struct uat_error *err);
/* Numbers fields[0..n) after the tail (row last, hash tail), hashes each onto the one before
 * and stores it with insert; seqs[i] receives each number, head (if not NULL) the new head.
 * Both backends append through here, under their own write lock and transaction. */
int uat_ledger_chain_rows(const char *where, json_t *const *fields, size_t n, int64_t last,
                          const char *tail, uat_ledger_insert_fn insert, void *backend,
                          int64_t *seqs, char head[UAT_LEDGER_HASH_HEX], struct uat_error *err);

/* Gives every hashed key a value (null when absent). 0 or -1 (out of memory). */
int uat_ledger_row_complete(json_t *fields);

/* The fields of a run / a decision without seq (NULL with err set). where names the ledger
 * in messages. A decision with d->time 0 is dated now. */
json_t *uat_ledger_run_fields(const char *where, const struct uat_run_result *run,
                              const char *uatrun_version, struct uat_error *err);
json_t *uat_ledger_decision_fields(const char *where, struct uat_decision *d,
                                   struct uat_error *err);

/* Records read back out of a row (the caller clears them); -1: bad payload or out of memory. */
int uat_ledger_fill_decision(const struct uat_ledger_row *row, struct uat_decision *d);
int uat_ledger_fill_run(const struct uat_ledger_row *row, struct uat_run_record *r);
void uat_ledger_decision_clear(struct uat_decision *d);
bool uat_ledger_row_is_run(const struct uat_ledger_row *row);
int64_t uat_ledger_row_int(const struct uat_ledger_row *row, int field);
const char *uat_ledger_row_text(const struct uat_ledger_row *row, int field);

/* Checks a row against the chain so far (expected_seq, the previous row's hash prev).
 * 0, or -1 with err naming the row and what is wrong. */
int uat_ledger_verify_row(const char *where, const struct uat_ledger_row *row, int64_t expected_seq,
                          const char *prev, struct uat_error *err);

bool uat_ledger_is_hash_text(const char *s);

#endif
