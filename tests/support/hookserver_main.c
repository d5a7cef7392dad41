/* uat-hook-server --dir DIR --port-file FILE: the webhook receiver of hookserver.h as a
 * process for the end-to-end tests. Writes its port to FILE (whole, by a rename), then
 * serves until SIGTERM or SIGINT. */
#include "hookserver.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int write_port(const char *path, unsigned port) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  int rc = fprintf(f, "%u\n", port) > 0 ? 0 : -1;
  if (fclose(f) != 0)
    rc = -1;
  return rc == 0 ? rename(tmp, path) : rc;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *port_file = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--dir") == 0)
      dir = argv[i + 1];
    else if (strcmp(argv[i], "--port-file") == 0)
      port_file = argv[i + 1];
  }
  if (!dir || !port_file) {
    fprintf(stderr, "usage: uat-hook-server --dir DIR --port-file FILE\n");
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL); /* before any server thread: only sigwait sees them */
  signal(SIGPIPE, SIG_IGN);
  char err[256];
  struct uat_hookserver *srv = uat_hookserver_start(0, dir, err, sizeof err);
  if (!srv) {
    fprintf(stderr, "uat-hook-server: %s\n", err);
    return 1;
  }
  if (write_port(port_file, uat_hookserver_port(srv)) != 0) {
    fprintf(stderr, "uat-hook-server: cannot write '%s'\n", port_file);
    uat_hookserver_stop(srv);
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  uat_hookserver_stop(srv);
  return 0;
}
