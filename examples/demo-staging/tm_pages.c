/* Tasking Manager pages, rendered server-side the way the 4.6.2 frontend renders them after
 * its own API calls, so that the frontend regressions injected by --break show in the HTML. */
#include "tm.h"

#include <stdlib.h>
#include <string.h>

static void page_open(struct buf *b, const char *title, const struct tm_user *viewer) {
  html_open(b, title, "tm", NULL);
  buf_add(b, "<header class=\"tm-header\">\n<nav id=\"tm-nav\" class=\"navbar\">\n"
             "<a class=\"brand\" href=\"/\">Tasking Manager</a>\n<ul class=\"nav-links\">\n"
             "<li><a href=\"/explore\">Explore projects</a></li>\n"
             "<li><a id=\"nav-my-tasks\" href=\"/contributions/tasks\">My Tasks</a></li>\n"
             "</ul>\n");
  if (viewer) {
    buf_add(b, "<a id=\"nav-user\" class=\"nav-user\" href=\"/users/");
    buf_add_url(b, viewer->username);
    buf_add(b, "\">");
    buf_add_html(b, viewer->username);
    buf_add(b, "</a>\n");
  } else {
    buf_add(b, "<a id=\"nav-login\" class=\"nav-login\" href=\"/login\">Log in</a>\n");
  }
  buf_add(b, "</nav>\n</header>\n");
}

static void page_close(struct buf *b, const struct demo *d) {
  html_close(b, d);
}

/* The viewer the frontend knows: a valid token, else anonymous. */
static const struct tm_user *page_viewer(const struct request *r) {
  const struct tm_user *u;
  return tm_authenticate(r, &u) == TM_AUTH_OK ? u : NULL;
}

/* The frontend's own GET /api/v2/projects/{id}/; with auth-token broken it drops the token. */
static unsigned fetch_project(const struct demo *d, long id, const struct tm_user *viewer,
                              json_t **body) {
  if (demo_broken(d, BREAK_AUTH_TOKEN))
    viewer = NULL;
  return tm_project_get(id, viewer, body);
}

static const char *project_name(json_t *dto) {
  const char *name =
      json_string_value(json_object_get(json_object_get(dto, "projectInfo"), "name"));
  return name ? name : "";
}

static void not_found_block(struct buf *b, unsigned status, json_t *error) {
  const char *subcode = json_string_value(json_object_get(error, "SubCode"));
  buf_addf(b, "<div id=\"project-not-found\" class=\"project-not-found\" data-status=\"%u\"",
           status);
  buf_add(b, " data-subcode=\"");
  buf_add_html(b, subcode ? subcode : "");
  buf_add(b, "\">\n<h1>Project not found</h1>\n<p>The project you are looking for does not exist, "
             "or you do not have permission to see it.</p>\n"
             "<a href=\"/explore\">Back to projects</a>\n</div>\n");
}

static void project_heading(struct buf *b, json_t *dto) {
  buf_add(b, "<h1 id=\"project-title\" class=\"project-title\">");
  buf_add_html(b, project_name(dto));
  buf_add(b, "</h1>\n");
}

static void project_page(const struct demo *d, const struct request *r, long id,
                         struct reply *rep) {
  const struct tm_user *viewer = page_viewer(r);
  json_t *dto;
  unsigned status = fetch_project(d, id, viewer, &dto);
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, status == 200 ? project_name(dto) : "Project not found", viewer);
  buf_addf(b, "<main id=\"project-page\" class=\"project-detail\" data-project-id=\"%ld\">\n", id);
  if (status != 200) {
    not_found_block(b, status, dto);
  } else {
    const char *st = json_string_value(json_object_get(dto, "status"));
    bool priv = json_is_true(json_object_get(dto, "private"));
    project_heading(b, dto);
    buf_add(b,
            "<div class=\"project-meta\">\n<span id=\"project-status\" class=\"project-status\">");
    buf_add_html(b, st ? st : "");
    buf_addf(b, "</span>\n<span id=\"project-visibility\" class=\"badge\">%s</span>\n",
             priv ? "Private" : "Public");
    buf_add(b, "<span id=\"project-priority\" class=\"project-priority\">");
    buf_add_html(b, json_string_value(json_object_get(dto, "projectPriority")));
    buf_add(b, "</span>\n</div>\n<p id=\"project-short-description\">");
    buf_add_html(b, json_string_value(
                        json_object_get(json_object_get(dto, "projectInfo"), "shortDescription")));
    buf_add(b, "</p>\n<p class=\"project-organisation\">Organisation: ");
    buf_add_html(b, json_string_value(json_object_get(dto, "organisationName")));
    buf_addf(b,
             "</p>\n<div class=\"project-progress\"><span id=\"percent-mapped\">%d</span>%% "
             "mapped, <span id=\"percent-validated\">%d</span>%% validated</div>\n",
             (int)json_integer_value(json_object_get(dto, "percentMapped")),
             (int)json_integer_value(json_object_get(dto, "percentValidated")));
    buf_addf(b,
             "<nav class=\"project-actions\">\n"
             "<a id=\"contribute-link\" class=\"button\" href=\"/projects/%ld/tasks/1\">"
             "Contribute</a>\n<a id=\"questions-link\" href=\"/projects/%ld/questions\">"
             "Questions and comments</a>\n</nav>\n",
             id, id);
  }
  buf_add(b, "</main>\n");
  page_close(b, d);
  json_decref(dto);
}

static void mention_list(struct buf *b, const char *id, const char *cls, const char **names,
                         size_t n) {
  buf_addf(b, "<ul id=\"%s\" class=\"%s\" role=\"listbox\">\n", id, cls);
  for (size_t i = 0; i < n; i++) {
    buf_add(b, "<li class=\"mention-suggestion\" role=\"option\" data-username=\"");
    buf_add_html(b, names[i]);
    buf_add(b, "\">@");
    buf_add_html(b, names[i]);
    buf_add(b, "</li>\n");
  }
  buf_add(b, "</ul>\n");
}

static void questions_list(struct buf *b, long id) {
  buf_add(b, "<ul id=\"questions\" class=\"question-list\">\n");
  for (size_t i = 0; i < tm_question_count; i++) {
    const struct tm_question *q = &tm_questions[i];
    if (q->project_id != id)
      continue;
    buf_addf(b, "<li class=\"question\" id=\"question_%zu\">\n<span class=\"question-author\">",
             i + 1);
    buf_add_html(b, q->author);
    buf_add(b, "</span> <time datetime=\"");
    buf_add_html(b, q->date);
    buf_add(b, "\">");
    buf_add_html(b, q->date);
    buf_add(b, "</time>\n<p class=\"question-message\">");
    buf_add_html(b, q->message);
    buf_add(b, "</p>\n</li>\n");
  }
  buf_add(b, "</ul>\n");
}

static void questions_page(const struct demo *d, const struct request *r, long id,
                           struct reply *rep) {
  const struct tm_user *viewer = page_viewer(r);
  json_t *dto;
  unsigned status = fetch_project(d, id, viewer, &dto);
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, status == 200 ? project_name(dto) : "Project not found", viewer);
  buf_addf(b,
           "<main id=\"project-questions\" class=\"project-questions\" data-project-id=\"%ld\">\n",
           id);
  if (status != 200) {
    not_found_block(b, status, dto);
  } else {
    project_heading(b, dto);
    buf_add(b, "<h2>Questions and comments</h2>\n");
    questions_list(b, id);
    const char *names[TM_MAX_NAMES * 2];
    size_t n = tm_project_contributors(id, names, TM_MAX_NAMES * 2);
    if (demo_broken(d, BREAK_MENTIONS))
      n = 0;
    buf_add(b, "<form id=\"question-form\" class=\"comment-form\">\n"
               "<label for=\"question-input\">Ask a question</label>\n"
               "<textarea id=\"question-input\" name=\"comment\" rows=\"4\" "
               "placeholder=\"Write a comment. Type @ to mention a contributor.\"></textarea>\n");
    mention_list(b, "mention-suggestions", "mention-suggestions", names, n);
    buf_add(b, "<button type=\"submit\" class=\"button\">Post</button>\n</form>\n");
  }
  buf_add(b, "</main>\n");
  page_close(b, d);
  json_decref(dto);
}

static void task_page(const struct demo *d, const struct request *r, long id, long task,
                      struct reply *rep) {
  const struct tm_user *viewer = page_viewer(r);
  json_t *dto;
  unsigned status = fetch_project(d, id, viewer, &dto);
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, status == 200 ? project_name(dto) : "Project not found", viewer);
  buf_addf(b,
           "<main id=\"task-page\" class=\"task-detail\" data-project-id=\"%ld\" "
           "data-task-id=\"%ld\">\n",
           id, task);
  if (status != 200) {
    not_found_block(b, status, dto);
  } else if (task > json_integer_value(json_object_get(dto, "totalTasks"))) {
    project_heading(b, dto);
    buf_addf(b,
             "<div id=\"task-not-found\" class=\"task-not-found\"><h2>Task not found</h2>"
             "<p>Project %ld has no task %ld.</p></div>\n",
             id, task);
  } else {
    project_heading(b, dto);
    buf_addf(b, "<h2 id=\"task-title\" class=\"task-title\">Task #%ld</h2>\n", task);
    /* The regression: the comment box reused the first task's contributor list. */
    long source = demo_broken(d, BREAK_CONTRIBUTORS) ? 1 : task;
    const char *names[TM_MAX_NAMES * 2];
    size_t n = tm_task_contributors(id, (int)source, names, TM_MAX_NAMES * 2);
    buf_add(b, "<section id=\"task-comment\" class=\"task-comment\">\n"
               "<form id=\"task-comment-form\" class=\"comment-form\">\n"
               "<label for=\"comment-input\">Comment</label>\n"
               "<textarea id=\"comment-input\" name=\"comment\" rows=\"3\" "
               "placeholder=\"Leave a comment. Type @ to mention a contributor.\"></textarea>\n");
    mention_list(b, "task-contributors", "contributors-list", names, n);
    buf_add(b, "<button type=\"submit\" class=\"button\">Comment</button>\n</form>\n"
               "</section>\n");
  }
  buf_add(b, "</main>\n");
  page_close(b, d);
  json_decref(dto);
}

static void profile_page(const struct demo *d, const struct request *r, const char *username,
                         struct reply *rep) {
  const struct tm_user *viewer = page_viewer(r);
  const struct tm_user *u = tm_user_by_name(username);
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, u ? u->username : "User not found", viewer);
  if (!u) {
    buf_add(b, "<main id=\"user-profile\" class=\"user-profile\">\n<div id=\"user-not-found\" "
               "class=\"user-not-found\"><h1>User not found</h1><p>No user named <code>");
    buf_add_html(b, username);
    buf_add(b, "</code>.</p></div>\n</main>\n");
    page_close(b, d);
    return;
  }
  /* The regression: the label was computed from tasks mapped instead of changesets. */
  int count = demo_broken(d, BREAK_LABELS) ? u->tasks_mapped : u->changesets;
  const char *level = tm_level_for(count);
  const char *label = level[0] == 'A' ? "Advanced" : level[0] == 'I' ? "Intermediate" : "Beginner";
  const char *slug = level[0] == 'A' ? "advanced" : level[0] == 'I' ? "intermediate" : "beginner";
  buf_add(b, "<main id=\"user-profile\" class=\"user-profile\" data-username=\"");
  buf_add_html(b, u->username);
  buf_add(b, "\">\n<h1 id=\"profile-username\" class=\"profile-username\">");
  buf_add_html(b, u->username);
  buf_addf(b,
           "</h1>\n<div class=\"mapper-level-ctr\"><span class=\"label\">Mapper level</span> "
           "<span id=\"mapper-level\" class=\"mapper-level\" data-level=\"%s\">%s</span>"
           "</div>\n",
           slug, label);
  buf_addf(b,
           "<dl class=\"user-stats\">\n<dt>Changesets</dt><dd id=\"changeset-count\">%d</dd>\n"
           "<dt>Tasks mapped</dt><dd id=\"tasks-mapped\">%d</dd>\n"
           "<dt>Tasks validated</dt><dd id=\"tasks-validated\">%d</dd>\n"
           "<dt>Joined</dt><dd id=\"date-registered\">",
           u->changesets, u->tasks_mapped, u->tasks_validated);
  buf_add_html(b, u->joined);
  buf_add(b, "</dd>\n</dl>\n</main>\n");
  page_close(b, d);
}

static long page_param(const struct request *r) {
  const char *s = req_query(r, "page");
  if (!s)
    return 1;
  char *end;
  long v = strtol(s, &end, 10);
  return (*end || v < 1 || v > 100000) ? 1 : v;
}

static void task_cards(struct buf *b, json_t *tasks) {
  size_t i;
  json_t *t;
  buf_add(b, "<ul id=\"my-tasks\" class=\"task-cards\">\n");
  json_array_foreach(tasks, i, t) {
    long pid = (long)json_integer_value(json_object_get(t, "projectId"));
    long tid = (long)json_integer_value(json_object_get(t, "taskId"));
    const struct tm_project *p = tm_project_by_id(pid);
    buf_addf(b,
             "<li class=\"task-card\" data-project-id=\"%ld\" data-task-id=\"%ld\">"
             "<a href=\"/projects/%ld/tasks/%ld\">Task #%ld</a> <span class=\"task-project\">",
             pid, tid, pid, tid, tid);
    buf_add_html(b, p ? p->name : "");
    buf_add(b, "</span> <span class=\"task-status\">");
    buf_add_html(b, json_string_value(json_object_get(t, "taskStatus")));
    buf_add(b, "</span> <time>");
    buf_add_html(b, json_string_value(json_object_get(t, "lastUpdated")));
    buf_add(b, "</time></li>\n");
  }
  buf_add(b, "</ul>\n");
}

static void paginator(struct buf *b, long page, long pages) {
  buf_add(b, "<form class=\"paginator\" method=\"get\" action=\"/contributions/tasks\">\n"
             "<div class=\"paginator-btn-ctr\">\n");
  for (long p = 1; p <= pages; p++)
    buf_addf(b,
             "<button type=\"submit\" class=\"paginator-btn\" name=\"page\" value=\"%ld\"%s>"
             "%ld</button>\n",
             p, p == page ? " aria-current=\"page\"" : "", p);
  buf_add(b, "</div>\n</form>\n");
}

static void my_tasks_page(const struct demo *d, const struct request *r, struct reply *rep) {
  const struct tm_user *viewer = page_viewer(r);
  if (!viewer) {
    reply_redirect(rep, 302, "/login?redirect_to=%2Fcontributions%2Ftasks");
    return;
  }
  long page = page_param(r);
  json_t *body;
  if (tm_user_tasks(viewer, page, TM_DEFAULT_PAGE_SIZE, &body) != 200) {
    rep->body.failed = true;
    return;
  }
  json_t *pg = json_object_get(body, "pagination");
  long pages = (long)json_integer_value(json_object_get(pg, "pages"));
  long total = (long)json_integer_value(json_object_get(pg, "total"));
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, "My Tasks", viewer);
  buf_addf(b,
           "<main id=\"my-tasks-page\" class=\"my-tasks\">\n<h1>My Tasks</h1>\n"
           "<p id=\"my-tasks-summary\"><span id=\"my-tasks-total\">%ld</span> tasks, page "
           "<span id=\"my-tasks-page-number\">%ld</span> of <span id=\"my-tasks-pages\">%ld"
           "</span></p>\n",
           total, page, pages);
  if (total == 0)
    buf_add(b, "<p id=\"my-tasks-empty\">You have not contributed to any task yet.</p>\n");
  task_cards(b, json_object_get(body, "tasks"));
  /* The regression: the paginator was not rendered at all. */
  if (pages > 0 && !demo_broken(d, BREAK_PAGINATION))
    paginator(b, page, pages);
  buf_add(b, "</main>\n");
  page_close(b, d);
  json_decref(body);
}

static void login_page(const struct demo *d, const struct request *r, struct reply *rep) {
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, "Log in", page_viewer(r));
  buf_add(b, "<main id=\"login-page\" class=\"login\">\n<h1>Log in</h1>\n"
             "<p>Tasking Manager uses your OpenStreetMap account.</p>\n"
             "<a id=\"osm-login\" class=\"button\" href=\"/login\">Log in with OpenStreetMap</a>\n"
             "<p class=\"demo-hint\">Demo server: send <code>Authorization: Token &lt;base64 "
             "session token&gt;</code>, or set the <code>session</code> cookie to the same "
             "base64 value.</p>\n</main>\n");
  page_close(b, d);
}

static void explore_page(const struct demo *d, const struct request *r, struct reply *rep) {
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, "Explore projects", page_viewer(r));
  buf_add(b, "<main id=\"explore-page\">\n<h1>Explore projects</h1>\n"
             "<ul id=\"project-cards\" class=\"project-cards\">\n");
  for (size_t i = 0; i < tm_project_count; i++) {
    const struct tm_project *p = &tm_projects[i];
    if (p->private_project || strcmp(p->status, "PUBLISHED") != 0)
      continue;
    buf_addf(b, "<li class=\"project-card\" data-project-id=\"%ld\"><a href=\"/projects/%ld\">",
             p->id, p->id);
    buf_add_html(b, p->name);
    buf_add(b, "</a></li>\n");
  }
  buf_add(b, "</ul>\n</main>\n");
  page_close(b, d);
}

static void home_page(const struct demo *d, const struct request *r, struct reply *rep) {
  struct buf *b = &rep->body;
  reply_html_start(rep, 200);
  page_open(b, "Home", page_viewer(r));
  buf_add(b, "<main id=\"home\">\n<h1>uat-demo-staging</h1>\n"
             "<p>A staging server modelling Tasking Manager and the RDV-Solidarit&eacute;s "
             "admin, with the regressions of two real releases available through "
             "<code>--break</code>.</p>\n<ul class=\"apps\">\n"
             "<li><a href=\"/explore\">Tasking Manager: explore projects</a></li>\n"
             "<li><a href=\"/api/v2/system/heartbeat/\">Tasking Manager API heartbeat</a></li>\n"
             "<li><a href=\"/agents/sign_in\">RDV-Solidarit&eacute;s: agent sign-in</a></li>\n"
             "</ul>\n</main>\n");
  page_close(b, d);
}

static bool project_routes(const struct demo *d, const struct request *r, struct reply *rep) {
  long id, task;
  if (!req_seg(r, 0, "projects") || !req_id(r, 1, &id))
    return false;
  if (r->nseg == 2)
    project_page(d, r, id, rep);
  else if (r->nseg == 3 && req_seg(r, 2, "questions"))
    questions_page(d, r, id, rep);
  else if (r->nseg == 4 && req_seg(r, 2, "tasks") && req_id(r, 3, &task))
    task_page(d, r, id, task, rep);
  else
    return false;
  return true;
}

bool tm_pages_route(const struct demo *d, const struct request *r, struct reply *rep) {
  bool known = r->nseg == 0 || req_seg(r, 0, "projects") || req_seg(r, 0, "users") ||
               req_seg(r, 0, "contributions") || req_seg(r, 0, "login") || req_seg(r, 0, "explore");
  if (!known)
    return false;
  if (!req_is(r, "GET"))
    return false;
  if (r->nseg == 0)
    home_page(d, r, rep);
  else if (r->nseg == 1 && req_seg(r, 0, "explore"))
    explore_page(d, r, rep);
  else if (r->nseg == 1 && req_seg(r, 0, "login"))
    login_page(d, r, rep);
  else if (r->nseg == 2 && req_seg(r, 0, "users"))
    profile_page(d, r, r->seg[1], rep);
  else if (r->nseg == 2 && req_seg(r, 0, "contributions") && req_seg(r, 1, "tasks"))
    my_tasks_page(d, r, rep);
  else
    return project_routes(d, r, rep);
  return true;
}
