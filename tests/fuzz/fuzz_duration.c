/* Durations (util/duration.c): whatever a playbook writes as timeout:, wait: or
 * signoff_max_age:. Properties: an accepted text is 0 < s <= UAT_DURATION_MAX_S, and is
 * accepted with the same value by a reference reading of the grammar duration.h states;
 * uat_duration_format of any number gives text that parses back within its rounding. */
#include "fuzz_assert.h"
#include "util/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The grammar, read a second way: parts NUMBER UNIT, NUMBER made of digits and at most one
 * '.', UNIT one of ms s m h d; a single bare NUMBER is seconds. */
static bool reference_parse(const char *text, double *out) {
  static const char *const units[] = {"ms", "s", "m", "h", "d"};
  static const double factors[] = {0.001, 1, 60, 3600, 86400};
  double total = 0;
  int parts = 0;
  for (const char *p = text; *p;) {
    const char *start = p;
    int dots = 0, digits = 0;
    for (; isdigit((unsigned char)*p) || *p == '.'; p++)
      *p == '.' ? dots++ : digits++;
    if (digits == 0 || dots > 1)
      return false;
    double value = strtod(start, NULL);
    const char *u = p;
    while (isalpha((unsigned char)*p))
      p++;
    size_t ulen = (size_t)(p - u);
    double factor = -1;
    if (ulen == 0 && parts == 0 && *p == '\0')
      factor = 1;
    for (size_t i = 0; ulen && i < sizeof units / sizeof units[0]; i++)
      if (strlen(units[i]) == ulen && memcmp(units[i], u, ulen) == 0)
        factor = factors[i];
    if (factor < 0)
      return false;
    total += value * factor;
    parts++;
  }
  if (parts == 0 || !(total > 0) || !(total <= UAT_DURATION_MAX_S))
    return false;
  *out = total;
  return true;
}

/* Half of the unit uat_duration_format rounds to, for a value of s seconds. */
static double format_tolerance(double s) {
  if (s < 1)
    return 0.0005;
  if (s < 60)
    return 0.05;
  if (s < 3600)
    return 0.5;
  if (s < 2 * 86400)
    return 30;
  return 1800;
}

static void check_format(double s) {
  char buf[64];
  uat_duration_format(s, buf, sizeof buf);
  FUZZ_ASSERT(buf[0] != '\0', "format(%.17g) is empty", s);
  if (!(s >= 0.001 && s <= UAT_DURATION_MAX_S))
    return;
  double back = 0;
  FUZZ_ASSERT(uat_duration_parse(buf, &back) == 0, "format(%.17g) = '%s' does not parse", s, buf);
  /* 1e-9: the units' own binary rounding (0.001 is not exact) */
  FUZZ_ASSERT(fabs(back - s) <= format_tolerance(s) * (1 + 1e-9) + 1e-9,
              "format(%.17g) = '%s' parses as %.17g", s, buf, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[256];
  if (size >= sizeof text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  if (strlen(text) != size) /* a YAML scalar holds no NUL */
    return 0;
  double s = -1, ref = -1;
  int rc = uat_duration_parse(text, &s);
  bool ok = reference_parse(text, &ref);
  FUZZ_ASSERT((rc == 0) == ok, "'%s': parse says %d, the grammar says %s", text, rc,
              ok ? "valid" : "invalid");
  if (rc == 0) {
    FUZZ_ASSERT(s > 0 && s <= UAT_DURATION_MAX_S, "'%s' gives %.17g", text, s);
    FUZZ_ASSERT(fabs(s - ref) <= 1e-9 * ref, "'%s' gives %.17g, the grammar %.17g", text, s, ref);
    check_format(s);
  }
  /* The raw bytes as a double too: NaN, infinities, negatives and huge values must format. */
  if (size >= sizeof(double)) {
    double d;
    memcpy(&d, data, sizeof d);
    check_format(d);
  }
  return 0;
}
