/* Tasking Manager REST API (/api/v2/...): JSON routes with the real status codes and bodies. */
#include "tm.h"

#include <stdlib.h>
#include <string.h>

static void reply_invalid_token(struct reply *rep) {
  reply_tm_error(rep, 401, "Token is expired or invalid", "InvalidToken");
}

static void heartbeat(const struct demo *d, struct reply *rep) {
  reply_json(rep, 200,
             json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s}}", "status", "healthy", "release",
                       "version", demo_release_now(d), "sha", demo_commit_now(d),
                       "date", "2024-03-11T09:00:00Z", "services", "database", "connected"));
}

static void project(const struct request *r, long id, struct reply *rep) {
  const struct tm_user *viewer;
  /* Optional login: an invalid token behaves as anonymous. */
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK)
    viewer = NULL;
  json_t *body;
  unsigned status = tm_project_get(id, viewer, &body);
  reply_json(rep, status, body);
}

static void contributions(const struct request *r, long id, struct reply *rep) {
  const struct tm_user *viewer;
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK)
    viewer = NULL;
  json_t *body;
  unsigned status = tm_project_get(id, viewer, &body);
  if (status != 200) {
    reply_json(rep, status, body);
    return;
  }
  json_decref(body);
  reply_json(rep, 200, tm_contributions_json(id));
}

/* GET /api/v2/projects/: the published public projects, as the explore page lists them. */
static void project_list(struct reply *rep) {
  json_t *results = json_array();
  for (size_t i = 0; i < tm_project_count; i++) {
    const struct tm_project *p = &tm_projects[i];
    if (p->private_project || strcmp(p->status, "PUBLISHED") != 0)
      continue;
    json_array_append_new(results, json_pack("{s:I, s:s, s:s, s:s}", "projectId", (json_int_t)p->id,
                                             "name", p->name, "status", p->status, "priority",
                                             p->priority));
  }
  json_t *body = json_pack("{s:o, s:{s:i, s:i, s:i}}", "results", results, "pagination", "page",
                           1, "pages", 1, "total", (int)json_array_size(results));
  reply_json(rep, 200, body);
}

/* GET /api/v2/projects/{id}/comments/: the project's Q&A, same access rules as the project. */
static void comments(const struct request *r, long id, struct reply *rep) {
  const struct tm_user *viewer;
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK)
    viewer = NULL;
  json_t *body;
  unsigned status = tm_project_get(id, viewer, &body);
  if (status != 200) {
    reply_json(rep, status, body);
    return;
  }
  json_decref(body);
  json_t *chat = json_array();
  for (size_t i = 0; i < tm_question_count; i++) {
    const struct tm_question *q = &tm_questions[i];
    if (q->project_id == id)
      json_array_append_new(chat, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)(i + 1),
                                            "username", q->author, "timestamp", q->date,
                                            "message", q->message));
  }
  reply_json(rep, 200, json_pack("{s:o}", "chat", chat));
}

/* Reads a positive integer query argument, def when absent; false when malformed. */
static bool query_long(const struct request *r, const char *name, long def, long max, long *out) {
  const char *s = req_query(r, name);
  if (!s || !*s) {
    *out = def;
    return true;
  }
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > max)
    return false;
  *out = v;
  return true;
}

static void user_tasks(const struct request *r, long id, struct reply *rep) {
  const struct tm_user *viewer;
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK) {
    reply_invalid_token(rep);
    return;
  }
  const struct tm_user *u = tm_user_by_id(id);
  if (!u) {
    reply_tm_error(rep, 404, "User not found", "NotFound");
    return;
  }
  long page, page_size;
  if (!query_long(r, "page", 1, 100000, &page) ||
      !query_long(r, "page_size", TM_DEFAULT_PAGE_SIZE, 100, &page_size)) {
    reply_tm_error(rep, 400, "page and page_size must be positive integers (page_size <= 100)",
                   "InvalidData");
    return;
  }
  json_t *body;
  unsigned status = tm_user_tasks(u, page, page_size, &body);
  reply_json(rep, status, body);
}

static void user_query(const struct request *r, const char *username, struct reply *rep) {
  const struct tm_user *viewer;
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK) {
    reply_invalid_token(rep);
    return;
  }
  const struct tm_user *u = tm_user_by_name(username);
  if (!u) {
    reply_tm_error(rep, 404, "User not found", "NotFound");
    return;
  }
  reply_json(rep, 200,
             json_pack("{s:I, s:s, s:s, s:s, s:n, s:b, s:s}", "id", (json_int_t)u->id, "username",
                       u->username, "role", u->role, "mappingLevel", tm_level_for(u->changesets),
                       "pictureUrl", "isExpert", 0, "dateRegistered", u->joined));
}

static void user_osm(const struct request *r, const char *username, struct reply *rep) {
  const struct tm_user *viewer;
  if (tm_authenticate(r, &viewer) != TM_AUTH_OK) {
    reply_invalid_token(rep);
    return;
  }
  const struct tm_user *u = tm_user_by_name(username);
  if (!u) {
    reply_tm_error(rep, 404, "User not found", "NotFound");
    return;
  }
  reply_json(rep, 200,
             json_pack("{s:s, s:i}", "accountCreated", u->joined, "changesetCount", u->changesets));
}

static void user_stats(const char *username, struct reply *rep) {
  const struct tm_user *u = tm_user_by_name(username);
  if (!u) {
    reply_tm_error(rep, 404, "User not found", "NotFound");
    return;
  }
  reply_json(rep, 200,
             json_pack("{s:i, s:i, s:i, s:i}", "tasksMapped", u->tasks_mapped, "tasksValidated",
                       u->tasks_validated, "tasksInvalidated", 0, "projectsMapped",
                       u->tasks_mapped > 0 ? 2 : 0));
}

/* Matches /api/v2/<rest...> where rest has n segments (a trailing slash is optional). */
static bool api_path(const struct request *r, size_t n) {
  return r->nseg == n + 2 && req_seg(r, 0, "api") && req_seg(r, 1, "v2");
}

static bool user_routes(const struct request *r, struct reply *rep) {
  long id;
  if (api_path(r, 3) && req_seg(r, 2, "users") && req_seg(r, 4, "tasks") && req_id(r, 3, &id)) {
    user_tasks(r, id, rep);
    return true;
  }
  if (api_path(r, 3) && req_seg(r, 2, "users") && req_seg(r, 3, "queries")) {
    user_query(r, r->seg[4], rep);
    return true;
  }
  if (api_path(r, 3) && req_seg(r, 2, "users") && req_seg(r, 4, "openstreetmap")) {
    user_osm(r, r->seg[3], rep);
    return true;
  }
  if (api_path(r, 3) && req_seg(r, 2, "users") && req_seg(r, 4, "statistics")) {
    user_stats(r->seg[3], rep);
    return true;
  }
  return false;
}

bool tm_api_route(const struct demo *d, const struct request *r, struct reply *rep) {
  if (!req_seg(r, 0, "api"))
    return false;
  if (!req_is(r, "GET")) {
    reply_tm_error(rep, 405, "Method not allowed on this demo route", "MethodNotAllowed");
    rep->allow = "GET, HEAD";
    return true;
  }
  long id;
  if (api_path(r, 2) && req_seg(r, 2, "system") && req_seg(r, 3, "heartbeat")) {
    heartbeat(d, rep);
  } else if (api_path(r, 1) && req_seg(r, 2, "projects")) {
    project_list(rep);
  } else if (api_path(r, 2) && req_seg(r, 2, "projects") && req_id(r, 3, &id)) {
    project(r, id, rep);
  } else if (api_path(r, 3) && req_seg(r, 2, "projects") && req_id(r, 3, &id) &&
             req_seg(r, 4, "comments")) {
    comments(r, id, rep);
  } else if (api_path(r, 3) && req_seg(r, 2, "projects") && req_id(r, 3, &id) &&
             req_seg(r, 4, "contributions")) {
    contributions(r, id, rep);
  } else if (!user_routes(r, rep)) {
    reply_tm_error(rep, 404, "Not found", "NotFound");
  }
  return true;
}
