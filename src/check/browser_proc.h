/* Starts and stops the processes behind one browser: chromedriver on a free loopback port,
 * and the Chromium it launches, in a process group of their own, with a fresh profile folder.
 *
 * A small guard process owns that group: it starts the driver, then waits on a pipe from
 * uatrun. When the pipe closes — uat_browser_proc_stop, or uatrun ending for any reason,
 * SIGTERM, SIGKILL and crashes included — the guard kills the whole group and removes the
 * profile. So no browser outlives the check that opened it, with no process-wide state here.
 * Ownership: paths are borrowed; the struct is the caller's. */
#ifndef UAT_BROWSER_PROC_H
#define UAT_BROWSER_PROC_H

#include "util/error.h"

#include <stdbool.h>
#include <sys/types.h>

struct uat_browser_proc {
  pid_t guard;      /* 0: not started */
  int keep_fd;      /* write end of the guard's pipe; -1 when closed */
  int port;         /* the driver's loopback port */
  char profile[256]; /* the profile folder (mkdtemp), under $TMPDIR */
};

/* The driver and browser binaries: $UATRUN_CHROMEDRIVER / $UATRUN_CHROMIUM, else Debian's
 * /usr/bin/chromedriver and /usr/bin/chromium. Borrowed (environment or static text). */
const char *uat_browser_driver_path(void);
const char *uat_browser_binary_path(void);

/* 0 when both binaries exist and are executable; else -1 with err saying what to install
 * (`apt-get install chromium chromium-driver`) or which variable to set. */
int uat_browser_check_installed(struct uat_error *err);

/* Starts the guard and the driver; returns once the process exists (the caller then waits
 * for the driver's /status). -1 with err set, nothing left running. */
int uat_browser_proc_start(struct uat_browser_proc *p, struct uat_error *err);

/* Closes the pipe: the guard kills the group and removes the profile; waits for it (at most
 * a few seconds). Safe to call twice and on a never-started proc. */
void uat_browser_proc_stop(struct uat_browser_proc *p);

#endif
