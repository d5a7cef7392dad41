-- Who may open a Tasking Manager project, through the API or the pages: the allowed user gets
-- in, an anonymous visitor and an outsider are refused. The pages are rendered from the
-- frontend's own API call, so they break when that call loses the token (4.6.2) even though
-- the API itself is right: that is why both are checked, in separate checks.
--
-- params: project, what ("private project 42"), via ("api" or "pages"),
--         allowed / outsider (secret names of the tokens) and allowed_who / outsider_who,
--         pages (paths, for via = "pages"; default /projects/{project})
local access = require("access")

local function boundary(url, extra)
  local opts = {
    url = url,
    what = params.what .. (params.via == "pages" and (" (" .. url .. ")") or ""),
    content = "the project's data",
    allowed = { token = secrets[params.allowed], who = params.allowed_who },
    outsider = { token = secrets[params.outsider], who = params.outsider_who },
  }
  for k, v in pairs(extra) do
    opts[k] = v
  end
  return access.boundary(opts)
end

if params.via == "api" then
  boundary("/api/v2/projects/" .. params.project .. "/", {
    allowed_json = function(p) return p.projectId == params.project end,
  })
else
  for _, path in ipairs(params.pages or { "/projects/" .. params.project }) do
    boundary(path, {
      allowed_xpath = "//h1[@id='project-title']",
      refused_xpath = "//div[@id='project-not-found']/h1",
    })
  end
end
