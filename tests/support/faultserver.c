/* Servers that break connections (see faultserver.h). The reset server needs plain
 * sockets: no HTTP library lets a handler end a reply with a TCP reset. */
#include "faultserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESET_BODY_SENT 4096
#define RESET_BODY_CLAIMED (1024 * 1024)
#define REQUEST_MAX 8192
#define READ_WAIT_MS 2000

struct uat_faultserver {
  int listen_fd;
  int wake[2]; /* written by stop: ends the reset thread's poll */
  pthread_t thread;
  bool thread_started;
  unsigned reset_port;
  struct MHD_Daemon *tls;
  unsigned tls_port;
  char *key_pem, *cert_pem;
};

static int listen_loopback(unsigned *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

/* Reads until the end of the request head (or REQUEST_MAX bytes, or a quiet client). */
static void read_request(int fd) {
  char buf[REQUEST_MAX + 1];
  size_t len = 0;
  while (len < REQUEST_MAX) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, READ_WAIT_MS) <= 0)
      return;
    ssize_t n = read(fd, buf + len, REQUEST_MAX - len);
    if (n <= 0)
      return;
    len += (size_t)n;
    buf[len] = '\0';
    if (strstr(buf, "\r\n\r\n"))
      return;
  }
}

static bool write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    data += n;
    len -= (size_t)n;
  }
  return true;
}

/* Headers and the start of the body, a pause so the client reads them, then a reset. */
static void serve_reset(int fd) {
  read_request(fd);
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
                   RESET_BODY_CLAIMED);
  static char body[RESET_BODY_SENT];
  memset(body, 'x', sizeof body);
  if (write_all(fd, head, (size_t)n) && write_all(fd, body, sizeof body)) {
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  struct linger hard = {.l_onoff = 1, .l_linger = 0}; /* close sends RST, not FIN */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(fd);
}

static void *reset_main(void *arg) {
  struct uat_faultserver *srv = arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = srv->listen_fd, .events = POLLIN},
                          {.fd = srv->wake[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR)
      return NULL;
    if (p[1].revents)
      return NULL;
    if (!(p[0].revents & POLLIN))
      continue;
    int fd = accept(srv->listen_fd, NULL, NULL);
    if (fd >= 0)
      serve_reset(fd);
  }
}

static char *bio_text(BIO *bio) {
  char *data = NULL;
  long len = BIO_get_mem_data(bio, &data);
  char *copy = len >= 0 ? malloc((size_t)len + 1) : NULL;
  if (copy) {
    memcpy(copy, data, (size_t)len);
    copy[len] = '\0';
  }
  return copy;
}

/* A self-signed P-256 certificate for 127.0.0.1, valid for a day, as PEM texts. */
static int make_certificate(struct uat_faultserver *srv) {
  EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *cert = X509_new();
  BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
  int rc = -1;
  if (!key || !cert || !kb || !cb)
    goto out;
  X509_NAME *name = X509_get_subject_name(cert);
  if (!ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert), -60) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert), 86400) || !X509_set_pubkey(cert, key) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1,
                                  -1, 0) ||
      !X509_set_issuer_name(cert, name) || !X509_sign(cert, key, EVP_sha256()) ||
      !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
      !PEM_write_bio_X509(cb, cert))
    goto out;
  srv->key_pem = bio_text(kb);
  srv->cert_pem = bio_text(cb);
  rc = srv->key_pem && srv->cert_pem ? 0 : -1;
out:
  BIO_free(kb);
  BIO_free(cb);
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}

static enum MHD_Result tls_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state) {
  (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)state;
  static const char text[] = "reached over TLS";
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return MHD_NO;
  enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
  MHD_destroy_response(resp);
  return rc;
}

static int start_tls(struct uat_faultserver *srv) {
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES || make_certificate(srv) != 0)
    return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  srv->tls = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_TLS,
      0, NULL, NULL, tls_handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem, MHD_OPTION_HTTPS_MEM_CERT, srv->cert_pem,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
  if (!srv->tls)
    return -1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->tls, MHD_DAEMON_INFO_BIND_PORT);
  srv->tls_port = info ? info->port : 0;
  return srv->tls_port ? 0 : -1;
}

struct uat_faultserver *uat_faultserver_start(char *err, size_t err_size) {
  struct uat_faultserver *srv = calloc(1, sizeof *srv);
  if (!srv) {
    if (err)
      snprintf(err, err_size, "out of memory");
    return NULL;
  }
  srv->listen_fd = -1;
  srv->wake[0] = srv->wake[1] = -1;
  const char *failed = NULL;
  if ((srv->listen_fd = listen_loopback(&srv->reset_port)) < 0 || pipe(srv->wake) != 0)
    failed = "cannot listen on a loopback port for the reset server";
  else if (pthread_create(&srv->thread, NULL, reset_main, srv) != 0)
    failed = "cannot start the reset server's thread";
  else
    srv->thread_started = true;
  if (!failed && start_tls(srv) != 0)
    failed = "cannot start the TLS server (libmicrohttpd built with GnuTLS is needed)";
  if (failed) {
    if (err)
      snprintf(err, err_size, "%s", failed);
    uat_faultserver_stop(srv);
    return NULL;
  }
  return srv;
}

unsigned uat_faultserver_reset_port(const struct uat_faultserver *server) {
  return server->reset_port;
}

unsigned uat_faultserver_tls_port(const struct uat_faultserver *server) {
  return server->tls_port;
}

void uat_faultserver_stop(struct uat_faultserver *server) {
  if (!server)
    return;
  if (server->tls)
    MHD_stop_daemon(server->tls);
  if (server->thread_started) {
    ssize_t ignored = write(server->wake[1], "x", 1);
    (void)ignored;
    pthread_join(server->thread, NULL);
  }
  for (int i = 0; i < 2; i++)
    if (server->wake[i] >= 0)
      close(server->wake[i]);
  if (server->listen_fd >= 0)
    close(server->listen_fd);
  free(server->key_pem);
  free(server->cert_pem);
  free(server);
}
