/* uat-demo-staging command line: options, the listening line scripts parse, clean stop on
 * SIGTERM/SIGINT. */
#include "demo.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define DEFAULT_RELEASE "v4.6.2"
#define DEFAULT_COMMIT "3f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
#define DEFAULT_PREVIOUS_COMMIT "2d7e4c1a9f3b5e8d0c6a4f2e1b9d7c5a3e1f0b8d"
#define MAX_DEPLOY_AFTER_S 86400.0

struct options {
  unsigned port;
  const char *port_file;
};

static void usage(FILE *out) {
  fputs("usage: uat-demo-staging [--port PORT] [--break LIST] [--release VERSION]\n"
        "                        [--commit SHA] [--previous-release VERSION --deploy-after S]\n"
        "                        [--previous-commit SHA] [--port-file FILE] [--verbose]\n"
        "\n"
        "A staging server modelling Tasking Manager (API and pages) and the RDV-Solidarites\n"
        "admin, on 127.0.0.1 only. Prints \"listening on http://127.0.0.1:PORT\" once ready.\n"
        "\n"
        "  --port PORT        port to listen on (default 8080; 0 picks a free one)\n"
        "  --port-file FILE   also write the bound port to FILE\n"
        "  --break LIST       comma-separated regressions to inject (or \"all\"):\n",
        out);
  for (size_t i = 0; i < demo_break_count; i++)
    fprintf(out, "                       %-14s %s\n", demo_breaks[i].name, demo_breaks[i].what);
  fputs("  --release VERSION  version deployed, as GET /api/version and the heartbeat report it\n"
        "                     (default " DEFAULT_RELEASE ")\n"
        "  --commit SHA       commit deployed (default " DEFAULT_COMMIT ")\n"
        "  --previous-release VERSION, --deploy-after SECONDS\n"
        "                     a deploy rolling out: staging reports VERSION (and\n"
        "                     --previous-commit) for SECONDS after start, then --release\n"
        "  --previous-commit SHA  (default " DEFAULT_PREVIOUS_COMMIT ")\n"
        "  --verbose          log each request on stderr\n"
        "  --help             show this help\n"
        "\n"
        "POST /__demo/reset restores the initial RDV data; GET /__demo shows the settings.\n",
        out);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("uat-demo-staging: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\nrun 'uat-demo-staging --help' for usage\n", stderr);
  return 2;
}

static int bad_break(const char *name) {
  fprintf(stderr, "uat-demo-staging: unknown --break name \"%s\"; valid names:", name);
  for (size_t i = 0; i < demo_break_count; i++)
    fprintf(stderr, " %s", demo_breaks[i].name);
  fputs(" (or all)\n", stderr);
  return 2;
}

static bool parse_port(const char *s, unsigned *port) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > 65535)
    return false;
  *port = (unsigned)v;
  return true;
}

/* Seconds, a number from 0 to a day ("2.5" too). */
static bool parse_seconds(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0 && v <= MAX_DEPLOY_AFTER_S))
    return false;
  *out = v;
  return true;
}

static bool release_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
      return false;
  return true;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct demo *d, struct options *o) {
  static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                           {"break", required_argument, NULL, 'b'},
                                           {"release", required_argument, NULL, 'r'},
                                           {"port-file", required_argument, NULL, 'f'},
                                           {"commit", required_argument, NULL, 'c'},
                                           {"previous-release", required_argument, NULL, 'P'},
                                           {"previous-commit", required_argument, NULL, 'C'},
                                           {"deploy-after", required_argument, NULL, 'd'},
                                           {"verbose", no_argument, NULL, 'v'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  char bad[64];
  int opt;
  opterr = 0;
  bool has_previous = false;
  while ((opt = getopt_long(argc, argv, ":p:b:r:f:vh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'p':
      if (!parse_port(optarg, &o->port))
        return usage_error("invalid --port \"%s\": expected a number from 0 to 65535", optarg);
      break;
    case 'b':
      if (!demo_breaks_parse(optarg, &d->breaks, bad, sizeof bad))
        return bad_break(bad);
      break;
    case 'r':
      if (!release_ok(optarg))
        return usage_error("invalid --release \"%s\": expected 1 to 64 printable characters",
                           optarg);
      snprintf(d->release, sizeof d->release, "%s", optarg);
      break;
    case 'f':
      o->port_file = optarg;
      break;
    case 'c':
    case 'P':
    case 'C':
      if (!release_ok(optarg))
        return usage_error("invalid value \"%s\": expected 1 to 64 printable characters", optarg);
      snprintf(opt == 'c'   ? d->commit
               : opt == 'P' ? d->previous_release
                            : d->previous_commit,
               sizeof d->commit, "%s", optarg);
      has_previous = has_previous || opt == 'P';
      break;
    case 'd':
      if (!parse_seconds(optarg, &d->deploy_after_s))
        return usage_error("invalid --deploy-after \"%s\": expected seconds from 0 to 86400",
                           optarg);
      break;
    case 'v':
      d->verbose = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case ':':
      return usage_error("option \"%s\" needs a value", argv[optind - 1]);
    default:
      return usage_error("unknown option \"%s\"", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument \"%s\"", argv[optind]);
  if (d->deploy_after_s > 0 && !has_previous)
    return usage_error("%s needs --previous-release VERSION: what staging runs until then",
                       "--deploy-after");
  return -1;
}

/* Writes the port through a temporary file and rename, so readers never see half a file. */
static bool write_port_file(const char *path, unsigned port) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return false;
  FILE *f = fopen(tmp, "w");
  if (!f)
    return false;
  bool ok = fprintf(f, "%u\n", port) > 0;
  ok = (fclose(f) == 0) && ok;
  if (ok && rename(tmp, path) != 0)
    ok = false;
  if (!ok)
    remove(tmp);
  return ok;
}

static void describe_breaks(const struct demo *d) {
  fprintf(stderr, "uat-demo-staging: release %s, breaks:", d->release);
  bool any = false;
  for (size_t i = 0; i < demo_break_count; i++) {
    if (demo_broken(d, demo_breaks[i].bit)) {
      fprintf(stderr, " %s", demo_breaks[i].name);
      any = true;
    }
  }
  fputs(any ? "\n" : " none\n", stderr);
}

static int serve(struct demo *d, const struct options *o) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  /* Blocked before MHD starts its threads, so only sigwait below receives them. */
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
    fputs("uat-demo-staging: cannot block SIGINT/SIGTERM\n", stderr);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  unsigned port = 0;
  struct MHD_Daemon *daemon = demo_server_start(d, o->port, &port);
  if (!daemon) {
    fprintf(stderr,
            "uat-demo-staging: cannot listen on 127.0.0.1:%u; is the port in use? try --port 0\n",
            o->port);
    return 1;
  }
  if (o->port_file && !write_port_file(o->port_file, port)) {
    fprintf(stderr, "uat-demo-staging: cannot write port file \"%s\": %s\n", o->port_file,
            strerror(errno));
    MHD_stop_daemon(daemon);
    return 1;
  }
  d->started_s = demo_clock_s();
  describe_breaks(d);
  if (d->deploy_after_s > 0)
    fprintf(stderr, "uat-demo-staging: deploying: %s until %gs after start, then %s\n",
            d->previous_release, d->deploy_after_s, d->release);
  printf("listening on http://127.0.0.1:%u\n", port);
  if (fflush(stdout) != 0)
    fputs("uat-demo-staging: cannot write to stdout\n", stderr);
  int sig = 0;
  while (sigwait(&stop, &sig) != 0)
    ;
  fprintf(stderr, "uat-demo-staging: %s received, stopping\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
  MHD_stop_daemon(daemon);
  if (o->port_file)
    remove(o->port_file);
  return 0;
}

int main(int argc, char **argv) {
  struct demo d = {.breaks = 0,
                   .release = DEFAULT_RELEASE,
                   .commit = DEFAULT_COMMIT,
                   .previous_commit = DEFAULT_PREVIOUS_COMMIT};
  struct options o = {.port = DEFAULT_PORT};
  int rc = parse_args(argc, argv, &d, &o);
  if (rc >= 0)
    return rc;
  d.rdv = rdv_state_new();
  if (!d.rdv) {
    fputs("uat-demo-staging: out of memory\n", stderr);
    return 1;
  }
  rc = serve(&d, &o);
  rdv_state_free(d.rdv);
  return rc;
}
