/* Who is asking, for the sign-off page: htpasswd files (bcrypt, checked by libxcrypt's
 * crypt_r), trusted-proxy address ranges (CIDR), and the server-side session table whose
 * random ids (OpenSSL RAND_bytes) live in an HttpOnly cookie and whose CSRF tokens every
 * POST must carry. Tokens are compared in constant time. No global state: each table has
 * its own mutex.
 * Ownership: uat_htpasswd_load's result is the caller's (uat_htpasswd_free); strings
 * passed in are borrowed; out buffers are the caller's. */
#ifndef UAT_SERVE_AUTH_H
#define UAT_SERVE_AUTH_H

#include "util/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UAT_TOKEN_HEX 65 /* 32 random bytes as hex + NUL */
#define UAT_USER_MAX 128

/* ---------- htpasswd ---------- */

struct uat_htpasswd;

/* Reads "user:$2y$..." lines (blank lines and # comments skipped). Only bcrypt hashes
 * ($2a$, $2b$, $2y$) are accepted: a line with another scheme (MD5 $apr1$, SHA, crypt DES,
 * plain text) is refused with FILE:LINE and the command that makes a bcrypt one. */
int uat_htpasswd_load(const char *path, struct uat_htpasswd **out, struct uat_error *err);
void uat_htpasswd_free(struct uat_htpasswd *h);
/* True when user is listed and password matches its hash. An unknown user costs one
 * bcrypt too, so timing does not tell who has an account. */
bool uat_htpasswd_check(const struct uat_htpasswd *h, const char *user, const char *password);

/* ---------- address ranges ---------- */

struct uat_cidr {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  int bits;
};

/* "10.0.0.0/8", "127.0.0.1" (/32), "::1/128", "fd00::/8". */
int uat_cidr_parse(const char *text, struct uat_cidr *out, struct uat_error *err);
/* An IPv4-mapped IPv6 peer (::ffff:10.0.0.1) matches an IPv4 range. */
bool uat_cidr_contains(const struct uat_cidr *range, const struct sockaddr *peer);

/* ---------- tokens ---------- */

/* 32 bytes from RAND_bytes as 64 hex digits. -1 when the generator failed. */
int uat_token_new(char out[UAT_TOKEN_HEX]);
/* Constant time for equal lengths (CRYPTO_memcmp); NULL never matches. */
bool uat_token_equal(const char *a, const char *b);

/* ---------- sessions ---------- */

struct uat_session_entry {
  char id[UAT_TOKEN_HEX];
  char csrf[UAT_TOKEN_HEX];
  char user[UAT_USER_MAX];
  int64_t expires;
};

struct uat_sessions {
  pthread_mutex_t lock;
  struct uat_session_entry *entries;
  size_t max;
  int64_t ttl_s;
};

int uat_sessions_init(struct uat_sessions *s, size_t max, int64_t ttl_s);
void uat_sessions_release(struct uat_sessions *s);
/* A new session for user; when the table is full, the one expiring first makes room.
 * id and csrf receive its tokens. -1 when no random bytes could be had. */
int uat_sessions_create(struct uat_sessions *s, const char *user, int64_t now,
                        char id[UAT_TOKEN_HEX], char csrf[UAT_TOKEN_HEX]);
/* Copies the live session named id into *out (and extends it); false when unknown or
 * expired. */
bool uat_sessions_find(struct uat_sessions *s, const char *id, int64_t now,
                       struct uat_session_entry *out);
void uat_sessions_remove(struct uat_sessions *s, const char *id);

/* ---------- failed sign-ins ---------- */

/* After UAT_THROTTLE_FREE wrong passwords for one name, that name waits 30 s before the next
 * try, doubling with each further failure up to 15 minutes; a success clears it. It slows
 * guessing a password; the price is that someone can make a person wait by failing for
 * them (they can still sign in once the wait is over). */
#define UAT_THROTTLE_FREE 5
#define UAT_THROTTLE_NAMES 256

struct uat_throttle_entry {
  char name[UAT_USER_MAX];
  int failures;
  int64_t until, last;
};

struct uat_throttle {
  pthread_mutex_t lock;
  struct uat_throttle_entry entries[UAT_THROTTLE_NAMES];
};

int uat_throttle_init(struct uat_throttle *t);
void uat_throttle_release(struct uat_throttle *t);
/* Seconds name must still wait before it may try (0: now). */
int64_t uat_throttle_wait(struct uat_throttle *t, const char *name, int64_t now);
void uat_throttle_failed(struct uat_throttle *t, const char *name, int64_t now);
void uat_throttle_succeeded(struct uat_throttle *t, const char *name);

#endif
