/* The bundled checklists (the Lua modules in checklists/) on fixture HTML and JSON, run through the
 * real sandbox: their edge cases, their outcomes and the exact messages a release manager reads.
 * One table row per script; a last test drives access.boundary over real HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "check/sandbox.h"
#include "testserver.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WANT 12

/* ---- fixture: a hand-built playbook with one check, the bundled folder of the tree ---- */

struct fixture {
  char dir[64]; /* an empty playbook folder: every require resolves to the bundled modules */
  struct uat_playbook pb;
  struct uat_check check;
  struct uat_redactor red;
  struct uat_check_env env;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/uat-checklists-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->pb.path = "PLAYBOOK.yml";
  f->pb.dir = f->dir;
  f->pb.name = "checklists test";
  f->pb.vars = json_object();
  f->check.id = "c1";
  f->check.title = "Checklists";
  f->check.script_path = "checklists/case.lua";
  f->check.chunk_name = "checklists/case.lua";
  f->check.params = json_object();
  f->check.timeout_s = 60.0; /* roomy: a slow core must not turn a pass into a timeout */
  f->check.memory_cap = (size_t)32 * 1024 * 1024;
  uat_redactor_init(&f->red);
  f->env = (struct uat_check_env){.playbook = &f->pb,
                                  .check = &f->check,
                                  .redactor = &f->red,
                                  .base_url = "http://127.0.0.1:9",
                                  .bundled_checklists = UAT_SOURCE_DIR "/checklists"};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  json_decref(f->pb.vars);
  json_decref(f->check.params);
  uat_redactor_release(&f->red);
  assert_int_equal(rmdir(f->dir), 0);
  free(f);
  return 0;
}

/* Modules, fake responses and fixture pages every case can use. */
#define PRELUDE                                                                                    \
  "local access = require('access')\n"                                                             \
  "local pagination = require('pagination')\n"                                                     \
  "local menu = require('menu')\n"                                                                 \
  "local tm = require('tasking_manager')\n"                                                        \
  "local rdv = require('rdv')\n"                                                                   \
  "local function resp(status, body, o)\n"                                                         \
  "  o = o or {}\n"                                                                                \
  "  return { status = status, body = body or '', url = o.url or 'http://staging.test/page',\n"    \
  "           headers = { ['content-type'] = o.ct or 'text/html; charset=utf-8',\n"                \
  "                       location = o.location } }\n"                                             \
  "end\n"                                                                                          \
  "local LOGIN = [[<html><body><h1>Sign in</h1><form action='/session' method='post'>\n"           \
  "  <input name='email'><input type='password' name='password'></form></body></html>]]\n"         \
  "local PROJECT = [[<main id='project-page'><h1 id='project-title'>Health facilities in \n"       \
  "  Beira</h1></main>]]\n"                                                                        \
  "local NOT_FOUND = [[<main id='project-page'><div id='project-not-found' data-status='403'\n"    \
  "  data-subcode='PrivateProject'><h1>Project not found</h1><p>Or no permission.</p></div>\n"     \
  "  </main>]]\n"                                                                                  \
  "local P = { who = 'an authorised user (mapper_ana)', what = 'private project 42',\n"            \
  "  content = \"the project's data\", allowed_xpath = \"//h1[@id='project-title']\",\n"           \
  "  refused_xpath = \"//div[@id='project-not-found']/h1\" }\n"                                    \
  "local function pg(page, pages, total, per)\n"                                                   \
  "  return { page = page, pages = pages, total = total, perPage = per,\n"                         \
  "    hasPrev = page > 1, prevNum = page > 1 and page - 1 or json.null,\n"                        \
  "    hasNext = page < pages, nextNum = page < pages and page + 1 or json.null }\n"               \
  "end\n"                                                                                          \
  "local function paginator(n)\n"                                                                  \
  "  local b = {}\n"                                                                               \
  "  for i = 1, n do b[#b + 1] = ('<button class=\"paginator-btn\" name=\"page\" value=\"%d\">'\n" \
  "    .. '%d</button>'):format(i, i) end\n"                                                       \
  "  return html.parse('<main><form class=\"paginator\" action=\"/contributions/tasks\">'\n"       \
  "    .. '<div class=\"paginator-btn-ctr\">' .. table.concat(b) .. '</div></form></main>')\n"     \
  "end\n"                                                                                          \
  "local MENU = html.parse([[<aside><ul id='settings' class='left-submenu-settings'>\n"            \
  "  <li><a href='/admin/organisations/1'>Organisation</a></li>\n"                                 \
  "  <li><a href='/admin/agents'> Vos\n agents </a></li>\n"                                        \
  "  <li><a href='/admin/organisations/1/lieux'>Agents</a></li>\n"                                 \
  "</ul></aside>]])\n"                                                                             \
  "local SETTINGS = \"//ul[@id='settings']\"\n"

struct want {
  bool ok;
  const char *message; /* the recorded message must contain this */
};

struct lua_case {
  const char *name;
  const char *source;
  enum uat_outcome outcome;
  const char *error;          /* substring of result->error; NULL: no error */
  struct want want[MAX_WANT]; /* exactly these expectations, in order (message NULL ends) */
};

static const struct lua_case cases[] = {
    /* ---- access: what counts as refused, what counts as allowed ---- */
    {"a log-in page served with 200 counts as refused",
     "access.refused(resp(200, LOGIN), P)",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "an authorised user (mapper_ana), private project 42 is refused (200 with a log-in "
             "page (it asks for a password))"}}},
    {"a log-in page served with 200 is not 'allowed'",
     "access.allowed(resp(200, LOGIN), P)",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "an authorised user (mapper_ana) can open private project 42 — got 200 with a "
              "log-in page (it asks for a password)"}}},
    {"a page with a form posting to a sign-in URL is a log-in page",
     "local ok, why = access.is_login_page(html.parse([[<form action='/users/sign_in'>\n"
     "<input name='email'></form>]]))\n"
     "expect.eq(ok, true, 'login page')\n"
     "expect.eq(why, 'a log-in page (a form posting to /users/sign_in)', 'why')\n"
     "expect.eq(access.is_login_page(html.parse(PROJECT)), false, 'a project page is not')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "login page"}, {true, "why"}, {true, "a project page is not"}}},
    {"a 302 to /agents/sign_in counts as refused",
     "access.refused(resp(302, '', { location = '/agents/sign_in' }),\n"
     "  { who = 'without signing in', what = 'the agents screen' })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "without signing in, the agents screen is refused (302 to /agents/sign_in (a "
             "sign-in page))"}}},
    {"an absolute redirect to a sign-in URL with a query counts as refused",
     "access.refused(resp(303, '', { location = 'https://sso.example.org/auth/realms/x?next=/' "
     "}))",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "is refused (303 to https://sso.example.org/auth/realms/x?next=/ (a sign-in "
             "page))"}}},
    {"a redirect elsewhere is not a refusal, unless listed in refused_locations",
     "local r = resp(302, '', { location = '/admin/organisations/1' })\n"
     "access.refused(r, { who = 'a basic agent', what = 'the agents screen' })\n"
     "access.refused(r, { who = 'a basic agent', what = 'the agents screen',\n"
     "  refused_locations = { '^/admin/organisations/%d+$' } })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "a basic agent, the agents screen is refused — got 302 to /admin/organisations/1"},
      {true, "a basic agent, the agents screen is refused (302 to /admin/organisations/1)"}}},
    {"the sign-in page reached after redirects counts as refused",
     "access.refused(resp(200, '<main>Log in with OpenStreetMap</main>',\n"
     "  { url = 'http://staging.test/login?redirect_to=%2Fcontributions%2Ftasks' }),\n"
     "  { what = 'My Tasks' })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "without a token, My Tasks is refused (200 with the sign-in page "
             "/login?redirect_to=%2Fcontributions%2Ftasks)"}}},
    {"a real 200 project page counts as allowed",
     "local ok, r = access.allowed(resp(200, PROJECT), P)\n"
     "expect.eq(r.status, 200, 'the response is returned')\n"
     "expect.eq(access.classify(r, P), 'allowed', 'classified allowed')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "an authorised user (mapper_ana) can open private project 42 (200 with the "
             "project's data)"},
      {true, "the response is returned"},
      {true, "classified allowed"}}},
    {"a 200 'Project not found' page is a refusal: allowed fails, saying what the page says",
     "access.allowed(resp(200, NOT_FOUND), P)\naccess.refused(resp(200, NOT_FOUND), P)",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "an authorised user (mapper_ana) can open private project 42 — got 200, but the "
              "page says \"Project not found\""},
      {true, "private project 42 is refused (200, but the page says \"Project not found\")"}}},
    {"the project's data shown without a token is not a refusal",
     "access.refused(resp(200, PROJECT), setmetatable({ who = 'without a token' },\n"
     "  { __index = P }))",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "without a token, private project 42 is refused — got 200 with the project's "
              "data"}}},
    {"a 200 page without the expected content is neither allowed nor refused",
     "access.allowed(resp(200, '<p>maintenance</p>'), P)\n"
     "access.refused(resp(200, '<p>maintenance</p>'), P)",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "can open private project 42 — got 200 without the project's data"},
      {false, "is refused — got 200 without the project's data"}}},
    {"an API 403 is refused, naming the API's error",
     "access.refused(resp(403, '{\"Error\":\"User not permitted: Private Project\"}',\n"
     "  { ct = 'application/json' }), { what = 'private project 42' })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "without a token, private project 42 is refused (403 \"User not permitted: "
             "Private Project\")"}}},
    {"a 500 is neither allowed nor refused",
     "access.allowed(resp(500, '{\"message\":\"boom\"}', { ct = 'application/json' }))\n"
     "access.refused(resp(500, 'oops', { ct = 'text/plain' }))",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "an authorised user can open /page — got 500 \"boom\""},
      {false, "without a token, /page is refused — got 500"}}},
    {"allowed_json decides what an allowed JSON answer holds",
     "local o = { what = 'project 42', allowed_json = function(p) return p.projectId == 42 end }\n"
     "access.allowed(resp(200, '{\"projectId\":42}', { ct = 'application/json' }), o)\n"
     "access.allowed(resp(200, '{\"projectId\":7}', { ct = 'application/json' }), o)",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "an authorised user can open project 42 (200 with a JSON body)"},
      {false, "an authorised user can open project 42 — got 200 without the expected JSON"}}},
    {"a 403 or 401 whose body still holds the protected content is not a refusal",
     "access.refused(resp(403, PROJECT), P)\n"
     "access.refused(resp(401, '{\"projectId\":42,\"private\":true}', { ct = 'application/json' "
     "}),\n"
     "  { what = 'private project 42', content = \"the project's data\",\n"
     "    allowed_json = function(p) return p.projectId == 42 end })\n"
     "access.refused(resp(403, '{\"Error\":\"User not permitted\"}', { ct = 'application/json' "
     "}),\n"
     "  { what = 'private project 42', allowed_json = function(p) return p.projectInfo.name end "
     "})",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "private project 42 is refused — got 403, but the body still holds the project's "
              "data"},
      {false, "without a token, private project 42 is refused — got 401, but the body still "
              "holds the project's data"},
      {true, "without a token, private project 42 is refused (403 \"User not permitted\")"}}},
    {"the content beside a log-in form in the layout, or beside 'not found', is no refusal",
     "local LAYOUT = [[<header><form action='/session'><input type='password' name='pw'>\n"
     "  </form></header>]] .. PROJECT\n"
     "access.refused(resp(200, LAYOUT), setmetatable({ who = 'without a token' }, { __index = P "
     "}))\n"
     "access.allowed(resp(200, LAYOUT), P)\n"
     "access.refused(resp(200, PROJECT .. NOT_FOUND), setmetatable({ who = 'without a token' },\n"
     "  { __index = P }))",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "without a token, private project 42 is refused — got 200 with the project's data, "
              "beside a log-in page (it asks for a password)"},
      {false, "can open private project 42 — got 200 with the project's data, beside a log-in "
              "page"},
      {false, "without a token, private project 42 is refused — got 200 with the project's data, "
              "beside \"Project not found\""}}},
    {"an empty 200 is neither allowed nor refused",
     "access.allowed(resp(200, '', { ct = 'application/json' }), { what = 'project 42' })\n"
     "access.allowed(resp(200, ' \\n'), { what = 'project 42' })\n"
     "access.refused(resp(200, ''), { what = 'project 42' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "an authorised user can open project 42 — got 200 with an empty body"},
      {false, "an authorised user can open project 42 — got 200 with an empty body"},
      {false, "without a token, project 42 is refused — got 200 with an empty body"}}},
    {"a log-in page in another language, served with 200, counts as refused",
     "access.refused(resp(200, [[<html lang='fr'><h1>Connexion</h1><form action='/connexion'>\n"
     "  <input name='email'><input type='PassWord' name='mdp'><button>Se connecter</button>\n"
     "  </form></html>]]), { who = 'sans se connecter', what = 'la liste des agents' })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "sans se connecter, la liste des agents is refused (200 with a log-in page (it asks "
             "for a password))"}}},
    {"access.boundary with an outsider whose token is nil is a script error, not an anonymous "
     "side",
     "access.boundary({ url = '/p', allowed = 'x', outsider = { token = secrets.mistyped, who = "
     "'olaf' } })",
     UAT_OUTCOME_ERROR,
     "access.boundary: outsider (olaf) has no token, headers or session; is its secret name "
     "right?",
     {{false, NULL}}},
    {"access.boundary without a url is a script error",
     "access.boundary({ allowed = 'x' })",
     UAT_OUTCOME_ERROR,
     "access.boundary: give at least url",
     {{false, NULL}}},

    /* ---- pagination: JSON objects page by page ---- */
    {"three consistent pages pass",
     "local ok = pagination.json_consistent({ pg(1, 3, 27, 10), pg(2, 3, 27, 10), "
     "pg(3, 3, 27, 10) }, { what = 'tasks' })\n"
     "expect.eq(ok, true, 'returns ok')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "tasks: pages (3) = ceil(total / perPage) = ceil(27 / 10) = 3"},
      {true, "tasks: one pagination object per page (3 pages)"},
      {true, "tasks page 1 of 3: pagination fields agree"},
      {true, "tasks page 2 of 3: pagination fields agree"},
      {true, "tasks page 3 of 3: pagination fields agree"},
      {true, "returns ok"}}},
    {"pages that do not match ceil(total / perPage) fail",
     "pagination.json_consistent({ pg(1, 2, 10, 10), pg(2, 2, 10, 10) }, { what = 'tasks' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "tasks: pages (2) = ceil(total / perPage) = ceil(10 / 10) = 1"},
      {true, "one pagination object per page (2 pages)"},
      {true, "page 1 of 2: pagination fields agree"},
      {true, "page 2 of 2: pagination fields agree"}}},
    {"a wrong neighbour on one page fails naming the field",
     "local p2 = pg(2, 3, 27, 10)\np2.nextNum = json.null\np2.hasPrev = false\n"
     "pagination.json_consistent({ { pagination = pg(1, 3, 27, 10) }, { pagination = p2 },\n"
     "  { pagination = pg(3, 3, 27, 10) } }, { what = 'tasks' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "ceil(27 / 10) = 3"},
      {true, "one pagination object per page"},
      {true, "page 1 of 3: pagination fields agree"},
      {false, "tasks page 2 of 3: pagination fields agree — hasPrev is false, expected true; "
              "nextNum is null, expected 3"},
      {true, "page 3 of 3: pagination fields agree"}}},
    {"a single page of results is consistent",
     "pagination.json_consistent({ pg(1, 1, 3, 10) }, { what = 'tasks' })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "pages (1) = ceil(total / perPage) = ceil(3 / 10) = 1"},
      {true, "one pagination object per page (1 pages)"},
      {true, "tasks page 1 of 1: pagination fields agree"}}},
    {"items per page and repeated items are checked through a fetcher",
     "local data = { { pagination = pg(1, 2, 3, 2), tasks = { { id = 1 }, { id = 2 } } },\n"
     "  { pagination = pg(2, 2, 3, 2), tasks = { { id = 2 } } } }\n"
     "pagination.json_consistent(function(n) return data[n] end,\n"
     "  { what = 'tasks', items = 'tasks', item_key = function(t) return tostring(t.id) end })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "ceil(3 / 2) = 2"},
      {true, "page 1 of 2: pagination fields agree"},
      {true, "page 2 of 2: pagination fields agree"},
      {true, "tasks page 1 of 2 holds 2 items"},
      {true, "tasks page 2 of 2 holds 1 items"},
      {false, "tasks: no item shows on two pages — repeated: 2 (pages 1 and 2)"}}},

    {"an API repeating items across pages fails without an item_key too",
     "local data = { { pagination = pg(1, 2, 4, 2), tasks = { { id = 1 }, { id = 2 } } },\n"
     "  { pagination = pg(2, 2, 4, 2), tasks = { { id = 1 }, { id = 2 } } } }\n"
     "pagination.json_consistent(function(n) return data[n] end, { what = 'tasks', items = "
     "'tasks' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "ceil(4 / 2) = 2"},
      {true, "page 1 of 2: pagination fields agree"},
      {true, "page 2 of 2: pagination fields agree"},
      {true, "tasks page 1 of 2 holds 2 items"},
      {true, "tasks page 2 of 2 holds 2 items"},
      {false, "tasks: no item shows on two pages — repeated: {\"id\":1} (pages 1 and 2), "
              "{\"id\":2} (pages 1 and 2)"}}},
    {"a page that does not answer fails, naming it",
     "local ok = pagination.json_consistent(function(n)\n"
     "  if n == 1 then return { pagination = pg(1, 2, 20, 10) } end\n"
     "  return resp(500, 'oops')\n"
     "end, { what = 'tasks' })\n"
     "expect.eq(ok, false, 'returns not ok')",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "tasks: page 2 answers"},
      {true, "tasks: pages (2) = ceil(total / perPage) = ceil(20 / 10) = 2"},
      {true, "tasks page 1 of 2: pagination fields agree"},
      {true, "returns not ok"}}},

    /* ---- pagination: links on the page ---- */
    {"a one-page paginator is fine, and so is none",
     "pagination.html_links(paginator(1), { what = 'My Tasks', pages = 1 })\n"
     "pagination.html_links(html.parse('<main></main>'), { what = 'My Tasks', total = 3, "
     "per_page = 10 })",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "My Tasks: one page of results, and the paginator offers no other page"},
      {true, "My Tasks: 1 page of results, no paginator needed"}}},
    {"one page of results but a paginator offering page 2 fails",
     "pagination.html_links(paginator(2), { what = 'My Tasks', pages = 1 })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "My Tasks: one page of results, and the paginator offers no other page — it offers "
              "\"2\" → /contributions/tasks?page=2"}}},
    {"a paginator missing entirely fails",
     "pagination.html_links(html.parse('<ul id=\"my-tasks\"><li>x</li></ul>'),\n"
     "  { what = 'My Tasks', pages = 3, container = \"//div[@class='paginator-btn-ctr']\" })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "My Tasks: the paginator is on the page (3 pages) — it is missing (nothing matches "
              "//div[@class='paginator-btn-ctr'])"}}},
    {"numbered buttons lead to their form's action with ?name=value",
     "local ok, links = pagination.html_links(paginator(3), { what = 'My Tasks', pages = 3 })\n"
     "expect.eq(#links, 3, 'three links')\n"
     "expect.eq(links[2].target, '/contributions/tasks?page=2', 'button target')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "My Tasks: the paginator is on the page (3 pages)"},
      {true, "My Tasks: the paginator links to each of the 3 pages"},
      {true, "My Tasks: each page link leads to a different address"},
      {true, "three links"},
      {true, "button target"}}},
    {"a missing page link and two links to one address fail",
     "pagination.html_links(html.parse([[<nav class='pagination'><a href='?page=1'>1</a>\n"
     "  <a href='?page=1'>2</a></nav>]]), { what = 'results', pages = 3 })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "results: the paginator is on the page (3 pages)"},
      {false, "results: the paginator links to each of the 3 pages — no link for page 3"},
      {false, "results: each page link leads to a different address — pages 1 and 2 both lead "
              "to ?page=1"}}},
    {"next and previous links serve a paginator without numbers",
     "local doc = html.parse([[<div class='pagination'><a rel='prev' href='?p=1'>&laquo;</a>\n"
     "  <a href='?p=3'>Next page</a></div>]])\n"
     "pagination.html_links(doc, { what = 'results', pages = 3, current = 2 })\n"
     "pagination.html_links(html.parse([[<div class='pagination'><a "
     "href='?p=2'>More</a></div>]]),\n"
     "  { what = 'results', pages = 3, current = 2 })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "results: the paginator is on the page (3 pages)"},
      {true, "results: page 2 of 3 has a link to the next page"},
      {true, "results: page 2 of 3 has a link to the previous page"},
      {true, "results: the paginator is on the page (3 pages)"},
      {false, "results: page 2 of 3 has a link to the next page"},
      {false, "results: page 2 of 3 has a link to the previous page"}}},
    {"a numbered paginator offering a page past the last fails",
     "pagination.html_links(paginator(4), { what = 'My Tasks', pages = 3 })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "My Tasks: the paginator is on the page (3 pages)"},
      {false, "My Tasks: the paginator links to each of the 3 pages — it also links to page 4, "
              "which does not exist"},
      {true, "My Tasks: each page link leads to a different address"}}},
    {"a next link on the last page or a previous link on the first fails; disabled ones do not",
     "pagination.html_links(html.parse([[<div class='pagination'><a rel='prev' "
     "href='?p=2'>Prev</a>\n"
     "  <a href='?p=4'>Next</a></div>]]), { what = 'results', pages = 3, current = 3 })\n"
     "pagination.html_links(html.parse([[<div class='pagination'><a href='?p=0'>Previous</a>\n"
     "  <a href='?p=2'>Next</a></div>]]), { what = 'results', pages = 3, current = 1 })\n"
     "pagination.html_links(html.parse([[<div class='pagination'><a href='?p=2'>Prev</a>\n"
     "  <a href='?p=4' class='page-link disabled'>Next</a><button name='p' value='4' "
     "disabled>Next</button>\n"
     "  </div>]]), { what = 'results', pages = 3, current = 3 })\n"
     "pagination.html_links(html.parse([[<div class='pagination'><a href='?p=2' "
     "aria-disabled='true'>\n"
     "  Next</a></div>]]), { what = 'results', pages = 1 })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "results: the paginator is on the page (3 pages)"},
      {true, "results: page 3 of 3 has a link to the previous page"},
      {false, "results: page 3 of 3 is the last, but it offers a next page: \"Next\" → ?p=4"},
      {true, "results: the paginator is on the page (3 pages)"},
      {true, "results: page 1 of 3 has a link to the next page"},
      {false, "results: page 1 of 3 is the first, but it offers a previous page: \"Previous\" → "
              "?p=0"},
      {true, "results: the paginator is on the page (3 pages)"},
      {true, "results: page 3 of 3 has a link to the previous page"},
      {true, "results: one page of results, and the paginator offers no other page"}}},
    {"followed pages that repeat some of an earlier page's items fail, naming them",
     "local function list(...) local li = {}\n"
     "  for _, t in ipairs({ ... }) do li[#li + 1] = '<li>task ' .. t .. '</li>' end\n"
     "  return resp(200, '<ul id=\"l\">' .. table.concat(li) .. '</ul>') end\n"
     "local pages = { ['/contributions/tasks?page=1'] = list(1, 2, 3),\n"
     "  ['/contributions/tasks?page=2'] = list(3, 4, 5), ['/contributions/tasks?page=3'] = "
     "list(1, 2, 3) }\n"
     "pagination.html_links(paginator(3), { what = 'My Tasks', pages = 3, page_items = "
     "\"//ul[@id='l']/li\",\n"
     "  fetch = function(url) return pages[url] end })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "the paginator is on the page (3 pages)"},
      {true, "the paginator links to each of the 3 pages"},
      {true, "each page link leads to a different address"},
      {true, "My Tasks: the link to page 1 (/contributions/tasks?page=1) answers"},
      {true, "My Tasks: page 1 shows its own items (3)"},
      {true, "the link to page 2 (/contributions/tasks?page=2) answers"},
      {false, "My Tasks: page 2 shows its own items (3), but 1 of them already on page 1: task 3"},
      {true, "the link to page 3 (/contributions/tasks?page=3) answers"},
      {false, "My Tasks: page 3 shows its own items (3), the same as page 1"}}},
    {"followed pages that repeat some of an earlier page's items fail (the last one)",
     "local function list(...) local li = {}\n"
     "  for _, t in ipairs({ ... }) do li[#li + 1] = '<li>task ' .. t .. '</li>' end\n"
     "  return resp(200, '<ul id=\"l\">' .. table.concat(li) .. '</ul>') end\n"
     "local pages = { ['/contributions/tasks?page=1'] = list(1, 2),\n"
     "  ['/contributions/tasks?page=2'] = list(1, 2) }\n"
     "pagination.html_links(paginator(2), { what = 'My Tasks', pages = 2, page_items = "
     "\"//ul[@id='l']/li\",\n"
     "  fetch = function(url) return pages[url] end })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "the paginator is on the page (2 pages)"},
      {true, "the paginator links to each of the 2 pages"},
      {true, "each page link leads to a different address"},
      {true, "the link to page 1"},
      {true, "My Tasks: page 1 shows its own items (2)"},
      {true, "the link to page 2"},
      {false, "My Tasks: page 2 shows its own items (2), the same as page 1"}}},
    {"html_links without the number of pages is a script error",
     "pagination.html_links(paginator(2), {})",
     UAT_OUTCOME_ERROR,
     "give opts.pages, or opts.total and opts.per_page",
     {{false, NULL}}},

    /* ---- menu ---- */
    {"a menu entry whose label is right but whose href is wrong fails with both",
     "menu.has_entries(MENU, SETTINGS, { { label = 'Vos agents', href = "
     "'/admin/organisations/1/agents' } }, { name = 'the settings menu' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the settings menu: \"Vos agents\" leads to /admin/agents, expected "
              "/admin/organisations/1/agents"}}},
    {"an absent entry fails, listing what the menu has",
     "menu.has_entries(MENU, SETTINGS, { { label = 'Vos invitations', href = "
     "'/admin/organisations/1/invitations' } }, { name = 'the settings menu' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the settings menu has no \"Vos invitations\" entry (→ "
              "/admin/organisations/1/invitations); it has: \"Organisation\", \"Vos agents\", "
              "\"Agents\""}}},
    {"the right href under another label fails, naming the label",
     "menu.has_entries(MENU, SETTINGS, { { label = 'Lieux', href = "
     "'/admin/organisations/1/lieux' } })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the menu has no \"Lieux\" entry; /admin/organisations/1/lieux is there, labelled "
              "\"Agents\""}}},
    {"entries present pass; absolute URLs and a trailing slash do not matter",
     "local ok, found = menu.has_entries(MENU, SETTINGS, {\n"
     "  { label = 'Organisation', href = 'https://rdv.example.org/admin/organisations/1/' },\n"
     "  { label = 'Vos agents', href = '/admin/agents' } })\n"
     "expect.eq(#found, 3, 'the entries found are returned')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "the menu has \"Organisation\" → https://rdv.example.org/admin/organisations/1/"},
      {true, "the menu has \"Vos agents\" → /admin/agents"},
      {true, "the entries found are returned"}}},
    {"an entry present but hidden from users fails, saying how it is hidden",
     "local doc = html.parse([[<ul id='settings'>\n"
     "  <li hidden><a href='/admin/organisations/1/agents'>Vos agents</a></li>\n"
     "  <li><a aria-hidden='true' href='/admin/organisations/1/invitations'>Vos invitations</a>"
     "</li>\n"
     "  <li style='DISPLAY: none'><a href='/admin/organisations/1/lieux'>Lieux</a></li>\n"
     "  <li class='nav-item d-none'><a href='/admin/organisations/1/motifs'>Motifs</a></li>\n"
     "  <li><a href='/admin/organisations/1'>Organisation</a></li></ul>]])\n"
     "menu.has_entries(doc, SETTINGS, {\n"
     "  { label = 'Vos agents', href = '/admin/organisations/1/agents' },\n"
     "  { label = 'Vos invitations', href = '/admin/organisations/1/invitations' },\n"
     "  { label = 'Lieux', href = '/admin/organisations/1/lieux' },\n"
     "  { label = 'Motifs', href = '/admin/organisations/1/motifs' },\n"
     "  { label = 'Organisation', href = '/admin/organisations/1' } })\n"
     "menu.has_entries(html.parse([[<nav style='display:none'><ul id='settings'><li>\n"
     "  <a href='/a'>A</a></li></ul></nav>]]), SETTINGS, { { label = 'A', href = '/a' } })\n"
     "menu.has_entries(html.parse([[<ul id='settings'><li><a href='/z'>Z</a></li></ul>]]),\n"
     "  SETTINGS, { { label = 'Z', href = '/z' } })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the menu: \"Vos agents\" (→ /admin/organisations/1/agents) is there but hidden "
              "from users (the hidden attribute on its li)"},
      {false, "the menu: \"Vos invitations\" (→ /admin/organisations/1/invitations) is there but "
              "hidden from users (aria-hidden=\"true\")"},
      {false, "is there but hidden from users (display:none on its li)"},
      {false, "is there but hidden from users (class \"nav-item d-none\" on its li)"},
      {true, "the menu has \"Organisation\" → /admin/organisations/1"},
      {false, "the menu: \"A\" (→ /a) is there but hidden from users (display:none on its nav)"},
      {true, "the menu has \"Z\" → /z"}}},
    {"one label leading to two places fails; a no-break space is a space",
     "local doc = html.parse([[<ul id='settings'><li><a href='/admin/agents'>Vos agents</a></li>\n"
     "  <li><a href='/admin/organisations/1/agents'>Vos&nbsp;agents</a></li></ul>]])\n"
     "menu.has_entries(doc, SETTINGS, { { label = 'Vos agents', href = "
     "'/admin/organisations/1/agents' } })\n"
     "menu.has_entries(html.parse([[<ul id='settings'><li><a href='/b'>Vos&nbsp;agents</a></li>"
     "</ul>]]),\n"
     "  SETTINGS, { { label = 'Vos agents', href = '/b' } })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the menu: \"Vos agents\" is there twice, leading to /admin/organisations/1/agents "
              "and to /admin/agents"},
      {true, "the menu has \"Vos agents\" → /b"}}},
    {"a missing menu is one failure naming its XPath",
     "menu.has_entries(html.parse('<p>x</p>'), \"//ul[@id='settings']\", { { label = 'A', "
     "href = '/a' } }, { name = 'the settings menu' })",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "the settings menu is on the page — nothing matches //ul[@id='settings']"}}},

    /* ---- what the seed regressions need ---- */
    {"mapper levels change exactly at 250 and 500 changesets",
     "expect.eq({ tm.level_for(249), tm.level_for(250), tm.level_for(499), tm.level_for(500) },\n"
     "  { 'beginner', 'intermediate', 'intermediate', 'advanced' }, 'thresholds')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "thresholds"}}},
    {"a profile whose visible label contradicts its data-level fails, naming both",
     "local function profile(attr, text) return resp(200, ('<span id=\"mapper-level\" "
     "data-level=\"%s\">'\n"
     "  .. '%s</span>'):format(attr, text)) end\n"
     "local pages = { ana = profile('intermediate', 'Beginner'), bob = profile('beginner', "
     "'Intermediate'),\n"
     "  cy = profile('intermediate', 'Intermediate') }\n"
     "local json_ct = { ct = 'application/json' }\n"
     "local fake = { get = function(url)\n"
     "  local u = url:match('^/users/(%a+)$')\n"
     "  if u then return pages[u] end\n"
     "  if url:find('/openstreetmap/') then\n"
     "    return setmetatable(resp(200, '', json_ct), { __index = { json = function() return\n"
     "      { changesetCount = 312 } end } }) end\n"
     "  return setmetatable(resp(200, '', json_ct), { __index = { json = function() return\n"
     "    { mappingLevel = 'INTERMEDIATE' } end } })\n"
     "end }\n"
     "http = setmetatable(fake, { __index = http })\n"
     "for _, u in ipairs({ 'ana', 'bob', 'cy' }) do tm.expect_mapper_level(u) end",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "the API gives ana's OpenStreetMap changesets"},
      {true, "the API gives ana's profile"},
      {true, "the API gives ana (312 changesets) level INTERMEDIATE"},
      {false, "ana (312 changesets) is labelled Intermediate on their profile — got Beginner"},
      {true, "the API gives bob's OpenStreetMap changesets"},
      {true, "the API gives bob's profile"},
      {true, "the API gives bob (312 changesets) level INTERMEDIATE"},
      {false, "bob (312 changesets) is labelled Intermediate on their profile — it reads "
              "Intermediate, but its data-level is beginner"},
      {true, "the API gives cy's OpenStreetMap changesets"},
      {true, "the API gives cy's profile"},
      {true, "the API gives cy (312 changesets) level INTERMEDIATE"},
      {true, "cy (312 changesets) is labelled Intermediate on their profile"}}},
    {"contributions without a userContributions list fail; an empty list is not checked against "
     "nothing",
     "http = setmetatable({ get = function(url)\n"
     "  if url:find('/contributions/') then\n"
     "    return setmetatable(resp(200, '{}', { ct = 'application/json' }),\n"
     "      { __index = { json = function() return {} end } })\n"
     "  end\n"
     "  return resp(200, \"<ul id='mention-suggestions'></ul>\")\n"
     "end }, { __index = http })\n"
     "tm.expect_mentions(1, tm.contributors(1, 'tok'))",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "the API lists the contributors of project 1 (GET /api/v2/projects/1/contributions/)"},
      {false, "the contributions of project 1 hold a userContributions list"},
      {true, "project 1's Q&A page opens"},
      {true, "typing @ in project 1's Q&A suggests its 0 contributors"}}},
    {"project pages, mention lists and CSRF tokens are read from the page",
     "expect.eq({ tm.project_page(html.parse(NOT_FOUND)) }, { 'not_found', '403 PrivateProject' "
     "}, 'not found')\n"
     "expect.eq({ tm.project_page(html.parse(PROJECT)) }, { 'shown', 'Health facilities in "
     "Beira' }, 'shown')\n"
     "local doc = html.parse([[<ul id='m'><li data-username='ana'>@ana</li><li>@bob</li></ul>]])\n"
     "expect.eq(tm.usernames(doc, \"//ul[@id='m']\"), { 'ana', 'bob' }, 'usernames')\n"
     "expect.eq(tm.usernames(doc, \"//ul[@id='x']\"), nil, 'no list')\n"
     "expect.eq(rdv.csrf(html.parse([[<meta name='csrf-token' content='abc'>]])), 'abc', 'meta')\n"
     "expect.eq(rdv.csrf(html.parse([[<input name='authenticity_token' value='f1'>]])), 'f1', "
     "'form')",
     UAT_OUTCOME_PASS,
     NULL,
     {{true, "not found"},
      {true, "shown"},
      {true, "usernames"},
      {true, "no list"},
      {true, "meta"},
      {true, "form"}}},
    {"an invitation answered by a redirect to sign in (or by a bare 302) is not accepted",
     "local FORM = resp(200, \"<form><input name='authenticity_token' value='t1'></form>\")\n"
     "local function session(answer)\n"
     "  return { get = function(self, url) return url == '/done' and\n"
     "             resp(200, \"<div id='flash-notice'>Invitation envoyée</div>\") or FORM end,\n"
     "           post = function(self, url, o) return answer end }\n"
     "end\n"
     "local ok = rdv.invite(session(resp(302, '', { location = "
     "'https://rdv.test/agents/sign_in?x=1' })),\n"
     "  1, 'marc@x.fr', 2)\n"
     "expect.eq(ok, false, 'not invited')\n"
     "rdv.invite(session(resp(302, '')), 1, 'marc@x.fr', 2)\n"
     "local invited, notice = rdv.invite(session(resp(302, '', { location = '/done' })), 1, "
     "'marc@x.fr', 2)\n"
     "expect.eq(notice, 'Invitation envoyée', 'notice')",
     UAT_OUTCOME_FAIL,
     NULL,
     {{true, "the invitations screen of organisation 1 opens with its form (200)"},
      {false, "the admin can invite marc@x.fr to territory 2 — got 302 to "
              "https://rdv.test/agents/sign_in?x=1: the session was signed out"},
      {true, "not invited"},
      {true, "opens with its form"},
      {false, "the admin can invite marc@x.fr to territory 2 — got 302 without a Location"},
      {true, "opens with its form"},
      {true, "the admin can invite marc@x.fr to territory 2"},
      {true, "notice"}}},
    {"access rights lost or a row gone fail, naming what was lost",
     "local before = { agent_2 = { rights = { 'allow_to_manage_teams', "
     "'allow_to_download_metrics' } } }\n"
     "rdv.expect_rights_kept(before, { agent_2 = { rights = { 'allow_to_manage_teams' } } },\n"
     "  'agent_2', 'Marc Multi on Ardèche (07)')\n"
     "rdv.expect_rights_kept(before, {}, 'agent_2', 'Marc Multi on Ardèche (07)')\n"
     "rdv.expect_rights_kept(before, before, 'agent_2', 'Marc Multi on Ardèche (07)')",
     UAT_OUTCOME_FAIL,
     NULL,
     {{false, "Marc Multi on Ardèche (07) keeps their access rights (allow_to_manage_teams, "
              "allow_to_download_metrics) — lost allow_to_download_metrics"},
      {false, "— the agent is no longer listed on the territory's agents screen"},
      {true, "Marc Multi on Ardèche (07) keeps their access rights (allow_to_manage_teams, "
             "allow_to_download_metrics)"}}},
};

static void assert_contains(const char *hay, const char *needle, const char *what) {
  if (!hay || !strstr(hay, needle))
    fail_msg("%s: expected \"%s\" to contain \"%s\"", what, hay ? hay : "(null)", needle);
}

static void run(struct fixture *f, const char *body, struct uat_check_result *out) {
  size_t len = strlen(PRELUDE) + strlen(body) + 1;
  char *source = malloc(len);
  assert_non_null(source);
  snprintf(source, len, "%s%s", PRELUDE, body);
  f->check.source = source;
  struct uat_error err;
  memset(out, 0, sizeof *out);
  assert_int_equal(uat_sandbox_run(&f->env, out, &err), 0);
  f->check.source = NULL;
  free(source);
}

static void check_case(struct fixture *f, const struct lua_case *c) {
  struct uat_check_result r;
  run(f, c->source, &r);
  if (r.outcome != c->outcome)
    fail_msg("case '%s': outcome %s, expected %s (error: %s; first expectation: %s)", c->name,
             uat_outcome_name(r.outcome), uat_outcome_name(c->outcome), r.error ? r.error : "none",
             r.nexpectations ? r.expectations[0].message : "none");
  if (c->error)
    assert_contains(r.error, c->error, c->name);
  size_t n = 0;
  while (n < MAX_WANT && c->want[n].message)
    n++;
  if (r.nexpectations != n)
    fail_msg("case '%s': %zu expectations recorded, expected %zu (last: %s)", c->name,
             r.nexpectations, n,
             r.nexpectations ? r.expectations[r.nexpectations - 1].message : "none");
  for (size_t i = 0; i < n; i++) {
    const struct uat_expectation *e = &r.expectations[i];
    if (e->ok != c->want[i].ok)
      fail_msg("case '%s': expectation %zu \"%s\" is %s, expected %s", c->name, i + 1, e->message,
               e->ok ? "ok" : "failed", c->want[i].ok ? "ok" : "failed");
    assert_contains(e->message, c->want[i].message, c->name);
  }
  uat_check_result_clear(&r);
}

static void test_cases(void **state) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(*state, &cases[i]);
}

/* A failed expectation shows actual and expected beside the message. */
static void test_failure_details(void **state) {
  struct uat_check_result r;
  run(*state,
      "menu.has_entries(MENU, SETTINGS, { { label = 'Vos agents', href = "
      "'/admin/organisations/1/agents' } })",
      &r);
  assert_int_equal(r.nexpectations, 1);
  assert_string_equal(r.expectations[0].actual, "\"\\\"Vos agents\\\" → /admin/agents\"");
  assert_string_equal(r.expectations[0].expected,
                      "\"\\\"Vos agents\\\" → /admin/organisations/1/agents\"");
  uat_check_result_clear(&r);
}

/* access.boundary over real HTTP: request tables are sent with follow=false, so a redirect to
 * a sign-in page is seen, and other redirects are followed. */
static void test_boundary_over_http(void **state) {
  struct fixture *f = *state;
  char msg[256];
  struct uat_testserver *srv = uat_testserver_start(0, msg, sizeof msg);
  if (!srv)
    fail_msg("test server: %s", msg);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%u", uat_testserver_port(srv));
  f->env.base_url = base;
  static const struct lua_case http_case = {
      "boundary over http",
      "local res = access.boundary{ url = '/auth', what = 'the API', content = 'the answer',\n"
      "  allowed = { token = 'secret-token', who = 'ana' },\n"
      "  outsider = { token = 'not-her-token', who = 'with an outsider\\'s token' } }\n"
      "expect.eq(res, { allowed = true, anonymous = true, outsider = true }, 'all three sides')\n"
      "access.refused({ url = '/private' }, { what = 'the private page' })\n"
      "access.allowed({ url = '/redirect/1' }, { what = 'a page behind a redirect' })\n"
      "access.refused({ url = '/redirect-to?url=/users/sign_in' })\n"
      "local s = http.session()\n"
      "s:get('/cookie/set?a=1')\n"
      "access.allowed({ url = '/cookie/get', session = s }, { what = 'a page with cookies' })",
      UAT_OUTCOME_PASS,
      NULL,
      {{true, "ana can open the API (200 with the answer)"},
       {true, "without a token, the API is refused (401)"},
       {true, "with an outsider's token, the API is refused (401)"},
       {true, "all three sides"},
       {true, "without a token, the private page is refused (302 to /login (a sign-in page))"},
       {true, "an authorised user can open a page behind a redirect (200 with a body)"},
       {true, "without a token, /redirect-to?url=/users/sign_in is refused (302 to "
              "/users/sign_in (a sign-in page))"},
       {true, "an authorised user can open a page with cookies (200"}}};
  check_case(f, &http_case);
  uat_testserver_stop(srv);
}

int main(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  xmlInitParser();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failure_details, setup, teardown),
      cmocka_unit_test_setup_teardown(test_boundary_over_http, setup, teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  xmlCleanupParser();
  curl_global_cleanup();
  return failed;
}
