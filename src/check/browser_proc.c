/* chromedriver + Chromium in a process group watched by a guard process (see the header). */
#include "check/browser_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DRIVER "/usr/bin/chromedriver"
#define DEFAULT_BROWSER "/usr/bin/chromium"
#define MAX_FD_CLOSED 4096

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

const char *uat_browser_driver_path(void) {
  return env_or("UATRUN_CHROMEDRIVER", DEFAULT_DRIVER);
}

const char *uat_browser_binary_path(void) {
  return env_or("UATRUN_CHROMIUM", DEFAULT_BROWSER);
}

int uat_browser_check_installed(struct uat_error *err) {
  const char *driver = uat_browser_driver_path(), *browser = uat_browser_binary_path();
  if (access(driver, X_OK) != 0)
    return uat_error_set(err,
                         "browser checks need chromedriver, and '%s' is missing or not executable: "
                         "install it with `apt-get install chromium chromium-driver`, or set "
                         "UATRUN_CHROMEDRIVER to the chromedriver to use",
                         driver);
  if (access(browser, X_OK) != 0)
    return uat_error_set(err,
                         "browser checks need Chromium, and '%s' is missing or not executable: "
                         "install it with `apt-get install chromium chromium-driver`, or set "
                         "UATRUN_CHROMIUM to the Chromium binary to use",
                         browser);
  return 0;
}

/* A port the kernel just found free on loopback; the driver binds it right after. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Kills the driver's group: SIGTERM, a moment for Chromium to exit, then SIGKILL. */
static void kill_group(pid_t driver) {
  kill(-driver, SIGTERM);
  for (int i = 0; i < 40; i++) {
    if (kill(-driver, 0) != 0)
      break;
    waitpid(driver, NULL, WNOHANG);
    pause_ms(50);
  }
  kill(-driver, SIGKILL);
  waitpid(driver, NULL, 0);
}

static void remove_profile(const char *profile) {
  pid_t rm = fork();
  if (rm == 0) {
    execl("/bin/rm", "rm", "-rf", "--", profile, (char *)NULL);
    _exit(127);
  }
  if (rm > 0)
    waitpid(rm, NULL, 0);
}

/* The guard, in a child of a multi-threaded process: async-signal-safe calls only, and
 * every string prepared before the fork. */
static _Noreturn void run_guard(int read_fd, const char *driver, const char *port_arg,
                                const char *profile) {
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigaction(SIGINT, &ign, NULL);
  sigaction(SIGTERM, &ign, NULL);
  sigaction(SIGHUP, &ign, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* uatrun's other descriptors (other guards' pipes among them) must not live on here */
  for (int fd = 3; fd < MAX_FD_CLOSED; fd++)
    if (fd != read_fd)
      close(fd);
  pid_t d = fork();
  if (d == 0) {
    setpgid(0, 0);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGHUP, &dfl, NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    close(read_fd);
    execl(driver, driver, port_arg, "--log-level=OFF", (char *)NULL);
    _exit(127);
  }
  if (d > 0)
    setpgid(d, d); /* also here: whichever runs first */
  char c;
  for (;;) {
    ssize_t n = read(read_fd, &c, 1);
    if (n == 0 || (n < 0 && errno != EINTR))
      break;
  }
  if (d > 0)
    kill_group(d);
  remove_profile(profile);
  _exit(0);
}

/* Where the throw-away profile goes: $TMPDIR like every Unix tool (so a CI job or a test can
 * keep it in its own folder), else /tmp, else the working folder. */
static const char *profile_parent(void) {
  const char *tmp = getenv("TMPDIR");
  if (tmp && *tmp && strlen(tmp) < 200 && access(tmp, W_OK) == 0)
    return tmp;
  return access("/tmp", W_OK) == 0 ? "/tmp" : ".";
}

int uat_browser_proc_start(struct uat_browser_proc *p, struct uat_error *err) {
  memset(p, 0, sizeof *p);
  p->keep_fd = -1;
  const char *driver = uat_browser_driver_path();
  const char *tmp = profile_parent();
  snprintf(p->profile, sizeof p->profile, "%s/uatrun-browser-XXXXXX", tmp);
  if (!mkdtemp(p->profile))
    return uat_error_set(err, "cannot make a browser profile folder in %s: %s (set TMPDIR to a "
                         "writable folder)", tmp, strerror(errno));
  p->port = free_port();
  char port_arg[32];
  snprintf(port_arg, sizeof port_arg, "--port=%d", p->port);
  int fds[2];
  if (p->port <= 0 || pipe(fds) != 0) {
    rmdir(p->profile);
    return uat_error_set(err, "cannot start the browser: %s", strerror(errno));
  }
  /* close-on-exec: a program another check starts must not hold the pipe open */
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  pid_t g = fork();
  if (g == 0) {
    close(fds[1]);
    run_guard(fds[0], driver, port_arg, p->profile);
  }
  close(fds[0]);
  if (g < 0) {
    close(fds[1]);
    rmdir(p->profile);
    return uat_error_set(err, "cannot start the browser: %s", strerror(errno));
  }
  p->guard = g;
  p->keep_fd = fds[1];
  return 0;
}

void uat_browser_proc_stop(struct uat_browser_proc *p) {
  if (p->keep_fd >= 0) {
    close(p->keep_fd);
    p->keep_fd = -1;
  }
  if (p->guard <= 0)
    return;
  for (int i = 0; i < 200; i++) { /* 10 s: the guard gives Chromium 2 s, then kills it */
    pid_t r = waitpid(p->guard, NULL, WNOHANG);
    if (r == p->guard || (r < 0 && errno == ECHILD))
      break;
    pause_ms(50);
  }
  p->guard = 0;
}
