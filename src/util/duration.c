#include "util/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double unit_seconds(const char *u, size_t len) {
  static const struct {
    const char *name;
    double seconds;
  } units[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
      return units[i].seconds;
  return -1;
}

int uat_duration_parse(const char *text, double *seconds) {
  if (!text)
    return -1;
  const char *p = text;
  double total = 0;
  int parts = 0;
  while (*p) {
    if (!isdigit((unsigned char)*p) && *p != '.')
      return -1;
    /* Only digits and '.': strtod alone would also take "0x10", "1e3" or "inf". */
    size_t number_len = strspn(p, "0123456789.");
    char *end;
    double value = strtod(p, &end);
    if (end == p || (size_t)(end - p) > number_len || !isfinite(value) || value < 0)
      return -1;
    p = end;
    const char *u = p;
    while (isalpha((unsigned char)*p))
      p++;
    double factor =
        (p == u) ? (parts == 0 && *p == '\0' ? 1 : -1) : unit_seconds(u, (size_t)(p - u));
    if (factor < 0)
      return -1;
    total += value * factor;
    parts++;
  }
  if (parts == 0 || !(total > 0) || !(total <= UAT_DURATION_MAX_S))
    return -1;
  *seconds = total;
  return 0;
}

/* Rounds to the unit shown and drops a zero tail ("2h", not "2h00m"), as duration.h promises.
 * Each form rounds to its own smallest unit (minutes for "22h15m", hours for "3d05h"): cutting
 * the seconds off instead showed 80085 s (22h14m45s) as "22h14m". */
const char *uat_duration_format(double s, char *buf, unsigned size) {
  if (!buf || size == 0)
    return buf;
  if (!(s >= 0) || !isfinite(s))
    s = 0;
  if (s > 1e12) /* keeps the integer conversions below defined */
    s = 1e12;
  long long ms = (long long)(s * 1000 + 0.5), tenths = (long long)(s * 10 + 0.5);
  long long t = (long long)(s + 0.5), minutes = (long long)(s / 60 + 0.5);
  long long hours = (long long)(s / 3600 + 0.5);
  if (ms < 1000)
    snprintf(buf, size, "%lldms", ms);
  else if (tenths < 600)
    snprintf(buf, size, "%lld.%llds", tenths / 10, tenths % 10);
  else if (t < 3600)
    snprintf(buf, size, t % 60 ? "%lldm%02llds" : "%lldm", t / 60, t % 60);
  else if (minutes < 2 * 24 * 60)
    snprintf(buf, size, minutes % 60 ? "%lldh%02lldm" : "%lldh", minutes / 60, minutes % 60);
  else
    snprintf(buf, size, hours % 24 ? "%lldd%02lldh" : "%lldd", hours / 24, hours % 24);
  return buf;
}
