/* `uatrun signoff`: a person approves or rejects the sign-off items of their
 * role for one release and commit. On a terminal it asks item by item and
 * records nothing until the person confirms; without one it records the single
 * decision given by --item and --approve/--reject (chat bots, scripts). */
#include "cli/signoff_rules.h"
#include "report/report_text.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NOTE_MAX UAT_SIGNOFF_NOTE_MAX
#define COMMIT_SHOWN 12

enum choice_kind { CHOICE_SKIP, CHOICE_APPROVE, CHOICE_REJECT };

struct choice {
  const struct uat_signoff_item *item;
  enum choice_kind kind;
  char *note; /* owned; NULL when none */
};

/* One sign-off session: who signs what, and the gate's picture before signing. */
struct session {
  const struct uat_cli_options *o;
  struct uat_context ctx;
  const struct uat_role *role;
  char *signer;
  char *db_user; /* the database user of a PostgreSQL ledger: the signer, not a claim */
  struct uat_ledger *ledger;
  struct uat_gate_snapshot snap;
  bool snap_loaded;
};

static void session_close(struct session *s) {
  if (s->snap_loaded)
    uat_gate_snapshot_release(&s->snap);
  uat_ledger_close(s->ledger);
  free(s->signer);
  free(s->db_user);
  uat_context_close(&s->ctx);
}

/* --by, else UATRUN_USER, else the login name. */
static char *resolve_signer(const struct uat_cli_options *o) {
  if (o->by)
    return strdup(o->by);
  const char *env = getenv("UATRUN_USER");
  if (env && *env)
    return strdup(env);
  struct passwd pw, *found = NULL;
  char buf[4096];
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &found) == 0 && found && found->pw_name)
    return strdup(found->pw_name);
  const char *login = getlogin();
  return login ? strdup(login) : NULL;
}

static char *list_roles(const struct uat_playbook *pb) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = pb->nroles ? 0 : uat_strbuf_adds(&sb, "none");
  for (size_t i = 0; i < pb->nroles && rc == 0; i++)
    rc = uat_strbuf_addf(&sb, "%s%s", i ? ", " : "", pb->roles[i].name);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

static char *list_items(const struct uat_playbook *pb, const char *role) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = 0;
  for (size_t i = 0; i < pb->nsignoffs && rc == 0; i++)
    if (strcmp(pb->signoffs[i].role, role) == 0)
      rc = uat_strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", pb->signoffs[i].id);
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

static size_t items_of_role(const struct uat_playbook *pb, const char *role) {
  size_t n = 0;
  for (size_t i = 0; i < pb->nsignoffs; i++)
    n += strcmp(pb->signoffs[i].role, role) == 0;
  return n;
}

static const struct uat_signoff_item *find_item(const struct uat_playbook *pb, const char *id) {
  for (size_t i = 0; i < pb->nsignoffs; i++)
    if (strcmp(pb->signoffs[i].id, id) == 0)
      return &pb->signoffs[i];
  return NULL;
}

static int refuse_outsider(struct session *s) {
  char *members = uat_strbuf_join(s->role->members, s->role->nmembers, ", ");
  uat_cli_error(s->o,
                "'%s' may not sign for '%s' (allowed: %s); sign with --by NAME or ask one "
                "of them",
                s->signer, s->o->role, members && *members ? members : "nobody");
  free(members);
  return UAT_EXIT_USAGE;
}

/* A PostgreSQL ledger knows who connected: the signer is that database user, and a --by
 * (or UATRUN_USER) naming someone else is refused before anything is recorded. */
static int check_claim(struct session *s) {
  const struct uat_cli_options *o = s->o;
  const char *env = getenv("UATRUN_USER");
  const char *claimed = o->by ? o->by : env && *env ? env : NULL;
  if (claimed && strcmp(claimed, s->db_user) != 0) {
    uat_cli_error(o,
                  "%s '%s' is not who signs: you are connected to the ledger '%s' as the "
                  "database user '%s', and a decision is signed by the user who records it; "
                  "connect as your own database user (nothing was recorded)",
                  o->by ? "--by" : "UATRUN_USER", claimed, s->ctx.ledger_shown, s->db_user);
    return UAT_EXIT_USAGE;
  }
  if (!(s->signer = strdup(s->db_user))) {
    uat_cli_error(o, "out of memory");
    return UAT_EXIT_USAGE;
  }
  return uat_role_has_member(s->role, s->signer) ? 0 : refuse_outsider(s);
}

/* Role and signer: only people listed under roles.ROLE may sign for it. Returns 0 or an exit
 * code (after printing why). */
static int check_role_and_signer(struct session *s) {
  const struct uat_cli_options *o = s->o;
  const struct uat_playbook *pb = s->ctx.playbook;
  char *roles = list_roles(pb);
  if (!o->role) {
    uat_cli_error(o,
                  "which role are you signing for? pass --role ROLE (roles in this playbook: "
                  "%s)",
                  roles ? roles : "?");
    free(roles);
    return UAT_EXIT_USAGE;
  }
  s->role = uat_playbook_find_role(pb, o->role);
  if (!s->role) {
    uat_cli_error(o, "unknown role '%s': the playbook lists %s under roles", o->role,
                  roles ? roles : "?");
    free(roles);
    return UAT_EXIT_USAGE;
  }
  free(roles);
  if (items_of_role(pb, o->role) == 0) {
    uat_cli_error(o, "role '%s' has nothing to sign in '%s': no sign-off item names it", o->role,
                  pb->path);
    return UAT_EXIT_USAGE;
  }
  if (s->db_user)
    return check_claim(s);
  s->signer = resolve_signer(o);
  if (!s->signer || !*s->signer) {
    uat_cli_error(o, "cannot tell who you are: pass --by NAME (or set UATRUN_USER)");
    return UAT_EXIT_USAGE;
  }
  if (!uat_role_has_member(s->role, s->signer))
    return refuse_outsider(s);
  return 0;
}

/* The options that say how to sign: a terminal, or --item with --approve/--reject. */
static int check_mode(const struct session *s) {
  const struct uat_cli_options *o = s->o;
  const struct uat_playbook *pb = s->ctx.playbook;
  char *items = list_items(pb, o->role);
  int rc = 0;
  if (!o->item && o->decision != UAT_DECIDE_NONE) {
    uat_cli_error(o, "--%s needs --item ID to say what you decide on (items for %s: %s)",
                  o->decision == UAT_DECIDE_APPROVE ? "approve" : "reject", o->role,
                  items ? items : "?");
    rc = UAT_EXIT_USAGE;
  } else if (!o->item && o->note) {
    uat_cli_error(o, "--note goes with --item ID and --approve or --reject; on a terminal, "
                     "leave it out and type the note when asked");
    rc = UAT_EXIT_USAGE;
  } else if (!o->item && !o->stdin_tty) {
    uat_cli_error(o,
                  "no terminal to ask on: to record one decision without a terminal, pass "
                  "--item ID --approve (or --reject --note REASON) (items for %s: %s)",
                  o->role, items ? items : "?");
    rc = UAT_EXIT_USAGE;
  } else if (o->item) {
    const struct uat_signoff_item *it = find_item(pb, o->item);
    if (!it) {
      uat_cli_error(o, "unknown sign-off item '%s' (items for %s: %s)", o->item, o->role,
                    items ? items : "?");
      rc = UAT_EXIT_USAGE;
    } else if (strcmp(it->role, o->role) != 0) {
      uat_cli_error(o, "item '%s' is signed by role '%s', not '%s' (items for %s: %s)", o->item,
                    it->role, o->role, o->role, items ? items : "?");
      rc = UAT_EXIT_USAGE;
    } else if (o->decision == UAT_DECIDE_NONE) {
      uat_cli_error(o, "say what you decide on '%s': add --approve or --reject", o->item);
      rc = UAT_EXIT_USAGE;
    } else if (o->decision == UAT_DECIDE_REJECT && (!o->note || !*o->note)) {
      uat_cli_error(o, "a rejection needs a reason: add --note \"what is wrong\"");
      rc = UAT_EXIT_USAGE;
    } else if (o->note && strlen(o->note) > NOTE_MAX) {
      uat_cli_error(o, "--note is %zu characters long; keep it under %d", strlen(o->note),
                    NOTE_MAX);
      rc = UAT_EXIT_USAGE;
    }
  }
  free(items);
  return rc;
}

/* A commit given in another form than the checks ran for (short SHA, other case) names no
 * run, and the gate would never count the sign-off. Returns 0 or an exit code (printed). */
static int check_commit_form(const struct session *s) {
  struct uat_error err;
  int rc = uat_signoff_check_commit_form(&s->ctx, s->ledger, &err);
  if (rc != 0)
    uat_cli_error(s->o, "%s", err.text);
  return rc;
}

/* Signing is refused while the latest run of this release and commit failed. */
static int check_latest_run(const struct session *s) {
  struct uat_error err;
  char *note = NULL;
  int rc = uat_signoff_check_run(&s->ctx, &s->snap, &note, &err);
  if (rc != 0)
    uat_cli_error(s->o, "%s", err.text);
  else if (note)
    fprintf(s->o->err, "uatrun: note: %s\n", note);
  free(note);
  return rc;
}

/* distinct_signers: the item of another role this signer already satisfies, or NULL. */
static const struct uat_gate_item *already_signed_elsewhere(const struct session *s) {
  return uat_signoff_distinct_conflict(&s->ctx, &s->snap, s->o->role, s->signer);
}

static void explain_distinct(const struct session *s, const struct uat_gate_item *other, FILE *out,
                             const char *prefix) {
  char *why = uat_signoff_explain_distinct(&s->ctx, s->signer, other);
  fprintf(out, "%s%s", prefix, why ? why : "you already signed for another role");
  free(why);
}

static void print_recorded(const struct session *s, const struct uat_signoff_choice *c) {
  if (s->o->quiet) /* the ledger head line still follows */
    return;
  fprintf(s->o->out, "recorded: %s %s by %s for %s (%.*s)\n", c->approve ? "approve" : "reject",
          c->item->id, s->signer, s->ctx.release, COMMIT_SHOWN, s->ctx.commit);
}

/* Appends the decisions of choices (skips left out) in one transaction: all or none; with
 * --sign-key each is signed first. Returns 0 or an exit code (err says why). */
static int record(struct session *s, const struct choice *choices, size_t n,
                  char head[UAT_HASH_HEX], struct uat_error *err) {
  struct uat_signoff_choice *cs = calloc(n ? n : 1, sizeof *cs);
  if (!cs) {
    uat_error_set(err, "cannot record the decisions: out of memory");
    return UAT_EXIT_LEDGER;
  }
  size_t nd = 0;
  for (size_t i = 0; i < n; i++)
    if (choices[i].kind != CHOICE_SKIP)
      cs[nd++] = (struct uat_signoff_choice){.item = choices[i].item,
                                             .approve = choices[i].kind == CHOICE_APPROVE,
                                             .note = choices[i].note};
  int rc = uat_signoff_record(&s->ctx, s->ledger, &s->snap, s->signer, cs, nd, s->o->sign_key,
                              head, err);
  for (size_t i = 0; rc == 0 && i < nd; i++)
    print_recorded(s, &cs[i]);
  free(cs);
  return rc;
}

static int sign_one(struct session *s) {
  const struct uat_cli_options *o = s->o;
  struct choice c = {
      .item = find_item(s->ctx.playbook, o->item),
      .kind = o->decision == UAT_DECIDE_APPROVE ? CHOICE_APPROVE : CHOICE_REJECT,
      .note = (char *)(o->note && *o->note ? o->note : NULL),
  };
  const struct uat_gate_item *other = already_signed_elsewhere(s);
  if (c.kind == CHOICE_APPROVE && other) {
    explain_distinct(s, other, o->err, "uatrun: ");
    fputs("; ask another member of the role to approve\n", o->err);
    return UAT_EXIT_USAGE;
  }
  char head[UAT_HASH_HEX];
  struct uat_error err;
  int rc = record(s, &c, 1, head, &err);
  if (rc != 0) {
    uat_cli_error(o, "%s", err.text);
    return rc;
  }
  fprintf(o->out, "ledger head: %s\n", head);
  return UAT_EXIT_OK;
}

/* ---------- the terminal prompt ---------- */

/* Ctrl-C while answering: nothing has been written, so say so and leave at once. */
static void interrupted(int sig) {
  static const char msg[] = "\nstopped: nothing recorded\n";
  (void)sig;
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  _exit(UAT_EXIT_USAGE);
}

/* One line of input without its line ending; NULL at end of input. Caller frees. */
static char *ask(const struct session *s, const char *question) {
  fputs(question, s->o->out);
  fflush(s->o->out);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  return line;
}

static const char *trimmed(char *text) {
  while (isspace((unsigned char)*text))
    text++;
  size_t n = strlen(text);
  while (n > 0 && isspace((unsigned char)text[n - 1]))
    text[--n] = '\0';
  return text;
}

static bool answer_is(const char *answer, const char *word) {
  return strcasecmp(answer, word) == 0 ||
         (answer[0] && !answer[1] && tolower(answer[0]) == word[0]);
}

/* Asks for a note until it fits (and, when required, is not empty). -1 at end of input. */
static int ask_note(const struct session *s, bool required, char **note) {
  const char *question = required ? "      Why do you reject it? (required): "
                                  : "      Note (optional, press Enter for none): ";
  for (;;) {
    char *line = ask(s, question);
    if (!line)
      return -1;
    const char *text = trimmed(line);
    size_t len = strlen(text);
    if (len > NOTE_MAX) {
      fprintf(s->o->out, "      That is %zu characters; please keep it under %d.\n", len, NOTE_MAX);
    } else if (!uat_report_text_is_line(text)) {
      /* Like --note: the ledger stores UTF-8, and others read the note on a terminal. */
      fputs("      That note holds control characters or bytes that are not UTF-8 text; please "
            "type it again as plain text.\n",
            s->o->out);
    } else if (required && len == 0) {
      fputs("      A rejection needs a reason, so the team knows what to fix.\n", s->o->out);
    } else {
      *note = len ? strdup(text) : NULL;
      free(line);
      return len && !*note ? -1 : 0;
    }
    free(line);
  }
}

/* Columns of the terminal the prompt is on; 80 when unknown or implausibly narrow. */
static size_t prompt_columns(void) {
  int cols = uat_cli_terminal_columns();
  return cols >= 40 ? (size_t)cols : 80;
}

/* Columns of UTF-8 text (one per character: the texts are prose, not wide CJK). */
static size_t text_columns(const char *s, size_t len) {
  size_t cols = 0;
  for (size_t i = 0; i < len; i++)
    cols += ((unsigned char)s[i] & 0xC0) != 0x80;
  return cols;
}

/* Prints text indented, broken between words before the terminal's edge: a line the
 * terminal wraps itself starts the next row in column 0, under nothing. */
static void print_wrapped(FILE *out, const char *text, const char *indent) {
  size_t room = prompt_columns() - 1 - strlen(indent);
  const char *p = text;
  while (*p) {
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    const char *line_end = p, *q = p;
    size_t used = 0;
    while (*q) {
      const char *word_end = q + strcspn(q, " ");
      size_t add = (q == p ? 0 : 1) + text_columns(q, (size_t)(word_end - q));
      if (q != p && used + add > room)
        break;
      used += add;
      line_end = word_end;
      q = word_end + strspn(word_end, " ");
    }
    fprintf(out, "%s%.*s\n", indent, (int)(line_end - p), p);
    p = line_end;
  }
}

/* Asks approve / reject / skip for one item. -1 at end of input. */
static int ask_item(const struct session *s, const struct uat_gate_item *gi, size_t n, size_t total,
                    struct choice *c) {
  FILE *out = s->o->out;
  fprintf(out, "\n[%zu/%zu] %s\n", n, total, gi->item->id);
  print_wrapped(out, gi->item->text ? gi->item->text : "", "      ");
  fprintf(out, "      so far: %s\n", gi->reason);
  const struct uat_gate_item *other = already_signed_elsewhere(s);
  for (;;) {
    char *line = ask(s, "      Approve, reject or skip? [a/r/s] ");
    if (!line)
      return -1;
    const char *answer = trimmed(line);
    enum choice_kind kind = CHOICE_SKIP;
    bool understood = true;
    if (answer_is(answer, "approve"))
      kind = CHOICE_APPROVE;
    else if (answer_is(answer, "reject"))
      kind = CHOICE_REJECT;
    else if (!answer_is(answer, "skip"))
      understood = false;
    free(line);
    if (!understood) {
      fputs("      Please type a to approve, r to reject, or s to skip this item.\n", out);
      continue;
    }
    if (kind == CHOICE_APPROVE && other) {
      explain_distinct(s, other, out, "      You cannot approve: ");
      fputs(".\n      You may reject or skip this item.\n", out);
      continue;
    }
    c->item = gi->item;
    c->kind = kind;
    c->note = NULL;
    return kind == CHOICE_SKIP ? 0 : ask_note(s, kind == CHOICE_REJECT, &c->note);
  }
}

static void print_header(const struct session *s, size_t total) {
  const struct uat_context *ctx = &s->ctx;
  const struct uat_gate_verdict *v = &s->snap.verdict;
  FILE *out = s->o->out;
  fprintf(out, "Sign-off for \"%s\"\n", ctx->playbook->name);
  fprintf(out, "  release:  %s\n  commit:   %s\n", ctx->release, ctx->commit);
  if (v->run_state == UAT_RUN_MISSING)
    fputs("  checks:   no automated run recorded yet for this release\n", out);
  else
    fprintf(out, "  checks:   %s\n", v->run_reason);
  fprintf(out, "  you:      %s, signing for %s\n\n", s->signer, s->o->role);
  fprintf(out,
          "%zu item%s to review. For each one, type a to approve, r to reject or s to skip.\n"
          "Nothing is recorded until you confirm at the end;\n"
          "Ctrl-C stops without recording anything.\n",
          total, total == 1 ? "" : "s");
}

static size_t print_summary(const struct session *s, const struct choice *choices, size_t n) {
  FILE *out = s->o->out;
  size_t decided = 0, width = 0;
  for (size_t i = 0; i < n; i++)
    if (strlen(choices[i].item->id) > width)
      width = strlen(choices[i].item->id);
  fputs("\nYour decisions:\n", out);
  for (size_t i = 0; i < n; i++) {
    const struct choice *c = &choices[i];
    const char *what = c->kind == CHOICE_APPROVE  ? "✓ approve"
                       : c->kind == CHOICE_REJECT ? "✗ reject "
                                                  : "- skip   ";
    fprintf(out, "  %s  %-*s", what, c->note ? (int)width : 0, c->item->id);
    if (c->note)
      fprintf(out, "  \"%s\"", c->note);
    fputc('\n', out);
    decided += c->kind != CHOICE_SKIP;
  }
  return decided;
}

/* Records every decision in one transaction with signals held back, so neither Ctrl-C nor
 * a failed write can leave some of a person's decisions recorded and the others not. */
static int record_all(struct session *s, const struct choice *choices, size_t n) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGQUIT);
  sigprocmask(SIG_BLOCK, &block, &old);
  signal(SIGINT, SIG_DFL);
  char head[UAT_HASH_HEX] = "";
  struct uat_error err;
  int rc = record(s, choices, n, head, &err);
  if (rc != 0) {
    uat_cli_error(s->o, "%s", err.text);
    fputs("uatrun: none of your decisions was recorded; run `uatrun signoff` again\n", s->o->err);
  } else {
    fprintf(s->o->out, "ledger head: %s\n", head);
  }
  fflush(s->o->out);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return rc;
}

static void free_choices(struct choice *choices, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(choices[i].note);
  free(choices);
}

static int sign_interactively(struct session *s) {
  const struct uat_gate_verdict *v = &s->snap.verdict;
  size_t total = items_of_role(s->ctx.playbook, s->o->role);
  struct choice *choices = calloc(total, sizeof *choices);
  if (!choices) {
    uat_cli_error(s->o, "out of memory");
    return UAT_EXIT_USAGE;
  }
  struct sigaction sa = {.sa_handler = interrupted}, old_sa;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_sa);
  print_header(s, total);
  size_t n = 0;
  int rc = 0;
  for (size_t i = 0; i < v->nitems && rc == 0; i++)
    if (strcmp(v->items[i].item->role, s->o->role) == 0) {
      rc = ask_item(s, &v->items[i], n + 1, total, &choices[n]);
      n += rc == 0;
    }
  char *confirm = NULL;
  size_t decided = rc == 0 ? print_summary(s, choices, n) : 0;
  if (rc != 0) {
    fputs("\nend of input: nothing recorded\n", s->o->out);
    rc = UAT_EXIT_USAGE;
  } else if (decided == 0) {
    fputs("\nnothing to record: you skipped every item\n", s->o->out);
    rc = UAT_EXIT_OK;
  } else {
    char question[200];
    snprintf(question, sizeof question, "\nRecord %s %zu decision%s for release %s? [y/N] ",
             decided == 1 ? "this" : "these", decided, decided == 1 ? "" : "s", s->ctx.release);
    confirm = ask(s, question);
    const char *answer = confirm ? trimmed(confirm) : "";
    if (answer_is(answer, "yes")) {
      rc = record_all(s, choices, n);
    } else {
      fprintf(s->o->out, "%snothing recorded\n", confirm ? "" : "\nend of input: ");
      rc = UAT_EXIT_USAGE;
    }
  }
  free(confirm);
  sigaction(SIGINT, &old_sa, NULL);
  free_choices(choices, n);
  return rc;
}

/* A PostgreSQL ledger is opened first: who signs is the database user it reports. */
static int open_team_ledger(struct session *s) {
  if (!uat_ledger_is_url(s->ctx.ledger_path))
    return 0;
  struct uat_error err;
  if (uat_ledger_open(s->ctx.ledger_path, UAT_LEDGER_WRITE, &s->ledger, &err) != 0 ||
      uat_ledger_identity(s->ledger, &s->db_user, &err) != 0) {
    uat_cli_error(s->o, "%s", err.text);
    return UAT_EXIT_LEDGER;
  }
  return 0;
}

/* A key that cannot be read is a usage error found before any question is asked. */
static int check_sign_key(const struct session *s) {
  if (!s->o->sign_key || access(s->o->sign_key, R_OK) == 0)
    return 0;
  uat_cli_error(s->o,
                "--sign-key '%s' cannot be read (%s); give your SSH private key, such as "
                "~/.ssh/id_ed25519",
                s->o->sign_key, strerror(errno));
  return UAT_EXIT_USAGE;
}

int uat_cmd_signoff(const struct uat_cli_options *opts) {
  struct session s = {.o = opts};
  struct uat_error err;
  if (uat_context_open(&s.ctx, opts, UAT_CTX_NEED_RELEASE, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    return UAT_EXIT_USAGE;
  }
  int rc = open_team_ledger(&s);
  rc = rc ? rc : check_role_and_signer(&s);
  rc = rc ? rc : check_mode(&s);
  rc = rc ? rc : check_sign_key(&s);
  char digest[UAT_DIGEST_HEX];
  if (rc == 0 && uat_gate_digest(&s.ctx, digest, &err) != 0) {
    uat_cli_error(opts, "%s", err.text);
    rc = UAT_EXIT_USAGE;
  }
  if (rc == 0 &&
      ((!s.ledger && uat_ledger_open(s.ctx.ledger_path, UAT_LEDGER_WRITE, &s.ledger, &err) != 0) ||
       uat_gate_snapshot_load(&s.ctx, s.ledger, digest, (int64_t)time(NULL), &s.snap, &err) != 0)) {
    uat_cli_error(opts, "%s", err.text);
    rc = UAT_EXIT_LEDGER;
  }
  s.snap_loaded = rc == 0;
  if (rc == 0 && !s.snap.run.found)
    rc = check_commit_form(&s);
  rc = rc ? rc : check_latest_run(&s);
  if (rc == 0)
    rc = opts->item ? sign_one(&s) : sign_interactively(&s);
  session_close(&s);
  return rc;
}
