/* uat-test-server [--port N] [--port-file FILE]: the test server as a process, for the
 * end-to-end tests. Prints the port it listens on (and writes it to FILE atomically:
 * readers never see a partial number), then serves until SIGTERM or SIGINT. */
#include "testserver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
  fprintf(stderr, "usage: uat-test-server [--port N] [--port-file FILE]\n");
  return 2;
}

static int parse_port(const char *text, unsigned *port) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno || !*text || *end || value > 65535)
    return -1;
  *port = (unsigned)value;
  return 0;
}

/* Writes the port to FILE.tmp and renames it over FILE. */
static int write_port_file(const char *path, unsigned port) {
  size_t n = strlen(path) + 5;
  char *tmp = malloc(n);
  if (!tmp)
    return -1;
  snprintf(tmp, n, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  int rc = f ? 0 : -1;
  if (f) {
    fprintf(f, "%u\n", port);
    if (ferror(f))
      rc = -1;
    if (fclose(f) != 0)
      rc = -1;
  }
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -1;
  if (rc != 0)
    remove(tmp);
  free(tmp);
  return rc;
}

int main(int argc, char **argv) {
  unsigned port = 0;
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      if (parse_port(argv[++i], &port) != 0)
        return usage();
    } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
      port_file = argv[++i];
    } else {
      return usage();
    }
  }

  /* Block the stop signals before any server thread exists, so only sigwait sees them. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[256];
  struct uat_testserver *server = uat_testserver_start(port, err, sizeof err);
  if (!server) {
    fprintf(stderr, "uat-test-server: %s\n", err);
    return 1;
  }
  unsigned bound = uat_testserver_port(server);
  if (port_file && write_port_file(port_file, bound) != 0) {
    fprintf(stderr, "uat-test-server: cannot write the port to '%s': %s\n", port_file,
            strerror(errno));
    uat_testserver_stop(server);
    return 1;
  }
  printf("%u\n", bound);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  uat_testserver_stop(server);
  return 0;
}
