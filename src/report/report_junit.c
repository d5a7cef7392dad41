/* The JUnit XML report that GitLab, Jenkins and GitHub test reporters read:
 * one testsuite per playbook, one testcase per check. Built in memory with the
 * libxml2 text writer, then written all-or-nothing. */
#include "report/report.h"

#include "util/fsutil.h"
#include "report/report_text.h"
#include "util/strbuf.h"

#include <ctype.h>
#include <libxml/xmlwriter.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Writes an attribute; recorded text may hold bytes XML cannot carry, so it is cleaned first. */
static int attr(xmlTextWriterPtr w, const char *name, const char *value) {
  char *clean = uat_report_text_clean(value ? value : "", UAT_TEXT_XML);
  if (!clean)
    return -1;
  int rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST clean);
  free(clean);
  return rc < 0 ? -1 : 0;
}

static int attr_count(xmlTextWriterPtr w, const char *name, size_t n) {
  char buf[32];
  snprintf(buf, sizeof buf, "%zu", n);
  return attr(w, name, buf);
}

/* Seconds with three decimals, formatted by hand so a comma-decimal locale cannot change it. */
static int attr_seconds(xmlTextWriterPtr w, const char *name, double seconds) {
  long long ms =
      isfinite(seconds) && seconds > 0 && seconds < 1e12 ? (long long)(seconds * 1000 + 0.5) : 0;
  char buf[48];
  snprintf(buf, sizeof buf, "%lld.%03lld", ms / 1000, ms % 1000);
  return attr(w, name, buf);
}

static int text(xmlTextWriterPtr w, const char *s) {
  char *clean = uat_report_text_clean(s, UAT_TEXT_XML);
  if (!clean)
    return -1;
  int rc = xmlTextWriterWriteString(w, BAD_CAST clean);
  free(clean);
  return rc < 0 ? -1 : 0;
}

static int start(xmlTextWriterPtr w, const char *name) {
  return xmlTextWriterStartElement(w, BAD_CAST name) < 0 ? -1 : 0;
}

static int end(xmlTextWriterPtr w) {
  return xmlTextWriterEndElement(w) < 0 ? -1 : 0;
}

static int property(xmlTextWriterPtr w, const char *name, const char *value) {
  if (!value)
    return 0;
  if (start(w, "property") || attr(w, "name", name) || attr(w, "value", value))
    return -1;
  return end(w);
}

/* "uatrun." + the playbook name as a slug ("Tasking Manager UAT" → "tasking-manager-uat"):
 * the testcase classname, which reporters group by. Returns NULL when out of memory. */
static char *classname_of(const char *name) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (uat_strbuf_adds(&sb, "uatrun.") != 0)
    return NULL;
  size_t prefix = sb.len;
  bool dash = false;
  int rc = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && rc == 0; p++) {
    if (*p >= 0x80 || !isalnum(*p)) {
      dash = true;
      continue;
    }
    char c = (char)tolower(*p);
    if (dash && sb.len > prefix)
      rc = uat_strbuf_add(&sb, "-", 1);
    if (rc == 0)
      rc = uat_strbuf_add(&sb, &c, 1);
    dash = false;
  }
  if (rc == 0 && sb.len == prefix)
    rc = uat_strbuf_adds(&sb, "playbook");
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

struct tally {
  size_t failures, errors, skipped;
};

static struct tally count_outcomes(const struct uat_run_result *run) {
  struct tally n = {0};
  for (size_t i = 0; i < run->nchecks; i++) {
    enum uat_outcome o = run->checks[i].outcome;
    n.failures += o == UAT_OUTCOME_FAIL;
    n.errors += o == UAT_OUTCOME_ERROR;
    n.skipped += o == UAT_OUTCOME_SKIP;
  }
  return n;
}

/* One line per failed expectation: "message (where): expected X, actual Y". */
static int add_failed_expectations(struct uat_strbuf *sb, const struct uat_check_result *r) {
  for (size_t i = 0; i < r->nexpectations; i++) {
    const struct uat_expectation *e = &r->expectations[i];
    if (e->ok)
      continue;
    if (uat_strbuf_adds(sb, e->message ? e->message : "") != 0 ||
        (e->where && uat_strbuf_addf(sb, " (%s)", e->where) != 0) ||
        (e->expected && uat_strbuf_addf(sb, ": expected %s", e->expected) != 0) ||
        (e->actual &&
         uat_strbuf_addf(sb, "%s actual %s", e->expected ? "," : ":", e->actual) != 0) ||
        uat_strbuf_adds(sb, "\n") != 0)
      return -1;
  }
  return 0;
}

static const char *first_failed_message(const struct uat_check_result *r) {
  for (size_t i = 0; i < r->nexpectations; i++)
    if (!r->expectations[i].ok)
      return r->expectations[i].message;
  return NULL;
}

/* <failure> for a failed expectation, <error> for a script error. */
static int write_problem(xmlTextWriterPtr w, const struct uat_check_result *r) {
  bool is_error = r->outcome == UAT_OUTCOME_ERROR;
  const char *message = is_error ? r->error : first_failed_message(r);
  if (!message)
    message = r->error   ? r->error
              : is_error ? "the check raised an error without a message"
                         : "the check failed without a recorded reason";
  struct uat_strbuf body;
  uat_strbuf_init(&body, 0);
  int rc = -1;
  if (is_error) {
    if (uat_strbuf_adds(&body, message) != 0 || uat_strbuf_adds(&body, "\n") != 0 ||
        (r->traceback && uat_strbuf_addf(&body, "\n%s\n", r->traceback) != 0) ||
        add_failed_expectations(&body, r) != 0)
      goto done;
  } else if (add_failed_expectations(&body, r) != 0 ||
             (body.len == 0 && uat_strbuf_addf(&body, "%s\n", message) != 0)) {
    goto done;
  }
  if (start(w, is_error ? "error" : "failure") || attr(w, "message", message) ||
      attr(w, "type", is_error ? "error" : "expectation") || text(w, body.buf ? body.buf : "") ||
      end(w))
    goto done;
  rc = 0;
done:
  uat_strbuf_release(&body);
  return rc;
}

/* Log lines, then one [[ATTACHMENT|path]] per artifact: the convention GitLab and Jenkins
 * read to attach a file (a screenshot) to the test case. */
static int write_system_out(xmlTextWriterPtr w, const struct uat_check_result *r) {
  if (r->nlogs == 0 && r->nartifacts == 0)
    return 0;
  if (start(w, "system-out"))
    return -1;
  for (size_t i = 0; i < r->nlogs; i++)
    if (text(w, r->logs[i]) || text(w, "\n"))
      return -1;
  for (size_t i = 0; i < r->nartifacts; i++)
    if (text(w, "[[ATTACHMENT|") || text(w, r->artifacts[i]) || text(w, "]]\n"))
      return -1;
  return end(w);
}

static int write_testcase(xmlTextWriterPtr w, const struct uat_check_result *r,
                          const char *classname) {
  struct uat_strbuf name;
  uat_strbuf_init(&name, 0);
  const char *id = r->id ? r->id : "?";
  /* A check without a title has its id as title: "ok", not "ok: ok". */
  bool titled = r->title && *r->title && strcmp(r->title, id) != 0;
  int failed = titled ? uat_strbuf_addf(&name, "%s: %s", id, r->title) : uat_strbuf_adds(&name, id);
  if (failed || start(w, "testcase") || attr(w, "classname", classname) ||
      attr(w, "name", name.buf) || attr_seconds(w, "time", r->duration_s)) {
    uat_strbuf_release(&name);
    return -1;
  }
  uat_strbuf_release(&name);
  if (r->attempts > 1) {
    char attempts[32];
    snprintf(attempts, sizeof attempts, "%d", r->attempts);
    if (start(w, "properties") || property(w, "attempts", attempts) || end(w))
      return -1;
  }
  if (r->outcome == UAT_OUTCOME_FAIL || r->outcome == UAT_OUTCOME_ERROR) {
    if (write_problem(w, r))
      return -1;
  } else if (r->outcome == UAT_OUTCOME_SKIP) {
    if (start(w, "skipped") || end(w))
      return -1;
  }
  if (write_system_out(w, r))
    return -1;
  return end(w);
}

/* ISO 8601 in UTC without a zone suffix, the form the JUnit schema declares. */
static void format_timestamp(int64_t unix_seconds, char *buf, size_t size) {
  time_t t = (time_t)unix_seconds;
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    snprintf(buf, size, "1970-01-01T00:00:00");
}

static int write_totals(xmlTextWriterPtr w, const struct uat_run_result *run, struct tally n) {
  if (attr_count(w, "tests", run->nchecks) || attr_count(w, "failures", n.failures) ||
      attr_count(w, "errors", n.errors))
    return -1;
  return 0;
}

static int write_suite(xmlTextWriterPtr w, const struct uat_run_result *run) {
  struct tally n = count_outcomes(run);
  const char *name = run->playbook_name ? run->playbook_name : "playbook";
  char stamp[32];
  char host[256];
  format_timestamp(run->started_at, stamp, sizeof stamp);
  bool have_host = gethostname(host, sizeof host) == 0;
  host[sizeof host - 1] = '\0';
  if (start(w, "testsuite") || attr(w, "name", name) || write_totals(w, run, n) ||
      attr_count(w, "skipped", n.skipped) || attr_seconds(w, "time", run->duration_s) ||
      attr(w, "timestamp", stamp) || (have_host && attr(w, "hostname", host)))
    return -1;
  if (start(w, "properties") || property(w, "release", run->release) ||
      property(w, "commit", run->commit) || property(w, "digest", run->digest) ||
      property(w, "base_url", run->base_url) || property(w, "playbook", run->playbook_path) ||
      end(w))
    return -1;
  char *classname = classname_of(name);
  if (!classname)
    return -1;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < run->nchecks; i++)
    rc = write_testcase(w, &run->checks[i], classname);
  free(classname);
  return rc == 0 ? end(w) : -1;
}

static int write_document(xmlTextWriterPtr w, const struct uat_run_result *run) {
  if (xmlTextWriterSetIndent(w, 1) < 0 || xmlTextWriterSetIndentString(w, BAD_CAST "  ") < 0 ||
      xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0)
    return -1;
  if (start(w, "testsuites") || attr(w, "name", "uatrun") ||
      write_totals(w, run, count_outcomes(run)) || attr_seconds(w, "time", run->duration_s) ||
      write_suite(w, run) || end(w))
    return -1;
  return xmlTextWriterEndDocument(w) < 0 || xmlTextWriterFlush(w) < 0 ? -1 : 0;
}

int uat_report_junit_write(const struct uat_run_result *run, const char *path,
                           struct uat_error *err) {
  xmlBufferPtr buf = xmlBufferCreate();
  if (!buf)
    return uat_error_set(err, "cannot write JUnit report '%s': out of memory", path);
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
  if (!w) {
    xmlBufferFree(buf);
    return uat_error_set(err, "cannot write JUnit report '%s': out of memory", path);
  }
  int rc = write_document(w, run);
  xmlFreeTextWriter(w);
  if (rc != 0)
    uat_error_set(err, "cannot write JUnit report '%s': building the XML failed (out of memory?)",
                  path);
  else
    rc = uat_file_write_atomic(path, (const char *)xmlBufferContent(buf),
                               (size_t)xmlBufferLength(buf), err);
  xmlBufferFree(buf);
  return rc;
}
