/* The ledger's public face: picks the backend by the ledger's name (a postgresql:// URL or
 * a SQLite file), builds rows through ledger_rows.c and reads records back through the
 * backend's few queries, so both backends hold the same rows with the same hashes. */
#include "ledger/ledger.h"
#include "util/strbuf.h"

#include "ledger/ledger_backend.h"
#include "ledger/ledger_pg.h"
#include "util/redact.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct uat_ledger {
  const struct uat_ledger_backend *backend;
  void *b;
  char *shown; /* the name in messages: a URL's password redacted */
};

bool uat_ledger_exists(const char *where) {
  if (uat_ledger_is_url(where))
    return true;
  return access(where, F_OK) == 0 || errno != ENOENT;
}

char *uat_ledger_shown_name(const char *where) {
  return uat_ledger_is_url(where) ? uat_ledger_pg_shown_name(where) : strdup(where);
}

int uat_ledger_init(const char *url, const char *ci_role, const char *signer_role,
                    struct uat_error *err) {
  if (!uat_ledger_is_url(url))
    return uat_error_set(err,
                         "`uatrun ledger init` creates a PostgreSQL ledger: give a postgresql:// "
                         "URL, not '%s' (a SQLite ledger is created by its first write)",
                         url);
  return uat_ledger_pg_init(url, ci_role, signer_role, err);
}

char *uat_ledger_url_password(const char *where) {
  return uat_ledger_is_url(where) ? uat_ledger_pg_password(where) : NULL;
}

char *uat_ledger_url_as(const char *url, const char *user) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  /* libpq takes the last value of a URI parameter: this user= wins over a user@ in it. */
  int rc = uat_strbuf_adds(&sb, url);
  rc = rc ? rc : uat_strbuf_adds(&sb, strchr(url, '?') ? "&user=" : "?user=");
  for (const unsigned char *p = (const unsigned char *)user; rc == 0 && *p; p++)
    rc = isalnum(*p) || strchr("-._~", *p) ? uat_strbuf_add(&sb, p, 1)
                                           : uat_strbuf_addf(&sb, "%%%02X", *p);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

const char *uat_ledger_name(const struct uat_ledger *ledger) {
  return ledger->shown;
}

int uat_ledger_open(const char *path, enum uat_ledger_mode mode, struct uat_ledger **out,
                    struct uat_error *err) {
  *out = NULL;
  if (!path || !*path)
    return uat_error_set(err,
                         "no ledger path given; set `ledger:` in the playbook or UATRUN_LEDGER");
  struct uat_ledger *l = calloc(1, sizeof *l);
  if (!l || !(l->shown = uat_ledger_shown_name(path))) {
    free(l);
    return uat_error_set(err, "cannot open the ledger: out of memory");
  }
  l->backend = uat_ledger_is_url(path) ? &uat_ledger_pg_backend : &uat_ledger_sqlite_backend;
  if (l->backend->open(path, l->shown, mode, &l->b, err) != 0) {
    free(l->shown);
    free(l);
    return -1;
  }
  *out = l;
  return 0;
}

void uat_ledger_close(struct uat_ledger *ledger) {
  if (!ledger)
    return;
  ledger->backend->close(ledger->b);
  free(ledger->shown);
  free(ledger);
}

int uat_ledger_identity(struct uat_ledger *ledger, char **user, struct uat_error *err) {
  *user = NULL;
  return ledger->backend->identity(ledger->b, user, err);
}

/* ---------- appending ---------- */

int uat_ledger_record_run(struct uat_ledger *ledger, const struct uat_run_result *run,
                          const char *uatrun_version, int64_t *seq, char head[UAT_HASH_HEX],
                          struct uat_error *err) {
  json_t *row = uat_ledger_run_fields(ledger->shown, run, uatrun_version, err);
  if (!row)
    return -1;
  int64_t s = 0;
  int rc = ledger->backend->append(ledger->b, &row, 1, &s, head, err);
  json_decref(row);
  if (rc == 0 && seq)
    *seq = s;
  return rc;
}

int uat_ledger_record_decisions(struct uat_ledger *ledger, struct uat_decision *ds, size_t n,
                                char head[UAT_HASH_HEX], struct uat_error *err) {
  json_t **rows = calloc(n ? n : 1, sizeof *rows);
  int64_t *seqs = calloc(n ? n : 1, sizeof *seqs);
  int rc = rows && seqs ? 0 : uat_error_set(err, "cannot record the decisions: out of memory");
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (!(rows[i] = uat_ledger_decision_fields(ledger->shown, &ds[i], err)))
      rc = -1;
  if (rc == 0)
    rc = ledger->backend->append(ledger->b, rows, n, seqs, head, err);
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

static int unreadable_row(const struct uat_ledger *l, const struct uat_ledger_row *row,
                          struct uat_error *err) {
  return uat_error_set(err,
                       "ledger '%s': row %lld cannot be read (bad payload or out of memory); run "
                       "`uatrun verify-ledger`",
                       l->shown, (long long)uat_ledger_row_int(row, UAT_LF_SEQ));
}

struct one_run {
  const struct uat_ledger *l;
  struct uat_run_record *out;
};

static int take_run(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct one_run *o = ctx;
  if (o->out->found)
    return 0;
  return uat_ledger_fill_run(row, o->out) == 0 ? 0 : unreadable_row(o->l, row, err);
}

int uat_ledger_latest_run(struct uat_ledger *ledger, const char *playbook, const char *release,
                          const char *commit, struct uat_run_record *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  struct uat_ledger_filter f = {playbook, release, commit, 1};
  struct one_run o = {ledger, out};
  int rc = ledger->backend->select(ledger->b, UAT_LEDGER_Q_LATEST_RUN, &f, take_run, &o, err);
  if (rc != 0)
    uat_run_record_clear(out);
  return rc;
}

/* Hex digits only, at least as long as git's shortest abbreviation. */
static bool is_sha_like(const char *s) {
  size_t n = strlen(s);
  return n >= 7 && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* One names the other in another form: a prefix of it, ignoring case. */
static bool same_commit_other_form(const char *a, const char *b) {
  if (strcmp(a, b) == 0)
    return false;
  size_t n = strlen(a) < strlen(b) ? strlen(a) : strlen(b);
  return strncasecmp(a, b, n) == 0;
}

struct commit_like {
  const struct uat_ledger *l;
  const char *commit;
  char **out;
};

static int take_commit_like(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct commit_like *c = ctx;
  const char *other = uat_ledger_row_text(row, UAT_LF_COMMIT);
  if (*c->out || !other || !is_sha_like(other) || !same_commit_other_form(other, c->commit))
    return 0;
  if (!(*c->out = strdup(other)))
    return uat_error_set(err, "cannot read the ledger '%s': out of memory", c->l->shown);
  return 0;
}

int uat_ledger_run_commit_like(struct uat_ledger *ledger, const char *playbook, const char *release,
                               const char *commit, char **out, struct uat_error *err) {
  *out = NULL;
  if (!commit || !is_sha_like(commit))
    return 0;
  struct uat_ledger_filter f = {playbook, release, commit, 0};
  struct commit_like c = {ledger, commit, out};
  int rc =
      ledger->backend->select(ledger->b, UAT_LEDGER_Q_RELEASE_RUNS, &f, take_commit_like, &c, err);
  if (rc != 0) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

struct decisions {
  const struct uat_ledger *l;
  struct uat_decision_list *out;
  size_t cap;
};

static int take_decision(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct decisions *d = ctx;
  if (uat_ledger_row_is_run(row))
    return 0;
  if (d->out->count == d->cap) {
    size_t ncap = d->cap ? d->cap * 2 : 16;
    struct uat_decision *items = realloc(d->out->items, ncap * sizeof *items);
    if (!items)
      return uat_error_set(err, "cannot read the ledger '%s': out of memory", d->l->shown);
    d->out->items = items;
    d->cap = ncap;
  }
  if (uat_ledger_fill_decision(row, &d->out->items[d->out->count]) != 0)
    return unreadable_row(d->l, row, err);
  d->out->count++;
  return 0;
}

int uat_ledger_decisions(struct uat_ledger *ledger, const char *playbook, const char *release,
                         const char *commit, struct uat_decision_list *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  struct uat_ledger_filter f = {playbook, release, commit, 0};
  struct decisions d = {ledger, out, 0};
  int rc = ledger->backend->select(ledger->b, UAT_LEDGER_Q_DECISIONS, &f, take_decision, &d, err);
  if (rc != 0)
    uat_decision_list_free(out);
  return rc;
}

int uat_ledger_all_decisions(struct uat_ledger *ledger, const char *playbook,
                             struct uat_decision_list *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  struct uat_ledger_filter f = {playbook, NULL, NULL, 0};
  struct decisions d = {ledger, out, 0};
  int rc = ledger->backend->select(ledger->b, UAT_LEDGER_Q_HISTORY, &f, take_decision, &d, err);
  if (rc != 0)
    uat_decision_list_free(out);
  return rc;
}

struct history {
  const struct uat_ledger *l;
  struct uat_history *out;
  size_t cap;
};

static int take_entry(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct history *h = ctx;
  if (h->out->count == h->cap) {
    size_t ncap = h->cap ? h->cap * 2 : 16;
    struct uat_history_entry *e = realloc(h->out->entries, ncap * sizeof *e);
    if (!e)
      return uat_error_set(err, "cannot read the ledger '%s': out of memory", h->l->shown);
    h->out->entries = e;
    h->cap = ncap;
  }
  struct uat_history_entry *e = &h->out->entries[h->out->count];
  memset(e, 0, sizeof *e);
  e->seq = uat_ledger_row_int(row, UAT_LF_SEQ);
  e->time = uat_ledger_row_int(row, UAT_LF_TIME);
  e->is_run = uat_ledger_row_is_run(row);
  int filled =
      e->is_run ? uat_ledger_fill_run(row, &e->run) : uat_ledger_fill_decision(row, &e->decision);
  if (filled != 0)
    return unreadable_row(h->l, row, err);
  h->out->count++;
  return 0;
}

int uat_ledger_history(struct uat_ledger *ledger, const char *playbook, const char *release,
                       int limit, struct uat_history *out, struct uat_error *err) {
  memset(out, 0, sizeof *out);
  struct uat_ledger_filter f = {playbook, release, NULL, limit > 0 ? limit : 0};
  struct history h = {ledger, out, 0};
  int rc = ledger->backend->select(ledger->b, UAT_LEDGER_Q_HISTORY, &f, take_entry, &h, err);
  if (rc != 0)
    uat_history_free(out);
  return rc;
}

void uat_history_free(struct uat_history *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->count; i++) {
    uat_run_record_clear(&h->entries[i].run);
    uat_ledger_decision_clear(&h->entries[i].decision);
  }
  free(h->entries);
  h->entries = NULL;
  h->count = 0;
}

void uat_decision_list_free(struct uat_decision_list *list) {
  if (!list)
    return;
  for (size_t i = 0; i < list->count; i++)
    uat_ledger_decision_clear(&list->items[i]);
  free(list->items);
  list->items = NULL;
  list->count = 0;
}

/* ---------- verification ---------- */

int uat_ledger_check_head(const char *head, struct uat_error *err) {
  if (!uat_ledger_is_hash_text(head))
    return uat_error_set(err,
                         "--head '%s' is not a chain head: give the 64 hex digits printed after a "
                         "write to the ledger (`ledger head: HASH`)",
                         head);
  /* The genesis value is in every chain, so accepting it would vouch for any ledger. */
  if (strcmp(head, UAT_LEDGER_GENESIS) == 0)
    return uat_error_set(err,
                         "--head '%.12s…' is not a chain head: 64 zeros stand before the first row "
                         "of every ledger; give the head printed after a write to it",
                         head);
  return 0;
}

struct walk {
  const struct uat_ledger *l;
  const char *expected_head;
  bool head_seen;
  int64_t rows;
  char tail[UAT_HASH_HEX];
  /* ledger copy: each verified row is handed on */
  uat_ledger_row_fn then;
  void *then_ctx;
};

static int walk_row(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct walk *w = ctx;
  if (uat_ledger_verify_row(w->l->shown, row, w->rows + 1, w->tail, err) != 0)
    return -1;
  snprintf(w->tail, sizeof w->tail, "%s", row->hash);
  if (w->expected_head && strcasecmp(w->tail, w->expected_head) == 0)
    w->head_seen = true;
  w->rows++;
  return w->then ? w->then(row, w->then_ctx, err) : 0;
}

static int walk_chain(struct uat_ledger *ledger, struct walk *w, struct uat_error *err) {
  snprintf(w->tail, sizeof w->tail, "%s", UAT_LEDGER_GENESIS);
  if (ledger->backend->check(ledger->b, err) != 0)
    return -1;
  struct uat_ledger_filter f = {NULL, NULL, NULL, 0};
  return ledger->backend->select(ledger->b, UAT_LEDGER_Q_CHAIN, &f, walk_row, w, err);
}

int uat_ledger_verify(struct uat_ledger *ledger, const char *expected_head, int64_t *rows,
                      char head[UAT_HASH_HEX], struct uat_error *err) {
  if (rows)
    *rows = 0;
  if (head)
    snprintf(head, UAT_HASH_HEX, "%s", UAT_LEDGER_GENESIS);
  if (expected_head && uat_ledger_check_head(expected_head, err) != 0)
    return -1;
  struct walk w = {.l = ledger, .expected_head = expected_head};
  int rc = walk_chain(ledger, &w, err);
  if (rows)
    *rows = w.rows;
  if (head)
    snprintf(head, UAT_HASH_HEX, "%s", w.tail);
  if (rc != 0)
    return -1;
  if (expected_head && !w.head_seen)
    return uat_error_set(err,
                         "ledger '%s': the head '%.12s…' recorded elsewhere is not in this ledger: "
                         "newer rows were cut off or the ledger was replaced; restore it from a "
                         "backup",
                         ledger->shown, expected_head);
  return 0;
}

/* ---------- copy ---------- */

/* The whole ledger is held in memory and written in one transaction: a copy that fails
 * leaves the target as empty as it was. */
struct copy {
  struct uat_ledger_row *rows;
  size_t n, cap;
};

static void copy_release(struct copy *c) {
  for (size_t i = 0; i < c->n; i++) {
    json_decref(c->rows[i].fields);
    free((char *)c->rows[i].prev_hash);
    free((char *)c->rows[i].hash);
  }
  free(c->rows);
  memset(c, 0, sizeof *c);
}

static int copy_row(const struct uat_ledger_row *row, void *ctx, struct uat_error *err) {
  struct copy *c = ctx;
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 256;
    struct uat_ledger_row *rows = realloc(c->rows, ncap * sizeof *rows);
    if (!rows)
      return uat_error_set(err, "cannot copy the ledger: out of memory");
    c->rows = rows;
    c->cap = ncap;
  }
  struct uat_ledger_row *r = &c->rows[c->n++];
  r->fields = json_deep_copy(row->fields);
  r->prev_hash = strdup(row->prev_hash);
  r->hash = strdup(row->hash);
  if (!r->fields || !r->prev_hash || !r->hash)
    return uat_error_set(err, "cannot copy the ledger: out of memory");
  return 0;
}

int uat_ledger_copy(struct uat_ledger *from, struct uat_ledger *to, int64_t *rows,
                    char head[UAT_HASH_HEX], struct uat_error *err) {
  int64_t existing = 0;
  char to_head[UAT_HASH_HEX];
  if (uat_ledger_verify(to, NULL, &existing, to_head, err) != 0)
    return -1;
  if (existing > 0)
    return uat_error_set(err,
                         "cannot copy into the ledger '%s': it already holds %lld row%s; copy into "
                         "an empty ledger (a new file, or a database after `uatrun ledger init`)",
                         to->shown, (long long)existing, existing == 1 ? "" : "s");
  struct copy c = {0};
  struct walk w = {.l = from, .then = copy_row, .then_ctx = &c};
  int rc = walk_chain(from, &w, err);
  if (rc == 0 && c.n)
    rc = to->backend->insert_verbatim(to->b, c.rows, c.n, err);
  copy_release(&c);
  if (rc != 0)
    return -1;
  /* The copy is trusted only once it verifies on its own, ending at the source's head. */
  int64_t copied = 0;
  if (uat_ledger_verify(to, w.rows ? w.tail : NULL, &copied, head, err) != 0)
    return -1;
  if (copied != w.rows)
    return uat_error_set(err,
                         "the copy '%s' holds %lld rows, the ledger '%s' %lld; someone wrote to it "
                         "during the copy: start again with an empty ledger",
                         to->shown, (long long)copied, from->shown, (long long)w.rows);
  if (rows)
    *rows = copied;
  return 0;
}
