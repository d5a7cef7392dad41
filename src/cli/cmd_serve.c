/* `uatrun serve`: the sign-off page. The HTTP side (sessions, CSRF, escaping, headers) is
 * src/serve/; this file is what the pages show and what a decision does, through the same
 * ledger, gate and sign-off rules as `uatrun status` and `uatrun signoff`. */
#include "cli/cmd_gate.h"
#include "cli/signoff_rules.h"

#include "serve/serve.h"
#include "serve/serve_report.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_LISTEN "127.0.0.1:8642"
#define COMMIT_SHOWN 12

/* What the page callbacks share. lock makes each request's ledger work one unit: two
 * approvals of one item arriving together are judged one after the other, so the second
 * sees the first. */
struct app {
  const struct uat_cli_options *o;
  pthread_mutex_t lock;
};

/* One request's view of the release: the playbook as it is on disk now (its digest is what
 * a decision binds to), the ledger and the gate's snapshot. */
struct picture {
  struct uat_context ctx;
  struct uat_ledger *ledger;
  struct uat_gate_snapshot snap;
  bool ctx_open, snap_loaded;
};

static void picture_close(struct picture *p) {
  if (p->snap_loaded)
    uat_gate_snapshot_release(&p->snap);
  uat_ledger_close(p->ledger);
  if (p->ctx_open)
    uat_context_close(&p->ctx);
}

/* Opens the ledger as user (a PostgreSQL ledger signs through the signer's own database
 * user), or read-only when user is NULL (a missing file then means nothing recorded yet). */
static int open_ledger(struct picture *p, const char *user, struct uat_error *err) {
  const char *where = p->ctx.ledger_path;
  if (!user)
    return uat_ledger_exists(where) ? uat_ledger_open(where, UAT_LEDGER_READ, &p->ledger, err) : 0;
  if (!uat_ledger_is_url(where))
    return uat_ledger_open(where, UAT_LEDGER_WRITE, &p->ledger, err);
  char *url = uat_ledger_url_as(where, user);
  int rc = url ? uat_ledger_open(url, UAT_LEDGER_WRITE, &p->ledger, err)
               : uat_error_set(err, "out of memory");
  free(url);
  return rc;
}

/* The playbook as it is on disk now. Returns an HTTP status: 200, or 400 (it cannot be
 * read). */
static int picture_playbook(struct app *a, struct picture *p, struct uat_error *err) {
  memset(p, 0, sizeof *p);
  if (uat_context_open(&p->ctx, a->o, UAT_CTX_NEED_RELEASE, err) != 0)
    return 400;
  p->ctx_open = true;
  return 200;
}

/* The ledger (as user, see open_ledger) and the gate's snapshot: 200, 400 or 500. */
static int picture_ledger(struct picture *p, const char *user, struct uat_error *err) {
  char digest[UAT_DIGEST_HEX];
  if (uat_gate_digest(&p->ctx, digest, err) != 0)
    return 400;
  if (open_ledger(p, user, err) != 0 ||
      uat_gate_snapshot_load(&p->ctx, p->ledger, digest, (int64_t)time(NULL), &p->snap, err) != 0)
    return 500;
  p->snap_loaded = true;
  return 200;
}

static int picture_load(struct app *a, const char *user, struct picture *p, struct uat_error *err) {
  int status = picture_playbook(a, p, err);
  return status == 200 ? picture_ledger(p, user, err) : status;
}

static int error_page(struct uat_strbuf *html, const struct uat_page_who *who, int status,
                      const char *text) {
  uat_page_message(html, who, status == 400 ? "The playbook cannot be read" : "Ledger error", text);
  return status;
}

static const char NEEDS_SIGNATURES[] =
    "this playbook accepts only SSH-signed decisions (gate.require_signatures), and the page "
    "holds nobody's key: sign with `uatrun signoff --sign-key KEY` instead";

/* Why signing is refused right now (signatures required; the run failed; a commit in another
 * form), or NULL; *note: what signoff would print as a note (no run yet, an earlier playbook's
 * run), or NULL. Both the caller's. */
static char *signing_block(struct picture *p, char **note) {
  *note = NULL;
  if (p->ctx.playbook->require_signatures)
    return strdup(NEEDS_SIGNATURES);
  struct uat_error err;
  /* No ledger file yet: nothing recorded, so no commit to compare with. */
  int rc =
      p->snap.run.found || !p->ledger ? 0 : uat_signoff_check_commit_form(&p->ctx, p->ledger, &err);
  if (rc == 0)
    rc = uat_signoff_check_run(&p->ctx, &p->snap, note, &err);
  return rc ? strdup(err.text) : NULL;
}

static int release_page(void *data, const struct uat_page_who *who, const char *flash,
                        bool flash_ok, struct uat_strbuf *html) {
  struct app *a = data;
  struct picture p;
  struct uat_error err;
  pthread_mutex_lock(&a->lock);
  int status = picture_load(a, NULL, &p, &err);
  if (status != 200) {
    picture_close(&p);
    pthread_mutex_unlock(&a->lock);
    return error_page(html, who, status, err.text);
  }
  char *headline = uat_gate_headline(&p.ctx, &p.snap);
  char *note = NULL;
  char *block = signing_block(&p, &note);
  struct uat_serve_report report;
  uat_serve_report_load(a->o->run_report, p.ctx.release, p.ctx.commit, &p.snap.run, &report);
  struct uat_page_release m = {
      .who = who,
      .playbook = p.ctx.playbook,
      .release = p.ctx.release,
      .commit = p.ctx.commit,
      .run = &p.snap.run,
      .verdict = &p.snap.verdict,
      .headline = headline ? headline : "",
      .signing_block = block,
      .signing_note = note,
      .flash = flash,
      .flash_ok = flash_ok,
      .details = report.details,
      .ndetails = report.ndetails,
      .report_note = report.note,
  };
  status = uat_page_release(html, &m) == 0 ? 200 : 500;
  uat_serve_report_release(&report);
  free(block);
  free(note);
  free(headline);
  picture_close(&p);
  pthread_mutex_unlock(&a->lock);
  return status;
}

/* Exactly what `uatrun status` prints (no colour), captured instead of printed. */
static int status_page(void *data, const struct uat_page_who *who, struct uat_strbuf *html) {
  struct app *a = data;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out)
    return 500;
  struct uat_cli_options so = *a->o;
  so.command = "status";
  so.out = out;
  so.err = out;
  so.color = false;
  so.stdout_tty = false;
  so.quiet = false;
  so.report_json = NULL;
  pthread_mutex_lock(&a->lock);
  int rc = uat_gate_show(&so, false);
  pthread_mutex_unlock(&a->lock);
  fclose(out);
  int status = uat_page_status(html, who, text ? text : "", rc) == 0 ? 200 : 500;
  free(text);
  return status;
}

static int say(struct uat_strbuf *msg, int status, const char *text) {
  uat_strbuf_adds(msg, text);
  return status;
}

/* Who may sign for role, as "a, b" (the caller's; NULL when out of memory). */
static char *members(const struct uat_role *role) {
  return role ? uat_strbuf_join(role->members, role->nmembers, ", ") : strdup("");
}

/* The checks `uatrun signoff --item` makes before recording, in its order, each refusal
 * with its HTTP status. Returns 0 when the decision may be recorded. */
static int refuse(struct picture *p, const char *user, const struct uat_signoff_item *item,
                  const struct uat_serve_decision *d, struct uat_strbuf *msg) {
  struct uat_error err;
  char *db_user = NULL;
  if (uat_ledger_identity(p->ledger, &db_user, &err) != 0)
    return say(msg, 500, err.text);
  bool other = db_user && strcmp(db_user, user) != 0;
  free(db_user);
  if (other)
    return say(msg, 403,
               "the ledger connection is not yours: a decision is signed by the "
               "database user who records it");
  if (!p->snap.run.found && uat_signoff_check_commit_form(&p->ctx, p->ledger, &err) != 0)
    return say(msg, 409, err.text);
  char *note = NULL;
  int rc = uat_signoff_check_run(&p->ctx, &p->snap, &note, &err);
  free(note);
  if (rc != 0)
    return say(msg, rc == UAT_EXIT_LEDGER ? 500 : 409, err.text);
  const struct uat_gate_item *conflict =
      d->approve ? uat_signoff_distinct_conflict(&p->ctx, &p->snap, item->role, user) : NULL;
  if (conflict) {
    char *why = uat_signoff_explain_distinct(&p->ctx, user, conflict);
    uat_strbuf_addf(msg, "%s; ask another member of the role to approve", why ? why : "");
    free(why);
    return 409;
  }
  for (size_t i = 0; i < p->snap.verdict.nitems; i++) {
    const struct uat_gate_item *gi = &p->snap.verdict.items[i];
    /* A second click (or a second tab) must not record the same approval twice. */
    if (gi->item == item && d->approve && gi->state == UAT_ITEM_APPROVED &&
        strcmp(gi->decision->signer, user) == 0)
      return say(msg, 409, "you already approved this item for this release and commit");
  }
  return 0;
}

static const struct uat_signoff_item *find_item(const struct uat_playbook *pb, const char *id) {
  for (size_t i = 0; i < pb->nsignoffs; i++)
    if (strcmp(pb->signoffs[i].id, id) == 0)
      return &pb->signoffs[i];
  return NULL;
}

/* What needs no ledger: the item exists, user signs for its role, the note fits. */
static int check_request(struct picture *p, const char *user, const struct uat_serve_decision *d,
                         const struct uat_signoff_item **item, struct uat_strbuf *msg) {
  struct uat_error err;
  *item = find_item(p->ctx.playbook, d->item);
  const struct uat_role *role =
      *item ? uat_playbook_find_role(p->ctx.playbook, (*item)->role) : NULL;
  if (!*item)
    return say(msg, 400, "there is no such sign-off item in the playbook (reload the page)");
  if (p->ctx.playbook->require_signatures)
    return say(msg, 409, NEEDS_SIGNATURES);
  if (!role || !uat_role_has_member(role, user)) {
    char *who = members(role);
    uat_strbuf_addf(msg, "'%s' may not sign for '%s' (allowed: %s); ask one of them", user,
                    (*item)->role, who && *who ? who : "nobody");
    free(who);
    return 403;
  }
  if (uat_signoff_check_note(d->note, !d->approve, &err) != 0)
    return say(msg, 400, err.text);
  return 0;
}

static int record(struct picture *p, const char *user, const struct uat_signoff_item *item,
                  const struct uat_serve_decision *d, struct uat_strbuf *msg) {
  struct uat_error err;
  int status = refuse(p, user, item, d, msg);
  if (status != 0)
    return status;
  struct uat_signoff_choice c = {.item = item, .approve = d->approve, .note = d->note};
  char head[UAT_HASH_HEX];
  int rc = uat_signoff_record(&p->ctx, p->ledger, &p->snap, user, &c, 1, NULL, head, &err);
  if (rc != 0)
    return say(msg, rc == UAT_EXIT_LEDGER ? 500 : 400, err.text);
  uat_strbuf_addf(msg, "recorded: %s %s by %s for %s (%.*s); ledger head: %s",
                  d->approve ? "approve" : "reject", item->id, user, p->ctx.release, COMMIT_SHOWN,
                  p->ctx.commit, head);
  return 200;
}

/* The playbook-only checks first (a person outside the role never reaches the ledger), then
 * the ledger-bound rules and the write, all under the lock. */
static int decide(void *data, const char *user, const struct uat_serve_decision *d,
                  struct uat_strbuf *msg) {
  struct app *a = data;
  struct picture p;
  struct uat_error err;
  const struct uat_signoff_item *item = NULL;
  pthread_mutex_lock(&a->lock);
  int status = picture_playbook(a, &p, &err);
  if (status != 200)
    say(msg, status, err.text);
  else if ((status = check_request(&p, user, d, &item, msg)) == 0 &&
           (status = picture_ledger(&p, user, &err)) != 200)
    say(msg, status, err.text);
  else if (status == 200)
    status = record(&p, user, item, d, msg);
  picture_close(&p);
  pthread_mutex_unlock(&a->lock);
  return status;
}

static char *artifact_path(void *data, size_t n) {
  struct app *a = data;
  struct picture p;
  struct uat_error err;
  char *path = NULL;
  pthread_mutex_lock(&a->lock);
  if (a->o->run_report && picture_load(a, NULL, &p, &err) == 200)
    path = uat_serve_report_artifact(a->o->run_report, p.ctx.release, p.ctx.commit, &p.snap.run, n);
  picture_close(&p);
  pthread_mutex_unlock(&a->lock);
  return path;
}

/* --auth and --trusted-proxy into cfg; 0 or an exit code (printed). */
static int configure(const struct uat_cli_options *o, struct uat_serve_config *cfg,
                     struct uat_htpasswd **htpasswd, struct uat_cidr **trusted) {
  struct uat_error err;
  const char *auth = o->auth ? o->auth : "";
  cfg->listen = o->listen ? o->listen : DEFAULT_LISTEN;
  *trusted = calloc(o->ntrusted ? o->ntrusted : 1, sizeof **trusted);
  if (!*trusted) {
    uat_cli_error(o, "out of memory");
    return UAT_EXIT_USAGE;
  }
  for (size_t i = 0; i < o->ntrusted; i++)
    if (uat_cidr_parse(o->trusted[i], &(*trusted)[i], &err) != 0) {
      uat_cli_error(o, "--trusted-proxy %s", err.text);
      return UAT_EXIT_USAGE;
    }
  cfg->trusted = *trusted;
  cfg->ntrusted = o->ntrusted;
  if (strncmp(auth, "htpasswd:", 9) == 0 && auth[9]) {
    cfg->auth = UAT_SERVE_HTPASSWD;
    if (uat_htpasswd_load(auth + 9, htpasswd, &err) != 0) {
      uat_cli_error(o, "--auth: %s", err.text);
      return UAT_EXIT_USAGE;
    }
    cfg->htpasswd = *htpasswd;
    return 0;
  }
  if (strncmp(auth, "header:", 7) == 0 && auth[7]) {
    cfg->auth = UAT_SERVE_HEADER;
    cfg->header = auth + 7;
    if (o->ntrusted == 0) {
      uat_cli_error(o,
                    "--auth %s trusts a header anyone can send: give the proxy that sets it "
                    "with --trusted-proxy CIDR (such as 127.0.0.1/32)",
                    auth);
      return UAT_EXIT_USAGE;
    }
    return 0;
  }
  uat_cli_error(o, "who may sign on the page? give --auth htpasswd:FILE (bcrypt, `htpasswd -B`) "
                   "or --auth header:X-Forwarded-User with --trusted-proxy CIDR");
  return UAT_EXIT_USAGE;
}

/* The playbook, release, commit and ledger must be good before the page opens: the same
 * exit 2 / 4 as `uatrun status` for what is wrong with them. *banner: the line naming what
 * the page is about, printed once it listens (the caller's). */
static int check_start(struct app *a, char **banner) {
  struct picture p;
  struct uat_error err;
  int status = picture_load(a, NULL, &p, &err);
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (status != 200)
    uat_cli_error(a->o, "%s", err.text);
  else
    uat_strbuf_addf(&sb, "sign-off page for \"%s\", release %s, commit %.*s (ledger %s)",
                    p.ctx.playbook->name, p.ctx.release, COMMIT_SHOWN, p.ctx.commit,
                    p.ctx.ledger_shown);
  *banner = uat_strbuf_take(&sb);
  picture_close(&p);
  return status == 200 ? 0 : status == 400 ? UAT_EXIT_USAGE : UAT_EXIT_LEDGER;
}

/* Serves until SIGINT or SIGTERM. Both are blocked before the server's threads start (they
 * inherit the mask), so only this thread takes them, with sigwait. A shell starts a
 * background command with SIGINT ignored, and an ignored signal never reaches sigwait:
 * Ctrl-C must stop the page however it was started, so both get their default back. */
static int serve_until_signal(struct app *a, const struct uat_serve_config *cfg,
                              const char *banner) {
  static const struct uat_serve_app callbacks = {0};
  struct uat_serve_app app = callbacks;
  app.data = a;
  app.release_page = release_page;
  app.status_page = status_page;
  app.decide = decide;
  app.artifact_path = artifact_path;
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  struct uat_server *server;
  struct uat_error err;
  if (uat_server_start(cfg, &app, &server, &err) != 0) {
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uat_cli_error(a->o, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  fprintf(a->o->out, "%s\nlistening on %s (%s); Ctrl-C stops it\n", banner, uat_server_url(server),
          cfg->auth == UAT_SERVE_HTPASSWD ? "sign in with the --auth htpasswd file"
                                          : "identity from the trusted proxy's header");
  fflush(a->o->out);
  int sig = 0;
  sigwait(&stop, &sig);
  uat_server_stop(server);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  fprintf(a->o->out, "stopped\n");
  return UAT_EXIT_OK;
}

int uat_cmd_serve(const struct uat_cli_options *opts) {
  struct uat_serve_config cfg = {0};
  struct uat_htpasswd *htpasswd = NULL;
  struct uat_cidr *trusted = NULL;
  struct app a = {.o = opts};
  int rc = configure(opts, &cfg, &htpasswd, &trusted);
  if (rc == 0 && pthread_mutex_init(&a.lock, NULL) != 0) {
    uat_cli_error(opts, "out of memory");
    rc = UAT_EXIT_USAGE;
  } else if (rc == 0) {
    char *banner = NULL;
    rc = check_start(&a, &banner);
    rc = rc ? rc : serve_until_signal(&a, &cfg, banner ? banner : "");
    free(banner);
    pthread_mutex_destroy(&a.lock);
  }
  uat_htpasswd_free(htpasswd);
  free(trusted);
  return rc;
}
