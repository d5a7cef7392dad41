/* The terminal report: one line per check as it finishes, the details of each
 * failure, and a summary that CI log parsers and people can both read. */
#include "report/report.h"

#include "util/duration.h"
#include "report/report_text.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

enum style { PLAIN, BOLD, DIM, GREEN, RED, YELLOW, BOLD_GREEN, BOLD_RED };

static const char *const SGR[] = {
    [PLAIN] = "",
    [BOLD] = "\033[1m",
    [DIM] = "\033[2m",
    [GREEN] = "\033[32m",
    [RED] = "\033[31m",
    [YELLOW] = "\033[33m",
    [BOLD_GREEN] = "\033[1;32m",
    [BOLD_RED] = "\033[1;31m",
};

/* Clears the transient progress line so the next permanent line starts clean. */
static const char CLEAR_LINE[] = "\r\033[K";

/* Progress lines longer than a terminal row would wrap, and \033[K clears one row only:
 * the line is cut to the terminal's width (this many columns when it is unknown). */
enum { PROGRESS_COLUMNS = 80, PROGRESS_ID_MAX = 200 };

/* Ids are padded to the longest one so titles start in one column, as lint lists them;
 * a longer id just pushes its own title right. */
enum { ID_COLUMN_MAX = 32 };

/* Output is composed in memory and written with one fputs, so lines of checks that
 * finish on other threads cannot interleave with it. */
struct block {
  const struct uat_term *t;
  struct uat_strbuf sb;
  bool oom; /* formatting ran out of memory: a short notice replaces the block */
};

static void block_init(struct block *b, const struct uat_term *t) {
  b->t = t;
  b->oom = false;
  uat_strbuf_init(&b->sb, 0);
}

static void add(struct block *b, const char *s) {
  if (!b->oom && uat_strbuf_adds(&b->sb, s) != 0)
    b->oom = true;
}

static void add_style(struct block *b, enum style st) {
  if (b->t->color && st != PLAIN)
    add(b, SGR[st]);
}

static void add_reset(struct block *b, enum style st) {
  if (b->t->color && st != PLAIN)
    add(b, "\033[0m");
}

/* Adds recorded text, made safe for a terminal, with continuation lines indented;
 * trailing newlines are dropped so the block controls its own line ends. */
static void add_text(struct block *b, const char *text, const char *indent) {
  if (b->oom)
    return;
  size_t len = strlen(text);
  while (len > 0 && text[len - 1] == '\n')
    len--;
  struct uat_strbuf clean;
  uat_strbuf_init(&clean, 0);
  if (uat_report_text_add(&clean, text, len, UAT_TEXT_TERMINAL) != 0) {
    uat_strbuf_release(&clean);
    b->oom = true;
    return;
  }
  const char *line = clean.buf;
  for (const char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
    if (uat_strbuf_add(&b->sb, line, (size_t)(nl - line + 1)) != 0 ||
        uat_strbuf_adds(&b->sb, indent) != 0)
      b->oom = true;
  }
  add(b, line);
  uat_strbuf_release(&clean);
}

static void add_styled(struct block *b, enum style st, const char *text, const char *indent) {
  add_style(b, st);
  add_text(b, text, indent);
  add_reset(b, st);
}

/* Writes the block and releases it; returns false, writing nothing, when formatting it ran
 * out of memory, so the caller can still put the essentials on record. */
static bool block_flush(struct block *b) {
  bool ok = !b->oom;
  if (ok && b->sb.buf)
    fputs(b->sb.buf, b->t->out);
  uat_strbuf_release(&b->sb);
  return ok;
}

static bool is_unknown(const char *s) {
  return !s || !*s || strcmp(s, "unknown") == 0;
}

/* A full commit hash is shortened like git does; any other commit text is shown whole. */
static void add_commit(struct block *b, const char *commit) {
  if (is_unknown(commit)) {
    add(b, "unknown");
    return;
  }
  size_t len = strlen(commit);
  bool hex = true;
  for (size_t i = 0; i < len && hex; i++)
    hex = isxdigit((unsigned char)commit[i]) != 0;
  char shortened[13];
  if (hex && len > 12) {
    memcpy(shortened, commit, 12);
    shortened[12] = '\0';
    commit = shortened;
  }
  add_styled(b, BOLD, commit, "");
}

void uat_term_begin(const struct uat_term *t, const struct uat_run_result *run, size_t total) {
  if (t->quiet)
    return;
  struct block b;
  block_init(&b, t);
  const char *name = run->playbook_name && *run->playbook_name ? run->playbook_name
                     : run->playbook_path                      ? run->playbook_path
                                                               : "playbook";
  add_styled(&b, BOLD, "uatrun", "");
  add(&b, " — ");
  add_styled(&b, BOLD, name, "");
  add(&b, "\n");
  if (run->base_url) {
    add(&b, "target ");
    add_styled(&b, BOLD, run->base_url, "");
    add(&b, " · ");
  }
  add(&b, "release ");
  add_styled(&b, BOLD, is_unknown(run->release) ? "unknown" : run->release, "");
  add(&b, " · commit ");
  add_commit(&b, run->commit);
  char count[64];
  snprintf(count, sizeof count, " · %zu check%s\n\n", total, total == 1 ? "" : "s");
  add(&b, count);
  if (!block_flush(&b))
    fputs("uatrun\n\n", t->out);
  fflush(t->out);
}

void uat_term_build_begin(const struct uat_term *t, const char *url, const char *json,
                          const char *expect, double wait_s, double interval_s) {
  if (t->quiet)
    return;
  struct block b;
  block_init(&b, t);
  char took[32], every[32];
  add(&b, "waiting for staging to serve ");
  add(&b, "\"");
  add_styled(&b, BOLD, expect, "");
  add(&b, "\" (GET ");
  add_text(&b, url, "");
  if (json) {
    add(&b, ", field ");
    add_text(&b, json, "");
  }
  if (wait_s > 0) {
    add(&b, "; up to ");
    add(&b, uat_duration_format(wait_s, took, sizeof took));
    add(&b, ", every ");
    add(&b, uat_duration_format(interval_s, every, sizeof every));
  } else {
    add(&b, "; no wait");
  }
  add(&b, ")\n");
  if (!block_flush(&b))
    fputs("waiting for staging to serve the release under test\n", t->out);
  fflush(t->out);
}

void uat_term_build_poll(const struct uat_term *t, const char *what, double elapsed_s) {
  if (t->quiet)
    return;
  struct block b;
  block_init(&b, t);
  char at[32], col[48];
  snprintf(col, sizeof col, "  %-7s ", uat_duration_format(elapsed_s, at, sizeof at));
  add_styled(&b, DIM, col, "");
  add(&b, "staging ");
  add_styled(&b, YELLOW, what, "");
  add(&b, "\n");
  block_flush(&b);
  fflush(t->out);
}

void uat_term_build_served(const struct uat_term *t, const char *served, double waited_s,
                           int polls) {
  if (t->quiet)
    return;
  struct block b;
  block_init(&b, t);
  char took[32], line[96];
  add_styled(&b, GREEN, "✓", "");
  add(&b, " staging serves \"");
  add_styled(&b, BOLD, served, "");
  add(&b, "\"");
  if (polls > 1)
    snprintf(line, sizeof line, " after %s (%d polls)\n\n",
             uat_duration_format(waited_s, took, sizeof took), polls);
  else
    snprintf(line, sizeof line, "\n\n");
  add(&b, line);
  if (!block_flush(&b))
    fputs("staging serves the release under test\n\n", t->out);
  fflush(t->out);
}

void uat_term_check_started(const struct uat_term *t, const char *id, size_t done, size_t total) {
  if (!t->progress)
    return;
  char counter[64];
  snprintf(counter, sizeof counter, "[%zu/%zu] running ", done + 1, total);
  /* Ids are [a-z0-9._-]: one column per byte. One column is left free (a character in the
   * last one makes some terminals wrap) and one is for the "…". */
  size_t columns = t->columns > 0 ? (size_t)t->columns : PROGRESS_COLUMNS;
  if (columns < 3)
    return;
  size_t fixed = strlen(counter) + 2;
  size_t room = columns > fixed ? columns - fixed : 0;
  if (room > PROGRESS_ID_MAX)
    room = PROGRESS_ID_MAX;
  if (columns < fixed) /* a very narrow terminal: the counter alone, cut */
    counter[columns - 2] = '\0';
  char shown[PROGRESS_ID_MAX + 1];
  size_t len = strlen(id);
  /* Cut on a UTF-8 character boundary so the line stays valid text. */
  if (len > room) {
    len = room;
    while (len > 0 && ((unsigned char)id[len] & 0xC0) == 0x80)
      len--;
  }
  memcpy(shown, id, len);
  shown[len] = '\0';
  struct block b;
  block_init(&b, t);
  add(&b, CLEAR_LINE);
  add_style(&b, DIM);
  add(&b, counter);
  add_text(&b, shown, "");
  add(&b, "…");
  add_reset(&b, DIM);
  block_flush(&b);
  fflush(t->out);
}

struct outcome_look {
  const char *mark;
  const char *word; /* padded so the ids line up */
  enum style style;
};

static struct outcome_look look_of(enum uat_outcome o) {
  switch (o) {
  case UAT_OUTCOME_PASS:
    return (struct outcome_look){"✓", "pass ", GREEN};
  case UAT_OUTCOME_FAIL:
    return (struct outcome_look){"✗", "FAIL ", BOLD_RED};
  case UAT_OUTCOME_ERROR:
    return (struct outcome_look){"✗", "ERROR", BOLD_RED};
  case UAT_OUTCOME_SKIP:
    return (struct outcome_look){"-", "skip ", DIM};
  }
  return (struct outcome_look){"?", "?    ", PLAIN};
}

static void add_check_line(struct block *b, const struct uat_check_result *r) {
  struct outcome_look look = look_of(r->outcome);
  add_styled(b, look.style, look.mark, "");
  add(b, " ");
  add_styled(b, look.style, look.word, "");
  add(b, " ");
  const char *id = r->id ? r->id : "?";
  add_styled(b, BOLD, id, "");
  size_t width = b->t->id_width < ID_COLUMN_MAX ? b->t->id_width : ID_COLUMN_MAX;
  if (r->title && *r->title && (!r->id || strcmp(r->title, r->id) != 0)) {
    for (size_t n = strlen(id); n < width; n++)
      add(b, " ");
    add(b, "  ");
    add_text(b, r->title, "");
  }
  char buf[32];
  add(b, "  ");
  add_styled(b, DIM, uat_duration_format(r->duration_s, buf, sizeof buf), "");
  if (r->attempts > 1) {
    snprintf(buf, sizeof buf, " (%d attempts)", r->attempts);
    add_styled(b, YELLOW, buf, "");
  }
  add(b, "\n");
}

/* "      expected: X" — values that span lines keep their column. */
static void add_value(struct block *b, const char *label, const char *value, enum style st) {
  add(b, "      ");
  add_styled(b, DIM, label, "");
  add_styled(b, st, value, "                ");
  add(b, "\n");
}

static void add_expectation(struct block *b, const struct uat_expectation *e) {
  add(b, "    ");
  add_styled(b, e->ok ? GREEN : RED, e->ok ? "✓" : "✗", "");
  add(b, " ");
  add_text(b, e->message && *e->message ? e->message : e->kind ? e->kind : "expectation", "      ");
  if (e->where) {
    add(b, " ");
    add_style(b, DIM);
    add(b, "(");
    add_text(b, e->where, "");
    add(b, ")");
    add_reset(b, DIM);
  }
  add(b, "\n");
  if (e->ok)
    return;
  if (e->expected)
    add_value(b, "expected: ", e->expected, GREEN);
  if (e->actual)
    add_value(b, "actual:   ", e->actual, RED);
}

static void add_details(struct block *b, const struct uat_check_result *r) {
  bool verbose = b->t->verbose;
  for (size_t i = 0; i < r->nexpectations; i++)
    if (!r->expectations[i].ok || verbose)
      add_expectation(b, &r->expectations[i]);
  if (r->outcome == UAT_OUTCOME_ERROR) {
    add(b, "    ");
    add_styled(b, RED, "error:", "");
    add(b, " ");
    add_text(b, r->error ? r->error : "the check raised an error without a message", "           ");
    add(b, "\n");
  } else if (r->outcome == UAT_OUTCOME_FAIL && uat_check_result_failed_expectations(r) == 0) {
    add(b, "    ");
    add_styled(b, RED, "✗", "");
    add(b, " ");
    add_text(b, r->error ? r->error : "the check failed without a recorded reason", "      ");
    add(b, "\n");
  }
  /* What the browser showed when the check failed (--artifacts): where to look first. */
  for (size_t i = 0; i < r->nartifacts; i++) {
    add(b, "    ");
    add_styled(b, DIM, "artifact:", "");
    add(b, " ");
    add_text(b, r->artifacts[i], "              ");
    add(b, "\n");
  }
  /* A failed check's log() lines explain it; a passed one's are noise unless asked for. */
  if (!verbose && r->outcome == UAT_OUTCOME_PASS)
    return;
  for (size_t i = 0; i < r->nlogs; i++) {
    add(b, "    ");
    add_styled(b, DIM, "log:", "");
    add(b, " ");
    add_text(b, r->logs[i], "         ");
    add(b, "\n");
  }
  if (verbose && r->traceback && *r->traceback) {
    add(b, "    ");
    add_styled(b, DIM, "traceback:", "");
    add(b, "\n      ");
    add_styled(b, DIM, r->traceback, "      ");
    add(b, "\n");
  }
}

void uat_term_check_done(const struct uat_term *t, const struct uat_check_result *r) {
  bool failed = r->outcome == UAT_OUTCOME_FAIL || r->outcome == UAT_OUTCOME_ERROR;
  struct block b;
  block_init(&b, t);
  if (t->progress)
    add(&b, CLEAR_LINE);
  if (failed || !t->quiet) {
    add_check_line(&b, r);
    if (failed || t->verbose)
      add_details(&b, r);
  }
  /* Ids are plain [a-z0-9._-] (the playbook checks them), so they are safe to print raw. */
  if (!block_flush(&b) && failed)
    fprintf(t->out, "✗ %s %s (out of memory while formatting its details)\n",
            look_of(r->outcome).word, r->id ? r->id : "?");
  fflush(t->out);
}

struct tally {
  size_t passed, failed, errored, skipped;
};

/* Counted from the checks themselves, so the summary always matches the lines above it. */
static struct tally count_outcomes(const struct uat_run_result *run) {
  struct tally n = {0};
  for (size_t i = 0; i < run->nchecks; i++) {
    switch (run->checks[i].outcome) {
    case UAT_OUTCOME_PASS:
      n.passed++;
      break;
    case UAT_OUTCOME_FAIL:
      n.failed++;
      break;
    case UAT_OUTCOME_ERROR:
      n.errored++;
      break;
    case UAT_OUTCOME_SKIP:
      n.skipped++;
      break;
    }
  }
  return n;
}

static void add_failed_ids(struct block *b, const struct uat_run_result *run) {
  add_styled(b, RED, "failed:", "");
  const char *sep = " ";
  for (size_t i = 0; i < run->nchecks; i++) {
    const struct uat_check_result *r = &run->checks[i];
    if (r->outcome != UAT_OUTCOME_FAIL && r->outcome != UAT_OUTCOME_ERROR)
      continue;
    add(b, sep);
    add_styled(b, BOLD, r->id ? r->id : "?", "");
    sep = ", ";
  }
  add(b, "\n");
}

void uat_term_summary(const struct uat_term *t, const struct uat_run_result *run) {
  struct tally n = count_outcomes(run);
  bool pass = uat_run_result_passed(run);
  struct block b;
  block_init(&b, t);
  char line[160];
  if (t->progress)
    add(&b, CLEAR_LINE);
  /* CI log parsers look for exactly this line, so it carries no colour. */
  snprintf(line, sizeof line, "\n%zu passed, %zu failed", n.passed, n.failed + n.errored);
  add(&b, line);
  if (n.skipped) {
    snprintf(line, sizeof line, ", %zu skipped", n.skipped);
    add(&b, line);
  }
  add(&b, "\n");
  char took[32];
  uat_duration_format(run->duration_s, took, sizeof took);
  const char *plural = run->nchecks == 1 ? "" : "s";
  /* "failed" above counts both; say how many stopped on an error rather than on what they
   * expected, since those point at the script, the network or a timeout. */
  if (run->nchecks == 0)
    snprintf(line, sizeof line, "no checks ran (%s)", took);
  else if (n.errored && n.failed)
    snprintf(line, sizeof line,
             "%zu check%s in %s — %zu of the %zu failed on an error (script, network or timeout)",
             run->nchecks, plural, took, n.errored, n.failed + n.errored);
  else if (n.errored == 1)
    snprintf(line, sizeof line,
             "%zu check%s in %s — the failure was an error (script, network or timeout)",
             run->nchecks, plural, took);
  else if (n.errored)
    snprintf(line, sizeof line,
             "%zu check%s in %s — all %zu failures were errors (script, network or timeout)",
             run->nchecks, plural, took, n.errored);
  else
    snprintf(line, sizeof line, "%zu check%s in %s", run->nchecks, plural, took);
  add_styled(&b, DIM, line, "");
  add(&b, "\n");
  if (n.failed + n.errored)
    add_failed_ids(&b, run);
  add_styled(&b, pass ? BOLD_GREEN : BOLD_RED, pass ? "RESULT: PASS" : "RESULT: FAIL", "");
  add(&b, "\n");
  if (!block_flush(&b))
    fputs(pass ? "\nRESULT: PASS\n" : "\nRESULT: FAIL\n", t->out);
  fflush(t->out);
}
