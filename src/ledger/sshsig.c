/* ssh-keygen -Y as a child process: the data on its standard input, the signature on its
 * standard output (sign) or in a private temporary file (verify), its messages in another,
 * so a failure can say what ssh-keygen said. */
#include "ledger/sshsig.h"

#include "ledger/ledger_rows.h"
#include "util/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_OUTPUT (64 * 1024)

struct child_io {
  const char *input;
  size_t input_len;
  struct uat_strbuf out; /* stdout */
  char message[512];     /* stderr, first line(s) */
};

static int temp_file(char path[64]) {
  const char *dir = getenv("TMPDIR");
  snprintf(path, 64, "%s/uatrun-sig-XXXXXX", dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
  return mkstemp(path);
}

/* Writes all of data to fd, SIGPIPE held off (a child that exits early closes the pipe). */
static void write_all(int fd, const char *data, size_t len) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    data += n;
    len -= (size_t)n;
  }
  struct timespec zero = {0, 0};
  while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
    ;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void read_message(int fd, char *out, size_t size) {
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, out, size - 1);
  out[n > 0 ? n : 0] = '\0';
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = *(p + 1) ? ' ' : '\0';
}

/* Runs argv with io->input on stdin; returns the exit status (or -1 with err set). */
static int run_child(char *const argv[], struct child_io *io, struct uat_error *err) {
  int in[2], out[2];
  char errpath[64];
  int errfd = temp_file(errpath);
  if (errfd < 0)
    return uat_error_set(err, "cannot run ssh-keygen: no temporary file (%s)", strerror(errno));
  unlink(errpath);
  if (pipe(in) != 0) {
    close(errfd);
    return uat_error_set(err, "cannot run ssh-keygen: %s", strerror(errno));
  }
  if (pipe(out) != 0) {
    close(in[0]);
    close(in[1]);
    close(errfd);
    return uat_error_set(err, "cannot run ssh-keygen: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errfd, 2);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  pid_t pid;
  int spawned = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (spawned != 0) {
    close(in[1]);
    close(out[0]);
    close(errfd);
    return uat_error_set(err,
                         "cannot run ssh-keygen: %s; install openssh-client (signed decisions "
                         "need it)",
                         strerror(spawned));
  }
  write_all(in[1], io->input, io->input_len);
  close(in[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    if (io->out.len < MAX_OUTPUT)
      uat_strbuf_add(&io->out, buf, (size_t)n);
  }
  close(out[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  read_message(errfd, io->message, sizeof io->message);
  close(errfd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int uat_sshsig_sign(const char *key_path, const char *data, size_t len, char **sig,
                    struct uat_error *err) {
  *sig = NULL;
  char *argv[] = {"ssh-keygen",     "-q", "-Y", "sign", "-n", UAT_SSHSIG_NAMESPACE, "-f",
                  (char *)key_path, NULL};
  struct child_io io = {.input = data, .input_len = len};
  uat_strbuf_init(&io.out, 0);
  int status = run_child(argv, &io, err);
  if (status == 0 && io.out.len > 0 && strstr(io.out.buf, "BEGIN SSH SIGNATURE")) {
    *sig = uat_strbuf_take(&io.out);
    return 0;
  }
  uat_strbuf_release(&io.out);
  if (status < 0)
    return -1;
  return uat_error_set(err,
                       "cannot sign the decision with the key '%s': ssh-keygen said: %s; check "
                       "--sign-key (a private key file such as ~/.ssh/id_ed25519)",
                       key_path, *io.message ? io.message : "nothing");
}

int uat_sshsig_verify(const char *allowed_signers, const char *principal, const char *data,
                      size_t len, const char *sig, struct uat_error *err) {
  char sigpath[64];
  int fd = temp_file(sigpath);
  if (fd < 0)
    return uat_error_set(err, "cannot check a signature: no temporary file (%s)", strerror(errno));
  size_t siglen = strlen(sig);
  bool written = write(fd, sig, siglen) == (ssize_t)siglen;
  close(fd);
  if (!written) {
    unlink(sigpath);
    return uat_error_set(err, "cannot check a signature: cannot write '%s'", sigpath);
  }
  char *argv[] = {"ssh-keygen",
                  "-Y",
                  "verify",
                  "-n",
                  UAT_SSHSIG_NAMESPACE,
                  "-f",
                  (char *)allowed_signers,
                  "-I",
                  (char *)principal,
                  "-s",
                  sigpath,
                  NULL};
  struct child_io io = {.input = data, .input_len = len};
  uat_strbuf_init(&io.out, 0);
  int status = run_child(argv, &io, err);
  unlink(sigpath);
  uat_strbuf_release(&io.out);
  if (status < 0)
    return -1;
  if (status != 0)
    return uat_error_set(err, "%s", *io.message ? io.message : "ssh-keygen refused it");
  return 0;
}

int uat_sshsig_sign_decision(const char *key_path, struct uat_decision *d, struct uat_error *err) {
  char *bytes = uat_ledger_canonical_decision(d);
  if (!bytes)
    return uat_error_set(err, "cannot sign the decision: out of memory");
  int rc = uat_sshsig_sign(key_path, bytes, strlen(bytes), &d->signature, err);
  free(bytes);
  return rc;
}

int uat_sshsig_verify_decision(const char *allowed_signers, const struct uat_decision *d,
                               struct uat_error *err) {
  if (!d->signature)
    return uat_error_set(err,
                         "decision #%lld (%s by '%s' for %s) is not signed, and the playbook "
                         "requires signatures (gate.require_signatures); sign again with "
                         "`uatrun signoff --sign-key KEY`",
                         (long long)d->seq, d->item, d->signer, d->release);
  char *bytes = uat_ledger_canonical_decision(d);
  if (!bytes)
    return uat_error_set(err, "cannot check a signature: out of memory");
  struct uat_error why = {{0}};
  int rc = uat_sshsig_verify(allowed_signers, d->signer, bytes, strlen(bytes), d->signature, &why);
  free(bytes);
  if (rc != 0)
    return uat_error_set(err,
                         "decision #%lld (%s by '%s' for %s) has a bad signature: %s; it was not "
                         "signed by '%s' as listed in '%s' — treat it as forged",
                         (long long)d->seq, d->item, d->signer, d->release, why.text, d->signer,
                         allowed_signers);
  return 0;
}
