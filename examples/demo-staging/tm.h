/* Tasking Manager demo data and the API rules the pages reuse for their own "fetches". */
#ifndef UAT_DEMO_TM_H
#define UAT_DEMO_TM_H

#include "demo.h"

#define TM_MAX_NAMES 8

struct tm_user {
  long id;
  const char *username;
  const char *session_token; /* raw; clients send base64(session_token) */
  const char *role;
  int changesets; /* from OpenStreetMap: what the level is computed from */
  int tasks_mapped;
  int tasks_validated;
  int my_tasks; /* entries in GET /api/v2/users/{id}/tasks/ */
  const char *joined;
};

struct tm_project {
  long id;
  const char *name;
  const char *short_description;
  const char *status; /* PUBLISHED or DRAFT */
  bool private_project;
  const char *priority;
  const char *organisation;
  const char *author;
  int task_count;
  const char *managers[TM_MAX_NAMES];
  const char *allowed[TM_MAX_NAMES];
};

/* One user's work on one project; task id lists end with 0. */
struct tm_contribution {
  long project_id;
  const char *username;
  int mapped[TM_MAX_NAMES];
  int validated[TM_MAX_NAMES];
};

/* A question in a project's Q&A. */
struct tm_question {
  long project_id;
  const char *author;
  const char *date;
  const char *message;
};

enum tm_auth { TM_AUTH_NONE, TM_AUTH_INVALID, TM_AUTH_OK };

extern const struct tm_user tm_users[];
extern const size_t tm_user_count;
extern const struct tm_project tm_projects[];
extern const size_t tm_project_count;
extern const struct tm_contribution tm_contributions[];
extern const size_t tm_contribution_count;
extern const struct tm_question tm_questions[];
extern const size_t tm_question_count;

const struct tm_user *tm_user_by_id(long id);
const struct tm_user *tm_user_by_name(const char *username);
const struct tm_project *tm_project_by_id(long id);

/* "BEGINNER", "INTERMEDIATE" or "ADVANCED" for a changeset count (thresholds 250, 500). */
const char *tm_level_for(int changesets);

/* Checks base64 session token text (what follows "Token "); sets *user when valid. */
enum tm_auth tm_check_token(const char *b64, const struct tm_user **user);
/* The session token a request carries: `Authorization: Token X` first, else cookie `session`. */
const char *tm_request_token(const struct request *r, bool *malformed);
/* tm_check_token applied to the request's token. */
enum tm_auth tm_authenticate(const struct request *r, const struct tm_user **user);

/* GET /api/v2/projects/{id}/ as viewer (NULL = anonymous): the status, and the ProjectDTO or
 * the error object in *body (a new reference). */
unsigned tm_project_get(long id, const struct tm_user *viewer, json_t **body);
/* {"userContributions": [...]} for a project. */
json_t *tm_contributions_json(long project_id);
/* Usernames that mapped or validated task_id, in contribution order; returns the count. */
size_t tm_task_contributors(long project_id, int task_id, const char **names, size_t max);
/* Usernames that contributed to the project (the @mention candidates); returns the count. */
size_t tm_project_contributors(long project_id, const char **names, size_t max);
/* GET /api/v2/users/{id}/tasks/ for user: status and body (a new reference). */
unsigned tm_user_tasks(const struct tm_user *u, long page, long page_size, json_t **body);

#define TM_DEFAULT_PAGE_SIZE 10

#endif
