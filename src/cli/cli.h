/* The command line: options parsed once into struct uat_cli_options, then the
 * command table hands them to one cmd_*.c. Only this layer prints and decides
 * exit codes (the contract's 0/1/2/3/4). */
#ifndef UAT_CLI_H
#define UAT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum uat_exit {
  UAT_EXIT_OK = 0,      /* all checks passed; gate open */
  UAT_EXIT_FAILED = 1,  /* a check failed, or a required sign-off was rejected */
  UAT_EXIT_USAGE = 2,   /* usage or input error: nothing was run or recorded */
  UAT_EXIT_WAITING = 3, /* gate: checks passed but sign-offs missing or expired */
  UAT_EXIT_LEDGER = 4,  /* ledger cannot be opened or written, or failed its integrity check */
};

enum uat_decision_opt { UAT_DECIDE_NONE = 0, UAT_DECIDE_APPROVE, UAT_DECIDE_REJECT };

struct uat_cli_options {
  const char *command;  /* "run", "lint", ... */
  const char *playbook; /* path as given */
  const char *release;  /* --release, else environment (see context.c); NULL: unknown */
  const char *commit;
  const char **only; /* --only ID|TAG, repeatable */
  size_t nonly;
  const char **vars; /* --var KEY=VALUE, repeatable */
  size_t nvars;
  int jobs; /* --jobs N, default 1 */
  int browsers; /* --browsers N; 0: one per CPU */
  const char *base_url;
  const char *report_junit;
  const char *report_json;
  const char *report_html; /* --report-html FILE (run, gate) */
  const char *artifacts; /* --artifacts DIR */
  bool quiet;
  bool verbose;
  bool color; /* resolved: on a TTY, and neither --no-color nor NO_COLOR */
  bool stdout_tty;
  bool stdin_tty;
  bool no_run;      /* gate --no-run */
  const char *role; /* signoff */
  const char *item;
  enum uat_decision_opt decision;
  const char *note;
  const char *by;
  const char *head; /* verify-ledger --head HASH */
  const char *sign_key;    /* signoff --sign-key KEY */
  const char *ci_role;     /* ledger init --ci-role NAME */
  const char *signer_role; /* ledger init --signer-role NAME */
  const char *listen;      /* serve --listen HOST:PORT */
  const char *auth;        /* serve --auth htpasswd:FILE | header:NAME */
  const char **trusted;    /* serve --trusted-proxy CIDR, repeatable */
  size_t ntrusted;
  const char *run_report;  /* serve --run-report FILE: the JSON report of the latest run */
  const char **args;       /* ledger: ACTION and its arguments */
  size_t nargs;
  int limit;        /* history --limit N (0: all) */
  FILE *out;        /* stdout normally; tests may redirect */
  FILE *err;        /* stderr */
};

/* The whole program: parses argv, runs the command, returns the exit code. */
int uat_cli_main(int argc, char **argv);

/* The width of the terminal standard output is on, in columns; 0 when it is not one. */
int uat_cli_terminal_columns(void);

/* Prints "uatrun: message" (and an optional hint line) on opts->err. */
void uat_cli_error(const struct uat_cli_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One function per subcommand (cmd_*.c). */
int uat_cmd_run(const struct uat_cli_options *opts);
int uat_cmd_lint(const struct uat_cli_options *opts);
int uat_cmd_signoff(const struct uat_cli_options *opts);
int uat_cmd_gate(const struct uat_cli_options *opts);
int uat_cmd_status(const struct uat_cli_options *opts);
int uat_cmd_history(const struct uat_cli_options *opts);
int uat_cmd_verify_ledger(const struct uat_cli_options *opts);
int uat_cmd_ledger(const struct uat_cli_options *opts);
int uat_cmd_serve(const struct uat_cli_options *opts);

#endif
