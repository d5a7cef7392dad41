/* Tasking Manager fixed data, token authentication and the project access rules of 4.6.2. */
#include "tm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

const struct tm_user tm_users[] = {
    {1001, "mapper_ana", "ana-session-7c1e4b2a", "MAPPER", 312, 27, 4, 27, "2021-05-12T09:30:00Z"},
    {1002, "outsider_olaf", "olaf-session-93d0f6e5", "MAPPER", 40, 3, 0, 3, "2023-11-02T16:05:00Z"},
    {1003, "manager_maya", "maya-session-4b8a2c17", "MAPPER", 1240, 260, 180, 12,
     "2018-02-20T08:00:00Z"},
    {1004, "nearly_nina", "nina-session-05e2d9c3", "MAPPER", 249, 30, 0, 0, "2022-07-14T11:45:00Z"},
    {1005, "threshold_theo", "theo-session-6a1f7b40", "MAPPER", 250, 5, 2, 0,
     "2022-09-01T13:20:00Z"},
    {1006, "almost_alex", "alex-session-d2c84e19", "MAPPER", 499, 80, 40, 0,
     "2020-03-03T07:10:00Z"},
    {1007, "veteran_vera", "vera-session-8e3b5a06", "MAPPER", 500, 120, 95, 0,
     "2016-06-30T18:00:00Z"},
};
const size_t tm_user_count = sizeof tm_users / sizeof tm_users[0];

const struct tm_project tm_projects[] = {
    {1,
     "Malawi flood preparedness: buildings in Chikwawa",
     "Map buildings to plan evacuation routes before the rainy season.",
     "PUBLISHED",
     false,
     "MEDIUM",
     "HOT Demo Organisation",
     "manager_maya",
     40,
     {"manager_maya"},
     {NULL}},
    {42,
     "Confidential: health facilities in Beira",
     "Private project for the health cluster: map clinics and access roads.",
     "PUBLISHED",
     true,
     "HIGH",
     "HOT Demo Organisation",
     "manager_maya",
     12,
     {"manager_maya"},
     {"mapper_ana"}},
    {77,
     "Draft: road network for Cox's Bazar",
     "Not published yet: road network for the camp extension.",
     "DRAFT",
     false,
     "LOW",
     "HOT Demo Organisation",
     "manager_maya",
     8,
     {"manager_maya"},
     {NULL}},
};
const size_t tm_project_count = sizeof tm_projects / sizeof tm_projects[0];

const struct tm_contribution tm_contributions[] = {
    {1, "mapper_ana", {1, 2, 4}, {0}}, {1, "threshold_theo", {3}, {1}},
    {1, "almost_alex", {5}, {2, 3}},   {1, "veteran_vera", {6}, {4, 5}},
    {1, "nearly_nina", {7}, {0}},      {42, "mapper_ana", {1, 2}, {0}},
    {42, "manager_maya", {0}, {1}},
};
const size_t tm_contribution_count = sizeof tm_contributions / sizeof tm_contributions[0];

const struct tm_question tm_questions[] = {
    {1, "threshold_theo", "2024-03-02T10:14:00Z", "Should we map sheds as buildings too?"},
    {1, "manager_maya", "2024-03-02T12:40:00Z",
     "@threshold_theo yes, tag them building=shed & keep them small."},
    {42, "mapper_ana", "2024-03-05T08:02:00Z",
     "Imagery over task 2 is cloudy, is there an <alternative> layer?"},
};
const size_t tm_question_count = sizeof tm_questions / sizeof tm_questions[0];

const struct tm_user *tm_user_by_id(long id) {
  for (size_t i = 0; i < tm_user_count; i++)
    if (tm_users[i].id == id)
      return &tm_users[i];
  return NULL;
}

const struct tm_user *tm_user_by_name(const char *username) {
  for (size_t i = 0; i < tm_user_count; i++)
    if (strcmp(tm_users[i].username, username) == 0)
      return &tm_users[i];
  return NULL;
}

const struct tm_project *tm_project_by_id(long id) {
  for (size_t i = 0; i < tm_project_count; i++)
    if (tm_projects[i].id == id)
      return &tm_projects[i];
  return NULL;
}

const char *tm_level_for(int changesets) {
  if (changesets >= 500)
    return "ADVANCED";
  if (changesets >= 250)
    return "INTERMEDIATE";
  return "BEGINNER";
}

enum tm_auth tm_check_token(const char *b64, const struct tm_user **user) {
  *user = NULL;
  if (!b64 || !*b64)
    return TM_AUTH_NONE;
  size_t n = strlen(b64);
  if (n % 4 != 0 || n > 256)
    return TM_AUTH_INVALID;
  unsigned char raw[200];
  int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
  if (len < 0)
    return TM_AUTH_INVALID;
  /* EVP_DecodeBlock counts padding as decoded zero bytes. */
  if (n >= 1 && b64[n - 1] == '=')
    len--;
  if (n >= 2 && b64[n - 2] == '=')
    len--;
  for (size_t i = 0; i < tm_user_count; i++) {
    size_t tlen = strlen(tm_users[i].session_token);
    if ((size_t)len == tlen && CRYPTO_memcmp(raw, tm_users[i].session_token, tlen) == 0) {
      *user = &tm_users[i];
      return TM_AUTH_OK;
    }
  }
  return TM_AUTH_INVALID;
}

const char *tm_request_token(const struct request *r, bool *malformed) {
  *malformed = false;
  const char *auth = req_header(r, "Authorization");
  if (auth) {
    if (strncasecmp(auth, "Token ", 6) != 0) {
      *malformed = true;
      return NULL;
    }
    const char *t = auth + 6;
    while (*t == ' ')
      t++;
    return t;
  }
  return req_cookie(r, "session");
}

enum tm_auth tm_authenticate(const struct request *r, const struct tm_user **user) {
  bool malformed;
  const char *token = tm_request_token(r, &malformed);
  *user = NULL;
  if (malformed)
    return TM_AUTH_INVALID;
  return tm_check_token(token, user);
}

static bool name_in(const char *const *list, const char *name) {
  for (size_t i = 0; i < TM_MAX_NAMES && list[i]; i++)
    if (strcmp(list[i], name) == 0)
      return true;
  return false;
}

static json_t *string_array(const char *const *list) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < TM_MAX_NAMES && list[i]; i++)
    json_array_append_new(a, json_string(list[i]));
  return a;
}

static json_t *project_dto(const struct tm_project *p) {
  int percent_mapped = p->id == 1 ? 18 : p->id == 42 ? 17 : 0;
  return json_pack("{s:I, s:s, s:b, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:[s], s:s, s:s, "
                   "s:s, s:s, s:i, s:i, s:i, s:o}",
                   "projectId", (json_int_t)p->id, "status", p->status, "private",
                   p->private_project, "projectPriority", p->priority, "defaultLocale", "en",
                   "projectInfo", "locale", "en", "name", p->name, "shortDescription",
                   p->short_description, "description", p->short_description, "instructions",
                   "Map every building outline you can see on the imagery.", "mappingTypes",
                   "BUILDINGS", "organisationName", p->organisation, "author", p->author, "created",
                   "2024-02-01T09:00:00Z", "lastUpdated", "2024-03-05T08:02:00Z", "percentMapped",
                   percent_mapped, "percentValidated", percent_mapped / 2, "totalTasks",
                   p->task_count, "allowedUsernames", string_array(p->allowed));
}

unsigned tm_project_get(long id, const struct tm_user *viewer, json_t **body) {
  const struct tm_project *p = tm_project_by_id(id);
  if (!p) {
    *body = json_pack("{s:s, s:s}", "Error", "Project Not Found", "SubCode", "NotFound");
    return 404;
  }
  bool draft = strcmp(p->status, "DRAFT") == 0;
  if (p->private_project || draft) {
    bool manager = viewer && name_in(p->managers, viewer->username);
    /* Draft comes first, as in ProjectService.get_project_dto_for_mapper. */
    if (draft && !manager) {
      *body = json_pack("{s:s, s:s}", "Error", " Unable to fetch project", "SubCode",
                        "ProjectNotFetched");
      return 403;
    }
    if (p->private_project && !manager && !(viewer && name_in(p->allowed, viewer->username))) {
      *body = json_pack("{s:s, s:s}", "Error", "User not permitted: Private Project", "SubCode",
                        "PrivateProject");
      return 403;
    }
  }
  *body = project_dto(p);
  return 200;
}

static int count_ids(const int *ids) {
  int n = 0;
  while (n < TM_MAX_NAMES && ids[n])
    n++;
  return n;
}

static json_t *id_array(const int *ids) {
  json_t *a = json_array();
  for (int i = 0; a && i < count_ids(ids); i++)
    json_array_append_new(a, json_integer(ids[i]));
  return a;
}

json_t *tm_contributions_json(long project_id) {
  json_t *list = json_array();
  if (!list)
    return NULL;
  for (size_t i = 0; i < tm_contribution_count; i++) {
    const struct tm_contribution *c = &tm_contributions[i];
    const struct tm_user *u = tm_user_by_name(c->username);
    if (c->project_id != project_id || !u)
      continue;
    int mapped = count_ids(c->mapped), validated = count_ids(c->validated);
    json_array_append_new(
        list, json_pack("{s:s, s:s, s:n, s:i, s:i, s:i, s:i, s:o, s:o, s:[], s:s}", "username",
                        u->username, "mappingLevel", tm_level_for(u->changesets), "pictureUrl",
                        "mapped", mapped, "validated", validated, "invalidated", 0, "total",
                        mapped + validated, "mappedTasks", id_array(c->mapped), "validatedTasks",
                        id_array(c->validated), "invalidatedTasks", "dateRegistered", u->joined));
  }
  return json_pack("{s:o}", "userContributions", list);
}

static bool has_id(const int *ids, int id) {
  for (int i = 0; i < count_ids(ids); i++)
    if (ids[i] == id)
      return true;
  return false;
}

size_t tm_task_contributors(long project_id, int task_id, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < tm_contribution_count && n < max; i++) {
    const struct tm_contribution *c = &tm_contributions[i];
    if (c->project_id == project_id &&
        (has_id(c->mapped, task_id) || has_id(c->validated, task_id)))
      names[n++] = c->username;
  }
  return n;
}

size_t tm_project_contributors(long project_id, const char **names, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < tm_contribution_count && n < max; i++)
    if (tm_contributions[i].project_id == project_id)
      names[n++] = tm_contributions[i].username;
  return n;
}

/* The k-th most recent task a user worked on: deterministic, spread over projects 1 and 42. */
static void user_task_at(const struct tm_user *u, long k, long *project, long *task) {
  if (strcmp(u->username, "manager_maya") == 0) {
    *project = 42;
    *task = k % 12 + 1;
  } else if (k < 20) {
    *project = 1;
    *task = (k + (u->id == 1001 ? 0 : 20)) % 40 + 1;
  } else {
    *project = 42;
    *task = (k - 20) % 12 + 1;
  }
}

static json_t *task_json(const struct tm_user *u, long k) {
  static const char *const statuses[] = {"MAPPED", "VALIDATED", "INVALIDATED"};
  long project, task;
  user_task_at(u, k, &project, &task);
  char updated[32];
  snprintf(updated, sizeof updated, "2024-03-%02ldT%02ld:15:00Z", 28 - k % 28, 8 + k % 10);
  return json_pack("{s:I, s:I, s:s, s:n, s:s, s:i, s:i}", "taskId", (json_int_t)task, "projectId",
                   (json_int_t)project, "taskStatus", statuses[k % 3], "lockHolder", "lastUpdated",
                   updated, "numberOfComments", (int)(k % 4), "autoUnlockSeconds", 7200);
}

static json_t *nullable_int(bool present, long v) {
  return present ? json_integer(v) : json_null();
}

unsigned tm_user_tasks(const struct tm_user *u, long page, long page_size, json_t **body) {
  long total = u->my_tasks;
  long pages = (total + page_size - 1) / page_size;
  json_t *tasks = json_array();
  for (long k = (page - 1) * page_size; tasks && k < total && k < page * page_size; k++)
    json_array_append_new(tasks, task_json(u, k));
  bool has_next = page<pages, has_prev = page> 1;
  *body = json_pack("{s:o, s:{s:b, s:b, s:o, s:I, s:I, s:I, s:o, s:I}}", "tasks", tasks,
                    "pagination", "hasNext", has_next, "hasPrev", has_prev, "nextNum",
                    nullable_int(has_next, page + 1), "page", (json_int_t)page, "pages",
                    (json_int_t)pages, "perPage", (json_int_t)page_size, "prevNum",
                    nullable_int(has_prev, page - 1), "total", (json_int_t)total);
  return *body ? 200 : 500;
}
