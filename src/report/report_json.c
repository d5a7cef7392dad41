/* The JSON report: the whole run, machine-readable, with the stable field names
 * documented in docs/report-json.md. Built with jansson, written all-or-nothing. */
#include "report/report.h"

#include "util/fsutil.h"
#include "report/report_text.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bumped only when a field changes meaning or disappears; new fields do not bump it. */
enum { REPORT_VERSION = 1 };

/* A JSON string, or null for an absent one. jansson refuses invalid UTF-8, so
 * recorded bytes are repaired (U+FFFD) first. Returns NULL only when out of memory. */
static json_t *str_or_null(const char *s) {
  if (!s)
    return json_null();
  char *clean = uat_report_text_clean(s, UAT_TEXT_UTF8);
  if (!clean)
    return NULL;
  json_t *v = json_string(clean);
  free(clean);
  return v;
}

/* Seconds rounded to the millisecond, so the file does not show 0.12000000000000001. */
static json_t *seconds(double s) {
  if (!(isfinite(s) && s > 0 && s < 1e12))
    return json_real(0);
  return json_real((double)(long long)(s * 1000 + 0.5) / 1000);
}

/* ISO 8601 UTC ("2024-05-01T12:00:00Z"), or null when the time is unknown. */
static json_t *timestamp(int64_t unix_seconds) {
  if (unix_seconds <= 0)
    return json_null();
  time_t t = (time_t)unix_seconds;
  struct tm tm;
  char buf[32];
  if (!gmtime_r(&t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return json_null();
  return json_string(buf);
}

/* Sets obj[key] = value, taking the reference; a NULL value (out of memory) fails. */
static int set(json_t *obj, const char *key, json_t *value) {
  return value ? json_object_set_new(obj, key, value) : -1;
}

static json_t *expectation_json(const struct uat_expectation *e) {
  json_t *o = json_object();
  if (!o || set(o, "ok", json_boolean(e->ok)) || set(o, "kind", str_or_null(e->kind)) ||
      set(o, "message", str_or_null(e->message)) || set(o, "actual", str_or_null(e->actual)) ||
      set(o, "expected", str_or_null(e->expected)) || set(o, "where", str_or_null(e->where))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *logs_json(const struct uat_check_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < r->nlogs; i++) {
    json_t *line = str_or_null(r->logs[i]);
    if (!line || json_array_append_new(a, line) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *artifacts_json(const struct uat_check_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < r->nartifacts; i++) {
    json_t *path = str_or_null(r->artifacts[i]);
    if (!path || json_array_append_new(a, path) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *expectations_json(const struct uat_check_result *r) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < r->nexpectations; i++) {
    json_t *e = expectation_json(&r->expectations[i]);
    if (!e || json_array_append_new(a, e) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

static json_t *check_json(const struct uat_check_result *r) {
  json_t *o = json_object();
  if (!o || set(o, "id", str_or_null(r->id)) || set(o, "title", str_or_null(r->title)) ||
      set(o, "outcome", json_string(uat_outcome_name(r->outcome))) ||
      set(o, "duration_s", seconds(r->duration_s)) ||
      set(o, "attempts", json_integer(r->attempts)) || set(o, "error", str_or_null(r->error)) ||
      set(o, "traceback", str_or_null(r->traceback)) || set(o, "logs", logs_json(r)) ||
      set(o, "artifacts", artifacts_json(r)) || set(o, "expectations", expectations_json(r))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *summary_json(const struct uat_run_result *run) {
  size_t passed = 0, failed = 0, errors = 0, skipped = 0;
  for (size_t i = 0; i < run->nchecks; i++) {
    enum uat_outcome o = run->checks[i].outcome;
    passed += o == UAT_OUTCOME_PASS;
    failed += o == UAT_OUTCOME_FAIL;
    errors += o == UAT_OUTCOME_ERROR;
    skipped += o == UAT_OUTCOME_SKIP;
  }
  json_t *o = json_object();
  if (!o || set(o, "total", json_integer((json_int_t)run->nchecks)) ||
      set(o, "passed", json_integer((json_int_t)passed)) ||
      set(o, "failed", json_integer((json_int_t)failed)) ||
      set(o, "errors", json_integer((json_int_t)errors)) ||
      set(o, "skipped", json_integer((json_int_t)skipped)) ||
      set(o, "result", json_string(uat_run_result_passed(run) ? "pass" : "fail"))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *playbook_json(const struct uat_run_result *run) {
  json_t *o = json_object();
  if (!o || set(o, "name", str_or_null(run->playbook_name)) ||
      set(o, "path", str_or_null(run->playbook_path)) ||
      set(o, "digest", str_or_null(run->digest))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *checks_json(const struct uat_run_result *run) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < run->nchecks; i++) {
    json_t *c = check_json(&run->checks[i]);
    if (!c || json_array_append_new(a, c) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* What target.build found before the checks ran; null without target.build. */
static json_t *build_json(const struct uat_build_record *b) {
  if (!b)
    return json_null();
  json_t *o = json_object();
  if (!o || set(o, "url", str_or_null(b->url)) || set(o, "json", str_or_null(b->json)) ||
      set(o, "expected", str_or_null(b->expected)) || set(o, "served", str_or_null(b->served)) ||
      set(o, "waited_s", seconds(b->waited_s)) || set(o, "polls", json_integer(b->polls))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *run_json(const struct uat_run_result *run) {
  json_t *o = json_object();
  if (!o || set(o, "uatrun_report_version", json_integer(REPORT_VERSION)) ||
      set(o, "playbook", playbook_json(run)) || set(o, "release", str_or_null(run->release)) ||
      set(o, "commit", str_or_null(run->commit)) ||
      set(o, "base_url", str_or_null(run->base_url)) || set(o, "build", build_json(run->build)) ||
      set(o, "started_at", timestamp(run->started_at)) ||
      set(o, "finished_at", timestamp(run->finished_at)) ||
      set(o, "duration_s", seconds(run->duration_s)) || set(o, "summary", summary_json(run)) ||
      set(o, "checks", checks_json(run))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* Adds the caller's extra fields at the top level; a field that would replace one
 * of the report's own is refused, so the documented fields keep their meaning. */
static int merge_extra(json_t *root, const char *extra_json, const char *path,
                       struct uat_error *err) {
  json_error_t jerr;
  json_t *extra = json_loads(extra_json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!extra)
    return uat_error_set(err,
                         "cannot write JSON report '%s': extra fields are not valid JSON "
                         "(line %d, column %d: %s)",
                         path, jerr.line, jerr.column, jerr.text);
  int rc = 0;
  if (!json_is_object(extra)) {
    rc = uat_error_set(err, "cannot write JSON report '%s': extra fields must be a JSON object",
                       path);
  } else {
    const char *key;
    json_t *value;
    json_object_foreach(extra, key, value) {
      if (json_object_get(root, key)) {
        rc = uat_error_set(err,
                           "cannot write JSON report '%s': extra field '%s' would replace a "
                           "report field; rename it",
                           path, key);
        break;
      }
      if (json_object_set(root, key, value) != 0) {
        rc = uat_error_set(err, "cannot write JSON report '%s': out of memory", path);
        break;
      }
    }
  }
  json_decref(extra);
  return rc;
}

int uat_report_json_write(const struct uat_run_result *run, const char *extra_json,
                          const char *path, struct uat_error *err) {
  json_t *root = run_json(run);
  if (!root)
    return uat_error_set(err, "cannot write JSON report '%s': out of memory", path);
  if (extra_json && merge_extra(root, extra_json, path, err) != 0) {
    json_decref(root);
    return -1;
  }
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
  json_decref(root);
  if (!text)
    return uat_error_set(err, "cannot write JSON report '%s': out of memory", path);
  /* A final newline, as text files and `cat` expect. */
  size_t len = strlen(text);
  char *data = realloc(text, len + 2);
  if (!data) {
    free(text);
    return uat_error_set(err, "cannot write JSON report '%s': out of memory", path);
  }
  data[len] = '\n';
  data[len + 1] = '\0';
  int rc = uat_file_write_atomic(path, data, len + 1, err);
  free(data);
  return rc;
}
