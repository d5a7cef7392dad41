/* The command line: a table of commands, a table of options, usage text and
 * the process-wide library set-up. Everything below this layer returns errors;
 * this layer prints them and picks the exit code. */
#include "cli/cli.h"

#include "report/report_text.h"

#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef UATRUN_VERSION
#define UATRUN_VERSION "0.0.0"
#endif

enum {
  CMD_RUN = 1 << 0,
  CMD_LINT = 1 << 1,
  CMD_SIGNOFF = 1 << 2,
  CMD_GATE = 1 << 3,
  CMD_STATUS = 1 << 4,
  CMD_HISTORY = 1 << 5,
  CMD_VERIFY = 1 << 6,
  CMD_LEDGER = 1 << 7,
  CMD_SERVE = 1 << 8,
  CMD_ALL = 0x7f | CMD_SERVE, /* the commands about a playbook (ledger takes URLs) */
  /* Options that shape a run of the checks. */
  CMD_RUNS = CMD_RUN | CMD_GATE,
};

struct command {
  const char *name;
  unsigned bit;
  int (*fn)(const struct uat_cli_options *opts);
  const char *summary;
  const char *synopsis; /* after "uatrun " */
};

static const struct command commands[] = {
    {"run", CMD_RUN, uat_cmd_run, "run the checks (the default command)",
     "run PLAYBOOK [options]      (or: uatrun PLAYBOOK [options])"},
    {"signoff", CMD_SIGNOFF, uat_cmd_signoff, "record a sign-off decision for a role",
     "signoff PLAYBOOK --role ROLE [--item ID --approve|--reject] [--note TEXT] [--by NAME]\n"
     "               [--sign-key KEY]"},
    {"gate", CMD_GATE, uat_cmd_gate, "run the checks and open only when sign-offs are complete",
     "gate PLAYBOOK [options] [--no-run]"},
    {"status", CMD_STATUS, uat_cmd_status, "checks and sign-offs of the current release",
     "status PLAYBOOK [options]"},
    {"history", CMD_HISTORY, uat_cmd_history, "past runs and decisions, newest first",
     "history PLAYBOOK [--release VERSION] [--limit N]"},
    {"lint", CMD_LINT, uat_cmd_lint, "validate the playbook and check scripts, run nothing",
     "lint PLAYBOOK [options]"},
    {"verify-ledger", CMD_VERIFY, uat_cmd_verify_ledger, "re-check the ledger's hash chain",
     "verify-ledger PLAYBOOK [--head HASH]"},
    {"serve", CMD_SERVE, uat_cmd_serve, "serve the sign-off page for people who do not use terminals",
     "serve PLAYBOOK --auth htpasswd:FILE | --auth header:NAME --trusted-proxy CIDR\n"
     "               [--listen 127.0.0.1:8642] [--run-report FILE]"},
    {"ledger", CMD_LEDGER, uat_cmd_ledger,
     "create a PostgreSQL team ledger, or copy a ledger between backends",
     "ledger init URL [--ci-role NAME] [--signer-role NAME] | ledger copy FROM TO"},
};

enum opt_kind { OPT_FLAG, OPT_VALUE };

struct option_def {
  const char *name; /* long form, without "--" */
  char shortname;   /* 0: none */
  enum opt_kind kind;
  unsigned commands;   /* which commands accept it */
  const char *arg;     /* placeholder shown in usage */
  const char *help;    /* what it does, for --help */
  const char *why_not; /* added to "does not apply" where a user may well expect it */
};

static const struct option_def options[] = {
    {"release", 0, OPT_VALUE, CMD_ALL & ~CMD_VERIFY & ~CMD_LINT & ~CMD_HISTORY, "VERSION",
     "release under test (default: $UATRUN_RELEASE, $CI_COMMIT_TAG, …)", NULL},
    {"release", 0, OPT_VALUE, CMD_HISTORY, "VERSION",
     "show only this release (default: every release)", NULL},
    {"commit", 0, OPT_VALUE, CMD_ALL & ~CMD_VERIFY & ~CMD_LINT & ~CMD_HISTORY, "SHA",
     "commit under test (default: $UATRUN_COMMIT, $GITHUB_SHA, $CI_COMMIT_SHA, …)", NULL},
    {"only", 0, OPT_VALUE, CMD_RUN | CMD_LINT, "ID|TAG",
     "only the checks with this id or tag (repeatable)",
     "the gate judges a run of every check; `uatrun run --only` tries a few"},
    {"jobs", 'j', OPT_VALUE, CMD_RUNS, "N", "run N checks at a time (1 to 64, default 1)", NULL},
    {"browsers", 0, OPT_VALUE, CMD_RUNS, "N",
     "of those, at most N browser checks at a time (1 to 64, default: one per CPU)", NULL},
    {"var", 0, OPT_VALUE, CMD_RUNS | CMD_LINT | CMD_STATUS | CMD_SERVE, "KEY=VALUE",
     "override a var declared under vars: (repeatable)", NULL},
    {"base-url", 0, OPT_VALUE, CMD_RUNS | CMD_STATUS | CMD_SERVE, "URL", "override target.base_url",
     NULL},
    {"report-junit", 0, OPT_VALUE, CMD_RUNS, "FILE", "write a JUnit XML report", NULL},
    {"report-json", 0, OPT_VALUE, CMD_RUNS | CMD_STATUS, "FILE", "write a JSON report", NULL},
    {"report-html", 0, OPT_VALUE, CMD_RUNS, "FILE",
     "write one self-contained HTML page of the run (and the gate's sign-offs)", NULL},
    {"artifacts", 0, OPT_VALUE, CMD_RUNS, "DIR",
     "save a screenshot and the page HTML of each failed browser check here", NULL},
    {"quiet", 'q', OPT_FLAG, CMD_ALL, NULL, "print only failures and the summary", NULL},
    {"verbose", 'v', OPT_FLAG, CMD_ALL, NULL,
     "also print logs, request dumps (secrets hidden) and tracebacks", NULL},
    {"no-color", 0, OPT_FLAG, CMD_ALL, NULL, "no colours (also when NO_COLOR is set)", NULL},
    {"no-run", 0, OPT_FLAG, CMD_GATE, NULL,
     "judge the latest recorded run instead of running the checks", NULL},
    {"role", 0, OPT_VALUE, CMD_SIGNOFF, "ROLE", "the role you sign for (required)", NULL},
    {"item", 0, OPT_VALUE, CMD_SIGNOFF, "ID",
     "the item to decide (without it, on a terminal: asks item by item)", NULL},
    {"approve", 0, OPT_FLAG, CMD_SIGNOFF, NULL, "approve the item given with --item", NULL},
    {"reject", 0, OPT_FLAG, CMD_SIGNOFF, NULL, "reject it (needs --note with the reason)", NULL},
    {"note", 0, OPT_VALUE, CMD_SIGNOFF, "TEXT", "a note recorded with the decision", NULL},
    {"by", 0, OPT_VALUE, CMD_SIGNOFF, "NAME",
     "who signs (default: $UATRUN_USER, then your login name)", NULL},
    {"sign-key", 0, OPT_VALUE, CMD_SIGNOFF, "KEY",
     "sign each decision with this SSH private key (ssh-keygen -Y sign)", NULL},
    {"ci-role", 0, OPT_VALUE, CMD_LEDGER, "NAME",
     "ledger init: the group role CI jobs log in under (default: uatrun_ci)", NULL},
    {"signer-role", 0, OPT_VALUE, CMD_LEDGER, "NAME",
     "ledger init: the group role signers belong to (default: uatrun_signer)", NULL},
    {"head", 0, OPT_VALUE, CMD_VERIFY, "HASH",
     "also check against a chain head recorded elsewhere (a CI log)", NULL},
    {"limit", 'n', OPT_VALUE, CMD_HISTORY, "N", "show at most N entries", NULL},
    {"listen", 0, OPT_VALUE, CMD_SERVE, "HOST:PORT",
     "where the sign-off page listens (default 127.0.0.1:8642; port 0: a free one)", NULL},
    {"auth", 0, OPT_VALUE, CMD_SERVE, "KIND:ARG",
     "who signs: htpasswd:FILE (bcrypt) or header:NAME set by a --trusted-proxy", NULL},
    {"trusted-proxy", 0, OPT_VALUE, CMD_SERVE, "CIDR",
     "the proxy addresses whose identity header counts (repeatable)", NULL},
    {"run-report", 0, OPT_VALUE, CMD_SERVE, "FILE",
     "the --report-json of the latest run: its failed expectations and screenshots", NULL},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int uat_cli_terminal_columns(void) {
  struct winsize ws;
  return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

void uat_cli_error(const struct uat_cli_options *opts, const char *fmt, ...) {
  FILE *err = opts && opts->err ? opts->err : stderr;
  va_list ap;
  va_start(ap, fmt);
  fputs("uatrun: ", err);
  vfprintf(err, fmt, ap);
  fputc('\n', err);
  va_end(ap);
}

static const char EXIT_CODES[] =
    "\nexit codes: 0 passed / gate open, 1 a check failed or a sign-off was rejected,\n"
    "  2 usage or input error (nothing run or recorded), 3 gate waiting for sign-offs,\n"
    "  4 ledger error\n";

/* "  -j, --jobs N         what it does", one line per option; with only, the options of
 * that command, else all of them, each naming the commands it applies to. */
static void print_options(FILE *out, const struct command *only) {
  for (size_t i = 0; i < COUNT(options); i++) {
    const struct option_def *d = &options[i];
    if (only && !(d->commands & only->bit))
      continue;
    char form[64];
    snprintf(form, sizeof form, "%s%c%s--%s%s%s", d->shortname ? "-" : "",
             d->shortname ? d->shortname : ' ', d->shortname ? ", " : "", d->name,
             d->arg ? " " : "", d->arg ? d->arg : "");
    const char *shown = d->shortname ? form : form + 1;
    /* In the full list, an option of one command says which. */
    const char *owner = NULL;
    for (size_t c = 0; !only && c < COUNT(commands); c++)
      if (d->commands == commands[c].bit)
        owner = commands[c].name;
    fprintf(out, "  %-20s %s%s%s\n", shown, owner ? owner : "", owner ? ": " : "", d->help);
  }
}

static void print_usage(FILE *out) {
  fputs("usage: uatrun PLAYBOOK [options]            run the checks (same as `uatrun run`)\n", out);
  fputs("       uatrun run PLAYBOOK [options]\n", out);
  for (size_t i = 0; i < COUNT(commands); i++)
    if (commands[i].bit != CMD_RUN)
      fprintf(out, "       uatrun %s\n", commands[i].synopsis);
  fputs("       uatrun COMMAND --help              the options of one command\n"
        "       uatrun --help | --version\n\ncommands:\n",
        out);
  for (size_t i = 0; i < COUNT(commands); i++)
    fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fputs("\noptions (`uatrun COMMAND --help` lists those of one command):\n", out);
  print_options(out, NULL);
  fputs(EXIT_CODES, out);
}

static void print_command_usage(FILE *out, const struct command *cmd) {
  fprintf(out, "usage: uatrun %s\n\n%s\n\noptions:\n", cmd->synopsis, cmd->summary);
  print_options(out, cmd);
  fputs(EXIT_CODES, out);
}

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < COUNT(commands); i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

/* Whether arg names option d: "--name[=value]", or "-x[value]" for a value option. */
static bool names_option(const char *arg, const struct option_def *d, const char **inline_value) {
  if (arg[0] == '-' && arg[1] == '-') {
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    *inline_value = eq ? eq + 1 : NULL;
    return strlen(d->name) == len && strncmp(d->name, name, len) == 0;
  }
  /* "-j4" is "-j 4", as getopt reads it; a flag takes nothing after its letter. */
  *inline_value = arg[1] && arg[2] ? arg + 2 : NULL;
  return arg[0] == '-' && arg[1] && d->shortname == arg[1] && (!arg[2] || d->kind == OPT_VALUE);
}

/* The row for arg: the one that applies to cmd when one name has a row per meaning
 * (history's --release filters, elsewhere it names what is under test), else the first. */
static const struct option_def *find_option(const char *arg, const struct command *cmd,
                                            const char **inline_value) {
  const struct option_def *first = NULL;
  const char *first_value = NULL, *value;
  for (size_t i = 0; i < COUNT(options); i++) {
    if (!names_option(arg, &options[i], &value))
      continue;
    if (options[i].commands & cmd->bit) {
      *inline_value = value;
      return &options[i];
    }
    if (!first) {
      first = &options[i];
      first_value = value;
    }
  }
  *inline_value = first_value;
  return first;
}

static int parse_count(const char *text, int min, int max, int *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max)
    return -1;
  *out = (int)v;
  return 0;
}

static int push(const char ***list, size_t *n, const char *value) {
  const char **grown = realloc((void *)*list, (*n + 1) * sizeof *grown);
  if (!grown)
    return -1;
  grown[(*n)++] = value;
  *list = grown;
  return 0;
}

/* Stores one option's value; returns 0 or -1 after printing why. */
static int apply_option(struct uat_cli_options *o, const struct option_def *def, const char *value,
                        bool *no_color) {
  const char *n = def->name;
  /* What people record and others read later (gate, history) must not carry
   * terminal control sequences that could rewrite the lines around them, and must be
   * UTF-8, which the ledger stores (else it could only fail after the checks ran). */
  static const char *const recorded[] = {"release", "commit", "role", "item", "note", "by"};
  for (size_t i = 0; value && i < COUNT(recorded); i++)
    if (!strcmp(n, recorded[i]) && !uat_report_text_is_line(value)) {
      uat_cli_error(o, "--%s must be one line of UTF-8 text without control characters", n);
      return -1;
    }
  if (!strcmp(n, "release"))
    o->release = value;
  else if (!strcmp(n, "commit"))
    o->commit = value;
  else if (!strcmp(n, "only"))
    return push(&o->only, &o->nonly, value);
  else if (!strcmp(n, "var"))
    return push(&o->vars, &o->nvars, value);
  else if (!strcmp(n, "browsers")) {
    if (parse_count(value, 1, 64, &o->browsers) != 0) {
      uat_cli_error(o, "--browsers expects a number from 1 to 64, got '%s'", value);
      return -1;
    }
  } else if (!strcmp(n, "jobs")) {
    if (parse_count(value, 1, 64, &o->jobs) != 0) {
      uat_cli_error(o, "--jobs expects a number from 1 to 64, got '%s'", value);
      return -1;
    }
  } else if (!strcmp(n, "limit")) {
    if (parse_count(value, 1, INT_MAX, &o->limit) != 0) {
      uat_cli_error(o, "--limit expects a positive number, got '%s'", value);
      return -1;
    }
  } else if (!strcmp(n, "base-url"))
    o->base_url = value;
  else if (!strcmp(n, "report-junit"))
    o->report_junit = value;
  else if (!strcmp(n, "report-json"))
    o->report_json = value;
  else if (!strcmp(n, "report-html"))
    o->report_html = value;
  else if (!strcmp(n, "artifacts"))
    o->artifacts = value;
  else if (!strcmp(n, "quiet"))
    o->quiet = true;
  else if (!strcmp(n, "verbose"))
    o->verbose = true;
  else if (!strcmp(n, "no-color"))
    *no_color = true;
  else if (!strcmp(n, "no-run"))
    o->no_run = true;
  else if (!strcmp(n, "role"))
    o->role = value;
  else if (!strcmp(n, "item"))
    o->item = value;
  else if (!strcmp(n, "approve") || !strcmp(n, "reject")) {
    enum uat_decision_opt d = !strcmp(n, "approve") ? UAT_DECIDE_APPROVE : UAT_DECIDE_REJECT;
    if (o->decision != UAT_DECIDE_NONE && o->decision != d) {
      uat_cli_error(o, "--approve and --reject exclude each other: give one");
      return -1;
    }
    o->decision = d;
  } else if (!strcmp(n, "note"))
    o->note = value;
  else if (!strcmp(n, "by"))
    o->by = value;
  else if (!strcmp(n, "head"))
    o->head = value;
  else if (!strcmp(n, "sign-key"))
    o->sign_key = value;
  else if (!strcmp(n, "ci-role"))
    o->ci_role = value;
  else if (!strcmp(n, "signer-role"))
    o->signer_role = value;
  else if (!strcmp(n, "listen"))
    o->listen = value;
  else if (!strcmp(n, "auth"))
    o->auth = value;
  else if (!strcmp(n, "trusted-proxy"))
    return push(&o->trusted, &o->ntrusted, value);
  else if (!strcmp(n, "run-report"))
    o->run_report = value;
  return 0;
}

static bool colour_wanted(bool no_color_flag, bool tty) {
  const char *no_color = getenv("NO_COLOR");
  const char *term = getenv("TERM");
  if (no_color_flag || (no_color && *no_color) || !tty)
    return false;
  return !(term && strcmp(term, "dumb") == 0);
}

/* Parses argv into o; returns -1 (usage error printed), 0, or 1 when --help/--version
 * was handled. */
static int parse_args(int argc, char **argv, struct uat_cli_options *o,
                      const struct command **cmd) {
  int i = 1;
  bool no_color = false;
  if (argc < 2) {
    print_usage(o->err);
    return -1;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    /* "uatrun help gate" is "uatrun gate --help". */
    const struct command *topic = argc > 2 ? find_command(argv[2]) : NULL;
    if (argc > 2 && !topic) {
      uat_cli_error(o, "no command '%s' (see uatrun --help)", argv[2]);
      return -1;
    }
    if (topic)
      print_command_usage(o->out, topic);
    else
      print_usage(o->out);
    return 1;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    fprintf(o->out, "uatrun %s\n", UATRUN_VERSION);
    return 1;
  }
  *cmd = find_command(argv[1]);
  bool named = *cmd != NULL; /* the command was given, not taken as the default */
  if (named)
    i = 2;
  else
    *cmd = find_command("run");
  o->command = (*cmd)->name;
  bool positional_only = false; /* after "--", as getopt does: a playbook may start with '-' */
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (!positional_only && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
      if (named)
        print_command_usage(o->out, *cmd);
      else
        print_usage(o->out);
      return 1;
    }
    if ((positional_only || arg[0] != '-' || !arg[1]) && (*cmd)->bit == CMD_LEDGER) {
      /* `ledger ACTION ARG...`: its words are not a playbook. */
      if (push(&o->args, &o->nargs, arg) != 0)
        return -1;
      continue;
    }
    if (positional_only || arg[0] != '-' || !arg[1]) {
      if (o->playbook && find_command(o->playbook)) {
        /* "uatrun --quiet gate x.yml": the command was taken for the playbook. */
        uat_cli_error(o, "the command comes first: uatrun %s %s [options]", o->playbook, arg);
        return -1;
      }
      if (o->playbook) {
        uat_cli_error(o, "unexpected argument '%s': give one playbook (see uatrun --help)", arg);
        return -1;
      }
      o->playbook = arg;
      continue;
    }
    if (!strcmp(arg, "--")) {
      positional_only = true;
      continue;
    }
    const char *value;
    const struct option_def *def = find_option(arg, *cmd, &value);
    if (!def) {
      uat_cli_error(o, "unknown option '%s' (see uatrun --help)", arg);
      return -1;
    }
    if (!(def->commands & (*cmd)->bit)) {
      uat_cli_error(o, "option --%s does not apply to `uatrun %s`%s%s (see uatrun %s --help)",
                    def->name, (*cmd)->name, def->why_not ? ": " : "",
                    def->why_not ? def->why_not : "", (*cmd)->name);
      return -1;
    }
    if (def->kind == OPT_VALUE && !value) {
      if (i + 1 >= argc) {
        uat_cli_error(o, "option --%s needs a value: --%s %s", def->name, def->name, def->arg);
        return -1;
      }
      value = argv[++i];
    } else if (def->kind == OPT_FLAG && value) {
      uat_cli_error(o, "option --%s takes no value", def->name);
      return -1;
    }
    if (apply_option(o, def, value, &no_color) != 0)
      return -1;
  }
  if (!o->playbook && (*cmd)->bit != CMD_LEDGER) {
    uat_cli_error(o, "which playbook? usage: uatrun %s PLAYBOOK [options]", (*cmd)->name);
    return -1;
  }
  if (o->quiet && o->verbose) {
    uat_cli_error(o, "--quiet and --verbose exclude each other: give one");
    return -1;
  }
  o->color = colour_wanted(no_color, o->stdout_tty);
  return 0;
}

int uat_cli_main(int argc, char **argv) {
  struct uat_cli_options o = {0};
  o.out = stdout;
  o.err = stderr;
  o.jobs = 1;
  o.stdout_tty = isatty(STDOUT_FILENO);
  o.stdin_tty = isatty(STDIN_FILENO);
  const struct command *cmd = NULL;
  int parsed = parse_args(argc, argv, &o, &cmd);
  if (parsed != 0) {
    free((void *)o.only);
    free((void *)o.vars);
    free((void *)o.args);
    free((void *)o.trusted);
    return parsed > 0 ? UAT_EXIT_OK : UAT_EXIT_USAGE;
  }
  /* Process-wide library set-up, once, before any thread starts. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    uat_cli_error(&o, "cannot initialise libcurl");
    return UAT_EXIT_USAGE;
  }
  xmlInitParser();
  int rc = cmd->fn(&o);
  xmlCleanupParser();
  curl_global_cleanup();
  if (fflush(stdout) != 0 || ferror(stdout)) {
    /* A run whose verdict never reached its reader must not look successful. */
    fprintf(stderr, "uatrun: cannot write to standard output\n");
    if (rc == UAT_EXIT_OK)
      rc = UAT_EXIT_USAGE;
  }
  free((void *)o.only);
  free((void *)o.vars);
  free((void *)o.args);
  free((void *)o.trusted);
  return rc;
}
