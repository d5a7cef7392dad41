#include "duration.h"

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
    char *end;
    double value = strtod(p, &end);
    if (end == p || !isfinite(value) || value < 0)
      return -1;
    p = end;
    const char *u = p;
    while (isalpha((unsigned char)*p))
      p++;
    double factor = (p == u) ? (parts == 0 && *p == '\0' ? 1 : -1) : unit_seconds(u, (size_t)(p - u));
    if (factor < 0)
      return -1;
    total += value * factor;
    parts++;
  }
  if (parts == 0 || !(total > 0) || !isfinite(total))
    return -1;
  *seconds = total;
  return 0;
}

const char *uat_duration_format(double s, char *buf, unsigned size) {
  if (s < 1)
    snprintf(buf, size, "%.0fms", s * 1000);
  else if (s < 60)
    snprintf(buf, size, "%.1fs", s);
  else if (s < 3600)
    snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else if (s < 86400 * 2)
    snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
  else
    snprintf(buf, size, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
  return buf;
}
