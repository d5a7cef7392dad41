--[[ tasking_manager — checks for the Tasking Manager frontend, with the API as the reference.

Why: in Tasking Manager 4.6.2 the API was right and the frontend was wrong — mapper level
labels, the @mention list in project Q&A, the contributor list in task comments. These
functions read what a page shows and compare it with what the API says it should show,
so the checks need no hard-coded snapshot of the data.

The frontend is a single-page app: its pages are built in the browser from its own API calls,
so the page checks drive a real browser (`browser`), signed in the way the app keeps a session
(the token and username in localStorage), and read what it renders. Reading the page HTML over
HTTP would only see the empty shell, and sending the token ourselves would hide the very bug
of 4.6.2 (the app dropping it).

Functions (token: the base64 session token, sent as "Authorization: Token <token>"):
  tm.auth(token) -> headers table
  tm.browser(token, username, path) -> b: a browser signed in as username (no token: a visitor),
      opened at path (default /explore).
  tm.sign_in(b, token, username): switches b's session (nil token: signs out); the next page
      the app loads starts with it.
  tm.page(b, path) -> doc: visits path, waits until the app has rendered it (#root is marked
      data-route-ready) and returns the page as the browser shows it.
  tm.level_for(changesets, thresholds) -> "beginner" | "intermediate" | "advanced"
      thresholds default to tm.LEVELS: advanced from 500 changesets, intermediate from 250.
  tm.project_page(doc_or_r) -> "shown", title | "not_found", "403 PrivateProject" | "unknown"
  tm.contributors(project, token) -> { users = {name, ...}, by_task = {[n] = {name, ...}} }
      from GET /api/v2/projects/{project}/contributions/ (mapped, validated and invalidated
      tasks count as contributions). Records that the API answered 200 with a
      userContributions list (without one, every list compared with it would be "rightly" empty).
  tm.usernames(doc_or_r, list_xpath) -> {name, ...}: the data-username of each li of the list
      (nil when the list is absent).
  tm.expect_mapper_level(username, opts) -> ok
      opts.token (to read the API); opts.thresholds; opts.browser (a signed-in browser: the
      profile as the app renders it; without it, the page is fetched over HTTP). Reads changesetCount
      (/api/v2/users/{u}/openstreetmap/), the API's mappingLevel (/api/v2/users/queries/{u}/)
      and the profile page's label (opts.level_xpath, default span#mapper-level: its text, what
      users read, and its data-level when it has one); records that the API's level and the
      profile's label both match the level the changesets give (text and data-level alike).
  tm.expect_mentions(project, contributors, opts) -> ok
      the @mention suggestions of /projects/{project}/questions (opts.list_xpath) are exactly
      the project's contributors. opts.browser as above (else opts.headers for an HTTP fetch).
  tm.expect_task_contributors(project, task, contributors, opts) -> ok
      the contributor list of the task's comment box (/projects/{p}/tasks/{t}) is exactly the
      task's contributors.

Example:
  local tm = require("tasking_manager")
  local b = tm.browser(secrets.tm_token_allowed, "mapper_ana")
  local c = tm.contributors(1, secrets.tm_token_allowed)
  tm.expect_mentions(1, c, { browser = b })
  for task = 1, 7 do tm.expect_task_contributors(1, task, c, { browser = b }) end
  tm.expect_mapper_level("mapper_ana", { token = secrets.tm_token_allowed, browser = b })
]]
local common = require("uat.common")

local tm = {}

tm.LEVELS = { { "advanced", 500 }, { "intermediate", 250 }, { "beginner", 0 } }

function tm.auth(token)
  return { Authorization = "Token " .. token }
end

-- The app's session lives in localStorage, as the real frontend keeps it after log-in.
local function session_storage_of(token, username)
  if not token then
    return {}
  end
  return { token = token, username = username }
end

function tm.browser(token, username, path)
  return browser.open(path or "/explore", { local_storage = session_storage_of(token, username) })
end

function tm.sign_in(b, token, username)
  b:eval("localStorage.clear(); var s = arguments[0]; " ..
         "for (var k in s) localStorage.setItem(k, s[k]); return true",
         session_storage_of(token, username))
end

function tm.page(b, path)
  b:visit(path)
  b:wait("//div[@id='root'][@data-route-ready]")
  return b:html()
end

function tm.level_for(changesets, thresholds)
  for _, t in ipairs(thresholds or tm.LEVELS) do
    if changesets >= t[2] then
      return t[1]
    end
  end
  return "beginner"
end

function tm.project_page(doc_or_r)
  local doc = common.doc(doc_or_r)
  local title = doc:first("//h1[@id='project-title']")
  if title then
    return "shown", common.norm(title.text)
  end
  local nf = doc:first("//div[@id='project-not-found']")
  if nf then
    return "not_found", (nf:attr("data-status") or "?") .. " " .. (nf:attr("data-subcode") or "")
  end
  return "unknown"
end

local function get_json(url, token, what)
  local r = http.get(url, { headers = token and tm.auth(token) or nil })
  if not expect.status(r, 200, what .. " (GET " .. common.path_of(url) .. ")") then
    return nil
  end
  return r:json()
end

local function add_unique(list, seen, name)
  if not seen[name] then
    seen[name] = true
    list[#list + 1] = name
  end
end

function tm.contributors(project, token)
  local body = get_json("/api/v2/projects/" .. project .. "/contributions/", token,
                        "the API lists the contributors of project " .. project)
  local result = { users = {}, by_task = {} }
  if not body then
    return result
  end
  if not expect.truthy(type(body) == "table" and type(body.userContributions) == "table",
                       "the contributions of project " .. project .. " hold a userContributions list") then
    return result
  end
  local seen, task_seen = {}, {}
  for _, c in ipairs(body.userContributions) do
    add_unique(result.users, seen, c.username)
    for _, key in ipairs({ "mappedTasks", "validatedTasks", "invalidatedTasks" }) do
      for _, t in ipairs(c[key] or {}) do
        result.by_task[t] = result.by_task[t] or {}
        task_seen[t] = task_seen[t] or {}
        add_unique(result.by_task[t], task_seen[t], c.username)
      end
    end
  end
  return result
end

function tm.usernames(doc_or_r, list_xpath)
  local doc = common.doc(doc_or_r)
  if not doc:first(list_xpath) then
    return nil
  end
  local names = {}
  for _, li in ipairs(doc:xpath(list_xpath .. "/li")) do
    names[#names + 1] = li:attr("data-username") or common.norm(li.text):gsub("^@", "")
  end
  return names
end

-- Records that a page's list of users is exactly `expected`.
local function expect_same_users(shown, expected, msg)
  if not shown then
    return common.record(false, msg .. " — the list is not on the page")
  end
  local missing, unexpected = common.same_set(shown, expected)
  local ok = #missing == 0 and #unexpected == 0
  if not ok then
    local parts = {}
    if #missing > 0 then
      parts[#parts + 1] = "missing " .. common.join(missing)
    end
    if #unexpected > 0 then
      parts[#parts + 1] = "listed but should not be: " .. common.join(unexpected)
    end
    msg = msg .. " — " .. table.concat(parts, "; ")
  end
  return common.record(ok, msg, common.join(shown), common.join(expected))
end

local function level_label(level)
  return (level:gsub("^%l", string.upper))
end

function tm.expect_mapper_level(username, opts)
  opts = opts or {}
  local osm = get_json("/api/v2/users/" .. username .. "/openstreetmap/", opts.token,
                       "the API gives " .. username .. "'s OpenStreetMap changesets")
  if not osm or math.type(osm.changesetCount) ~= "integer" then
    return false
  end
  local changesets = osm.changesetCount
  local want = tm.level_for(changesets, opts.thresholds)
  local ok = true
  local api = get_json("/api/v2/users/queries/" .. username .. "/", opts.token,
                       "the API gives " .. username .. "'s profile")
  if api then
    local level = tostring(api.mappingLevel):lower()
    ok = common.record(level == want, string.format("the API gives %s (%d changesets) level %s",
                                                    username, changesets, want:upper()),
                       tostring(api.mappingLevel), want:upper()) and ok
  end
  local doc, status
  if opts.browser then
    doc, status = tm.page(opts.browser, "/users/" .. username), 200
  else
    local page = http.get("/users/" .. username)
    status = page.status
    doc = status == 200 and common.doc(page) or nil
  end
  local node = doc and doc:first(opts.level_xpath or "//span[@id='mapper-level']")
  -- The text is what users read; data-level, when there, must say the same.
  local text = node and common.norm(node.text):lower() or ""
  local attr = node and node:attr("data-level")
  local shown = text ~= "" and text or attr
  local msg = string.format("%s (%d changesets) is labelled %s on their profile", username,
                            changesets, level_label(want))
  if shown ~= want then
    msg = msg .. " — got " .. (shown and level_label(shown) or
                                 ("no level label (status " .. status .. ")"))
  elseif attr and attr ~= want then
    msg = msg .. " — it reads " .. level_label(shown) .. ", but its data-level is " .. attr
    shown = attr
  end
  return common.record(shown == want, msg, shown and level_label(shown) or "no label",
                       level_label(want)) and ok
end

-- A page as the user sees it: rendered by the browser when there is one, else over HTTP.
local function page_of(path, opts, what)
  if opts.browser then
    return tm.page(opts.browser, path)
  end
  local r = http.get(path, { headers = opts.headers })
  expect.status(r, 200, what)
  return r
end

function tm.expect_mentions(project, contributors, opts)
  opts = opts or {}
  local r = page_of("/projects/" .. project .. "/questions", opts,
                    "project " .. project .. "'s Q&A page opens")
  local shown = tm.usernames(r, opts.list_xpath or "//ul[@id='mention-suggestions']")
  return expect_same_users(shown, contributors.users, string.format(
    "typing @ in project %d's Q&A suggests its %d contributors", project, #contributors.users))
end

function tm.expect_task_contributors(project, task, contributors, opts)
  opts = opts or {}
  local r = page_of("/projects/" .. project .. "/tasks/" .. task, opts,
                    "task #" .. task .. " of project " .. project .. " opens")
  local expected = contributors.by_task[task] or {}
  local shown = tm.usernames(r, opts.list_xpath or "//ul[@id='task-contributors']")
  return expect_same_users(shown, expected, string.format(
    "the comment box of task #%d (project %d) lists its contributors (%s)", task, project,
    common.join(expected)))
end

return tm
