/* The run report behind the page's failure details and screenshots (jansson). */
#include "serve/serve_report.h"

#include "util/fsutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *str(json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

static bool same(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* The report is of this run: release, commit, playbook digest and end time all agree. */
static bool of_run(json_t *root, const char *release, const char *commit,
                   const struct uat_run_record *run) {
  char when[32];
  time_t t = (time_t)run->time;
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
    return false;
  return same(str(root, "release"), release) && same(str(root, "commit"), commit) &&
         same(str(json_object_get(root, "playbook"), "digest"), run->digest) &&
         same(str(root, "finished_at"), when);
}

static json_t *load_matching(const char *path, const char *release, const char *commit,
                             const struct uat_run_record *run, const char **note) {
  *note = NULL;
  if (!path)
    return NULL;
  if (!run || !run->found) {
    *note = "no run recorded yet for this release and commit";
    return NULL;
  }
  json_t *root = json_load_file(path, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    *note = "the run report (--run-report) cannot be read: failure details and screenshots "
            "are not shown";
    return NULL;
  }
  if (!of_run(root, release, commit, run)) {
    json_decref(root);
    *note = "the run report (--run-report) is of another run than the latest one recorded: "
            "failure details and screenshots are not shown";
    return NULL;
  }
  return root;
}

/* The failed expectations and artifacts of one check into d (strings borrowed). */
static int fill_detail(json_t *check, size_t *next_artifact, struct uat_page_check_detail *d) {
  json_t *exps = json_object_get(check, "expectations");
  json_t *arts = json_object_get(check, "artifacts");
  size_t ne = json_array_size(exps), na = json_array_size(arts);
  d->id = str(check, "id");
  struct uat_page_expectation *failed = calloc(ne ? ne : 1, sizeof *failed);
  const char **paths = calloc(na ? na : 1, sizeof *paths);
  size_t *index = calloc(na ? na : 1, sizeof *index);
  d->failed = failed;
  d->artifacts = paths;
  d->artifact_index = index;
  if (!failed || !paths || !index || !d->id)
    return -1;
  for (size_t i = 0; i < ne; i++) {
    json_t *e = json_array_get(exps, i);
    if (json_is_false(json_object_get(e, "ok")))
      failed[d->nfailed++] = (struct uat_page_expectation){str(e, "message"), str(e, "actual"),
                                                           str(e, "expected"), str(e, "where")};
  }
  for (size_t i = 0; i < na; i++) {
    const char *p = json_string_value(json_array_get(arts, i));
    if (p) {
      paths[d->nartifacts] = p;
      index[d->nartifacts++] = (*next_artifact)++;
    }
  }
  return 0;
}

void uat_serve_report_load(const char *path, const char *release, const char *commit,
                           const struct uat_run_record *run, struct uat_serve_report *out) {
  memset(out, 0, sizeof *out);
  json_t *root = load_matching(path, release, commit, run, &out->note);
  if (!root)
    return;
  out->root = root;
  json_t *checks = json_object_get(root, "checks");
  size_t n = json_array_size(checks), next = 0;
  out->details = calloc(n ? n : 1, sizeof *out->details);
  for (size_t i = 0; out->details && i < n; i++)
    if (fill_detail(json_array_get(checks, i), &next, &out->details[out->ndetails++]) != 0)
      break;
}

void uat_serve_report_release(struct uat_serve_report *r) {
  for (size_t i = 0; r->details && i < r->ndetails; i++) {
    free((void *)r->details[i].failed);
    free((void *)r->details[i].artifacts);
    free((void *)r->details[i].artifact_index);
  }
  free(r->details);
  json_decref(r->root);
  memset(r, 0, sizeof *r);
}

char *uat_serve_report_artifact(const char *path, const char *release, const char *commit,
                                const struct uat_run_record *run, size_t n) {
  const char *note;
  json_t *root = load_matching(path, release, commit, run, &note);
  json_t *checks = json_object_get(root, "checks");
  const char *found = NULL;
  for (size_t i = 0, k = 0; !found && i < json_array_size(checks); i++) {
    json_t *arts = json_object_get(json_array_get(checks, i), "artifacts");
    for (size_t j = 0; !found && j < json_array_size(arts); j++) {
      const char *p = json_string_value(json_array_get(arts, j));
      if (p && k++ == n)
        found = p;
    }
  }
  char *dir = found && found[0] != '/' && !uat_path_is_file(found) ? uat_path_dirname(path) : NULL;
  char *file = !found ? NULL : dir ? uat_path_join(dir, found) : strdup(found);
  free(dir);
  json_decref(root);
  return file;
}
