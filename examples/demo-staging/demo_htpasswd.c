/* uat-demo-htpasswd USER PASSWORD [COST]: prints one htpasswd line with a bcrypt hash
 * ("user:$2b$..."), as `htpasswd -B` makes, for the demo's sign-off page and the tests on
 * machines without apache2-utils. The salt and hash are libxcrypt's (crypt_gensalt_ra with
 * its own random source, crypt_r). */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4 || strchr(argv[1], ':')) {
    fprintf(stderr, "usage: uat-demo-htpasswd USER PASSWORD [COST 4-31, default 12]\n");
    return 2;
  }
  unsigned long cost = argc == 4 ? strtoul(argv[3], NULL, 10) : 12;
  char *salt = crypt_gensalt_ra("$2b$", cost, NULL, 0);
  struct crypt_data *data = calloc(1, sizeof *data);
  const char *hash = salt && data ? crypt_r(argv[2], salt, data) : NULL;
  if (!hash || hash[0] == '*') {
    fprintf(stderr, "uat-demo-htpasswd: libxcrypt could not make a bcrypt hash (cost %lu)\n", cost);
    return 1;
  }
  printf("%s:%s\n", argv[1], hash);
  free(salt);
  free(data);
  return 0;
}
