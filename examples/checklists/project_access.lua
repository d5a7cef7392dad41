-- Who may open a Tasking Manager project, through the API or the pages: the allowed user gets
-- in, an anonymous visitor and an outsider are refused. The pages are built in the browser
-- from the app's own API call, so they break when the app loses the token (4.6.2 #6088) even
-- though the API itself is right: that is why both are checked, in separate checks, and why
-- the pages are read in a real browser signed in the way the app keeps a session.
--
-- params: project, what ("private project 42"), via ("api" or "pages"),
--         allowed / outsider (secret names of the tokens), allowed_user / outsider_user
--         (their usernames, for the app's session) and allowed_who / outsider_who,
--         pages (paths, for via = "pages"; default /projects/{project})
local access = require("access")
local common = require("uat.common")
local tm = require("tasking_manager")

if params.via == "api" then
  access.boundary({
    url = "/api/v2/projects/" .. params.project .. "/",
    what = params.what,
    content = "the project's data",
    allowed = { token = secrets[params.allowed], who = params.allowed_who },
    outsider = { token = secrets[params.outsider], who = params.outsider_who },
    allowed_json = function(p) return p.projectId == params.project end,
  })
  return
end

-- What the page shows one person: the project, or the app's "Project not found".
local function expect_page(b, path, who, want_shown)
  local state, detail = tm.project_page(tm.page(b, path))
  local what = string.format("%s (%s)", params.what, path)
  if want_shown then
    local msg = who .. " can open " .. what
    if state == "not_found" then
      msg = msg .. " — the page says \"Project not found\" (the app's API call got " .. detail .. ")"
    end
    return common.record(state == "shown", msg, state == "shown" and detail or "Project not found",
                         "the project's page")
  end
  local msg = what .. " stays hidden " .. who
  if state == "shown" then
    msg = msg .. " — the page shows it (" .. detail .. ")"
  end
  return common.record(state == "not_found", msg, state == "shown" and detail or "Project not found",
                       "Project not found")
end

local pages = params.pages or { "/projects/" .. params.project }
local b = tm.browser(secrets[params.allowed], params.allowed_user)
for _, path in ipairs(pages) do
  expect_page(b, path, params.allowed_who, true)
end
tm.sign_in(b, secrets[params.outsider], params.outsider_user)
for _, path in ipairs(pages) do
  expect_page(b, path, params.outsider_who, false)
end
tm.sign_in(b, nil)
for _, path in ipairs(pages) do
  expect_page(b, path, "from an anonymous visitor", false)
end
b:close()
