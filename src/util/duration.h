/* Durations as users write them in playbooks: "500ms", "10s", "2m", "72h",
 * "1d", or combined "1h30m". A bare number means seconds. */
#ifndef UAT_DURATION_H
#define UAT_DURATION_H

/* The longest duration accepted: ten years. Longer ones are typos, and would
 * overflow the 64-bit seconds the ledger and reports use. */
#define UAT_DURATION_MAX_S (10.0 * 365 * 86400)

/* Parses text into seconds (> 0, at most UAT_DURATION_MAX_S). Returns 0, or -1 when the text is not
 * a duration. */
int uat_duration_parse(const char *text, double *seconds);

/* Formats seconds for people: "850ms", "1.2s", "3m20s", "2h", "3d". Writes into buf. */
const char *uat_duration_format(double seconds, char *buf, unsigned size);

#endif
