/* Identity for the sign-off page: htpasswd + bcrypt through libxcrypt, address ranges of
 * trusted proxies, random tokens and the session table. Nothing here is home-made crypto:
 * hashing is crypt_r's, randomness RAND_bytes', comparison CRYPTO_memcmp's. */
#include "serve/serve_auth.h"

#include "util/fsutil.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTPASSWD_CAP (4u << 20)

struct htpasswd_entry {
  char *user;
  char *hash;
};

struct uat_htpasswd {
  struct htpasswd_entry *entries;
  size_t count;
};

void uat_htpasswd_free(struct uat_htpasswd *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->count; i++) {
    free(h->entries[i].user);
    /* The hash is not the password, but it lets an attacker guess offline: wipe it. */
    OPENSSL_cleanse(h->entries[i].hash, strlen(h->entries[i].hash));
    free(h->entries[i].hash);
  }
  free(h->entries);
  free(h);
}

static bool is_bcrypt(const char *hash) {
  return strncmp(hash, "$2a$", 4) == 0 || strncmp(hash, "$2b$", 4) == 0 ||
         strncmp(hash, "$2y$", 4) == 0;
}

/* One "user:hash" line into h; -1 with err naming FILE:LINE when it is not one. */
static int add_line(struct uat_htpasswd *h, const char *path, int lineno, char *line,
                    struct uat_error *err) {
  char *colon = strchr(line, ':');
  if (!colon || colon == line)
    return uat_error_set(err, "%s:%d: expected 'user:bcrypt-hash'", path, lineno);
  *colon = '\0';
  const char *hash = colon + 1;
  if (strlen(line) >= UAT_USER_MAX)
    return uat_error_set(err, "%s:%d: user name longer than %d bytes", path, lineno,
                         UAT_USER_MAX - 1);
  if (!is_bcrypt(hash))
    return uat_error_set(err,
                         "%s:%d: the password of '%s' is not a bcrypt hash; only bcrypt is "
                         "accepted: make the line with `htpasswd -B -C 12 %s %s`",
                         path, lineno, line, path, line);
  for (size_t i = 0; i < h->count; i++)
    if (strcmp(h->entries[i].user, line) == 0)
      return uat_error_set(err, "%s:%d: '%s' is listed twice", path, lineno, line);
  struct htpasswd_entry *grown = realloc(h->entries, (h->count + 1) * sizeof *grown);
  if (!grown)
    return uat_error_set(err, "cannot read '%s': out of memory", path);
  h->entries = grown;
  grown[h->count] = (struct htpasswd_entry){strdup(line), strdup(hash)};
  if (!grown[h->count].user || !grown[h->count].hash) {
    free(grown[h->count].user);
    free(grown[h->count].hash);
    return uat_error_set(err, "cannot read '%s': out of memory", path);
  }
  h->count++;
  return 0;
}

static int parse_lines(struct uat_htpasswd *h, const char *path, char *text,
                       struct uat_error *err) {
  int lineno = 0;
  for (char *line = text, *next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
      line[--n] = '\0';
    if (n == 0 || line[0] == '#')
      continue;
    if (add_line(h, path, lineno, line, err) != 0)
      return -1;
  }
  if (h->count == 0)
    return uat_error_set(err, "'%s' lists nobody: add 'user:bcrypt-hash' lines", path);
  return 0;
}

int uat_htpasswd_load(const char *path, struct uat_htpasswd **out, struct uat_error *err) {
  *out = NULL;
  size_t len;
  char *text = uat_file_read(path, HTPASSWD_CAP, &len, err);
  if (!text)
    return -1;
  struct uat_htpasswd *h = calloc(1, sizeof *h);
  int rc = h ? parse_lines(h, path, text, err) : uat_error_set(err, "out of memory");
  OPENSSL_cleanse(text, len);
  free(text);
  if (rc != 0) {
    uat_htpasswd_free(h);
    return -1;
  }
  *out = h;
  return 0;
}

/* crypt_r(password, hash) == hash, compared in constant time. */
static bool hash_matches(const char *password, const char *hash) {
  struct crypt_data *data = calloc(1, sizeof *data); /* ~32 KiB: not on a thread's stack */
  if (!data)
    return false;
  const char *got = crypt_r(password, hash, data);
  size_t n = strlen(hash);
  /* crypt_r returns a string starting with '*' on failure, never the hash. */
  bool ok = got && got[0] != '*' && strlen(got) == n && CRYPTO_memcmp(got, hash, n) == 0;
  OPENSSL_cleanse(data, sizeof *data);
  free(data);
  return ok;
}

bool uat_htpasswd_check(const struct uat_htpasswd *h, const char *user, const char *password) {
  if (!h || !user || !password || h->count == 0)
    return false;
  const struct htpasswd_entry *found = NULL;
  for (size_t i = 0; i < h->count; i++)
    if (strcmp(h->entries[i].user, user) == 0)
      found = &h->entries[i];
  if (!found) {
    /* The same bcrypt work as for a real account, so timing does not reveal names. */
    (void)hash_matches(password, h->entries[0].hash);
    return false;
  }
  return hash_matches(password, found->hash);
}

/* ---------- address ranges ---------- */

int uat_cidr_parse(const char *text, struct uat_cidr *out, struct uat_error *err) {
  char addr[INET6_ADDRSTRLEN + 8];
  const char *slash = strchr(text, '/');
  size_t alen = slash ? (size_t)(slash - text) : strlen(text);
  memset(out, 0, sizeof *out);
  if (alen == 0 || alen >= sizeof addr)
    return uat_error_set(err, "'%s' is not an address range: write it as 10.0.0.0/8 or ::1/128",
                         text);
  memcpy(addr, text, alen);
  addr[alen] = '\0';
  int max;
  if (inet_pton(AF_INET, addr, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
    out->family = AF_INET6;
    max = 128;
  } else {
    return uat_error_set(err, "'%s' is not an address range: write it as 10.0.0.0/8 or ::1/128",
                         text);
  }
  out->bits = max;
  if (slash) {
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || bits < 0 || bits > max)
      return uat_error_set(err, "'%s': the prefix length must be a number from 0 to %d", text, max);
    out->bits = (int)bits;
  }
  return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits) {
  int whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)whole) != 0)
    return false;
  if (rest == 0)
    return true;
  unsigned char mask = (unsigned char)(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool uat_cidr_contains(const struct uat_cidr *range, const struct sockaddr *peer) {
  if (!range || !peer)
    return false;
  unsigned char addr[16];
  int family;
  if (peer->sa_family == AF_INET) {
    memcpy(addr, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
    family = AF_INET;
  } else if (peer->sa_family == AF_INET6) {
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      memcpy(addr, a6->s6_addr + 12, 4);
      family = AF_INET;
    } else {
      memcpy(addr, a6->s6_addr, 16);
      family = AF_INET6;
    }
  } else {
    return false;
  }
  return family == range->family && prefix_equal(addr, range->addr, range->bits);
}

/* ---------- tokens ---------- */

int uat_token_new(char out[UAT_TOKEN_HEX]) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return -1;
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(out + 2 * i, 3, "%02x", raw[i]);
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

bool uat_token_equal(const char *a, const char *b) {
  if (!a || !b)
    return false;
  size_t n = strlen(a);
  return n > 0 && n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* ---------- sessions ---------- */

int uat_sessions_init(struct uat_sessions *s, size_t max, int64_t ttl_s) {
  memset(s, 0, sizeof *s);
  s->entries = calloc(max, sizeof *s->entries);
  if (!s->entries || pthread_mutex_init(&s->lock, NULL) != 0) {
    free(s->entries);
    return -1;
  }
  s->max = max;
  s->ttl_s = ttl_s;
  return 0;
}

void uat_sessions_release(struct uat_sessions *s) {
  if (!s->entries)
    return;
  OPENSSL_cleanse(s->entries, s->max * sizeof *s->entries);
  free(s->entries);
  pthread_mutex_destroy(&s->lock);
  s->entries = NULL;
}

int uat_sessions_create(struct uat_sessions *s, const char *user, int64_t now,
                        char id[UAT_TOKEN_HEX], char csrf[UAT_TOKEN_HEX]) {
  if (strlen(user) >= UAT_USER_MAX || uat_token_new(id) != 0 || uat_token_new(csrf) != 0)
    return -1;
  pthread_mutex_lock(&s->lock);
  size_t slot = 0;
  for (size_t i = 0; i < s->max; i++) /* a free or expired slot, else the oldest */
    if (s->entries[i].expires < s->entries[slot].expires)
      slot = i;
  struct uat_session_entry *e = &s->entries[slot];
  memcpy(e->id, id, UAT_TOKEN_HEX);
  memcpy(e->csrf, csrf, UAT_TOKEN_HEX);
  snprintf(e->user, sizeof e->user, "%s", user);
  e->expires = now + s->ttl_s;
  pthread_mutex_unlock(&s->lock);
  return 0;
}

bool uat_sessions_find(struct uat_sessions *s, const char *id, int64_t now,
                       struct uat_session_entry *out) {
  bool found = false;
  if (!id || strlen(id) != UAT_TOKEN_HEX - 1)
    return false;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->max && !found; i++) {
    struct uat_session_entry *e = &s->entries[i];
    if (e->expires > now && uat_token_equal(e->id, id)) {
      e->expires = now + s->ttl_s;
      *out = *e;
      found = true;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return found;
}

void uat_sessions_remove(struct uat_sessions *s, const char *id) {
  if (!id)
    return;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->max; i++)
    if (s->entries[i].expires && uat_token_equal(s->entries[i].id, id))
      OPENSSL_cleanse(&s->entries[i], sizeof s->entries[i]);
  pthread_mutex_unlock(&s->lock);
}

/* ---------- failed sign-ins ---------- */

int uat_throttle_init(struct uat_throttle *t) {
  memset(t, 0, sizeof *t);
  return pthread_mutex_init(&t->lock, NULL) == 0 ? 0 : -1;
}

void uat_throttle_release(struct uat_throttle *t) {
  pthread_mutex_destroy(&t->lock);
}

/* The entry of name, or NULL; with make, a new one in the slot used longest ago. */
static struct uat_throttle_entry *throttle_entry(struct uat_throttle *t, const char *name,
                                                 bool make) {
  size_t oldest = 0;
  for (size_t i = 0; i < UAT_THROTTLE_NAMES; i++) {
    if (t->entries[i].last && strcmp(t->entries[i].name, name) == 0)
      return &t->entries[i];
    if (t->entries[i].last < t->entries[oldest].last)
      oldest = i;
  }
  if (!make)
    return NULL;
  struct uat_throttle_entry *e = &t->entries[oldest];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  return e;
}

int64_t uat_throttle_wait(struct uat_throttle *t, const char *name, int64_t now) {
  pthread_mutex_lock(&t->lock);
  struct uat_throttle_entry *e = throttle_entry(t, name, false);
  int64_t wait = e && e->until > now ? e->until - now : 0;
  pthread_mutex_unlock(&t->lock);
  return wait;
}

void uat_throttle_failed(struct uat_throttle *t, const char *name, int64_t now) {
  pthread_mutex_lock(&t->lock);
  struct uat_throttle_entry *e = throttle_entry(t, name, true);
  e->failures++;
  e->last = now;
  if (e->failures >= UAT_THROTTLE_FREE) {
    int over = e->failures - UAT_THROTTLE_FREE;
    int64_t wait = over >= 5 ? 900 : (int64_t)30 << over;
    e->until = now + (wait > 900 ? 900 : wait);
  }
  pthread_mutex_unlock(&t->lock);
}

void uat_throttle_succeeded(struct uat_throttle *t, const char *name) {
  pthread_mutex_lock(&t->lock);
  struct uat_throttle_entry *e = throttle_entry(t, name, false);
  if (e)
    memset(e, 0, sizeof *e);
  pthread_mutex_unlock(&t->lock);
}
