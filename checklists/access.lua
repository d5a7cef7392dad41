--[[ access — the paired auth boundary: the right person gets in, everyone else is refused.

Why: in Tasking Manager 4.6.2 a refactor dropped the token from the frontend's API calls;
authorised users were shown "Project not found" on their own private projects, and every
unit test passed. A boundary is only checked when BOTH sides are: allowed with the token,
refused without it and with an outsider's token.

"Refused" is what a user experiences as refused, not only a 401:
  - status 401, 403 or 404 (opts.refused_status to change the list);
  - a 3xx whose Location is a sign-in URL (opts.signin_patterns, Lua patterns matched
    against the path: /login, /log_in, /signin, /sign_in, /sign-in, /auth, /oauth,
    /sessions/new ...), or one of opts.refused_locations;
  - a 2xx that is really a log-in page: its address is a sign-in URL (after redirects), it
    has a password field, or a form posting to a sign-in URL (opts.login_xpath adds a marker);
  - a 2xx page showing a refusal (opts.refused_xpath, e.g. the "Project not found" block a
    single-page app renders with status 200).
"Allowed" is a 2xx that is none of the above and, when opts.allowed_xpath is given, shows that
content (opts.allowed_json(decoded) -> ok for JSON bodies). Anything else (500, a redirect
elsewhere, a page without the content, an empty body) is neither: both allowed() and refused()
fail on it. So is a refusal whose body still shows the content (a 403 page, or a page with a
log-in form in its layout, that holds what allowed_xpath / allowed_json recognise): the
protected data reached the visitor, whatever the status says.

Functions (r_or_request: a response, or a request table {url=, headers=, session=}; a request
is sent with follow=false so a redirect to a sign-in page is seen as such; a redirect elsewhere
is then followed):
  access.classify(r, opts)             -> "allowed" | "refused" | "unexpected", description
  access.is_login_page(doc_or_r, opts) -> true, why | false
  access.allowed(r_or_request, opts)   records "WHO can open WHAT"; returns ok, response
  access.refused(r_or_request, opts)   records "WHO: WHAT is refused"; returns ok, response
  access.boundary(opts)                the paired check; returns {allowed=, anonymous=, outsider=}
  access.SIGNIN_PATTERNS               the default sign-in path patterns

Options (all optional unless said):
  who        "an authorised user (mapper_ana)"    what     "private project 42"
  content    what the allowed answer holds, for messages: "the project's data"
  allowed_xpath, refused_xpath, login_xpath, allowed_json, refused_status,
  signin_patterns (replaces the defaults), refused_locations (extra Lua patterns)
boundary(opts) also takes: url (required); allowed and outsider, each a token string or
{token=, who=, headers=, session=} (a table with none of token, headers, session is a script
error: it is what secrets.MISTYPED gives, and the side would be sent as an anonymous visitor); token_header (default "Authorization"), token_prefix
(default "Token "); anonymous (default true; false to skip the no-token side); headers
(sent on every side).

Example:
  local access = require("access")
  access.boundary{
    url = "/projects/42", what = "private project 42", content = "the project's data",
    allowed = { token = secrets.tm_token_allowed, who = "an authorised user (mapper_ana)" },
    outsider = { token = secrets.tm_token_outsider, who = "an outsider (outsider_olaf)" },
    allowed_xpath = "//h1[@id='project-title']",
    refused_xpath = "//div[@id='project-not-found']/h1",
  }
]]
local common = require("uat.common")

local access = {}

access.SIGNIN_PATTERNS = {
  "/log_?in$", "/log%-in$", "/log_?in/", "/sign_?in$", "/sign%-in$", "/sign_?in/",
  "/auth$", "/auth/", "/oauth", "/sessions?/new$", "/cas/login",
}

local DEFAULT_REFUSED_STATUS = { 401, 403, 404 }

local function matches_any(path, patterns)
  for _, p in ipairs(patterns or {}) do
    if path:find(p) then
      return true
    end
  end
  return false
end

-- The path of url without its query: what sign-in patterns are matched against.
local function bare_path(url)
  return (common.path_of(url):gsub("%?.*$", ""))
end

local function is_signin_url(url, opts)
  return url ~= nil and matches_any(bare_path(url), opts.signin_patterns or access.SIGNIN_PATTERNS)
end

function access.is_login_page(doc_or_r, opts)
  opts = opts or {}
  if common.is_response(doc_or_r) and is_signin_url(doc_or_r.url, opts) then
    return true, "the sign-in page " .. common.path_of(doc_or_r.url)
  end
  local doc = common.doc(doc_or_r)
  if opts.login_xpath and doc:first(opts.login_xpath) then
    return true, "a log-in page (" .. opts.login_xpath .. ")"
  end
  if doc:first("//input[translate(@type,'PASSWORD','password')='password']") then
    return true, "a log-in page (it asks for a password)"
  end
  for _, form in ipairs(doc:xpath("//form[@action]")) do
    local action = form:attr("action")
    if is_signin_url(action, opts) then
      return true, "a log-in page (a form posting to " .. action .. ")"
    end
  end
  return false
end

-- A short description of an error body: the API's Error/message field, if any.
local function error_detail(r)
  local ok, body = pcall(json.decode, r.body or "")
  if not ok or type(body) ~= "table" then
    return ""
  end
  local text = body.Error or body.error or body.message or body.detail
  if type(text) ~= "string" then
    return ""
  end
  return ' "' .. common.short(text, 60) .. '"'
end

local function status_in(status, list)
  for _, s in ipairs(list) do
    if s == status then
      return true
    end
  end
  return false
end

-- The protected content in a body (allowed_xpath for pages, allowed_json for JSON), if the
-- caller said what it looks like.
local function shows_content(r, opts)
  if common.looks_like_html(r) then
    return opts.allowed_xpath ~= nil and common.doc(r):first(opts.allowed_xpath) ~= nil
  end
  if opts.allowed_json then
    local ok, body = pcall(json.decode, r.body or "")
    if not ok or type(body) ~= "table" then
      return false
    end
    -- An error body may lack what allowed_json reads: that is "not the content", not a crash.
    local called, holds = pcall(opts.allowed_json, body)
    return called and holds and true or false
  end
  return false
end

local function classify_page(r, opts, status)
  local doc = common.doc(r)
  local content = opts.content or opts.allowed_xpath
  -- The content on the page beats a refusal beside it (a sign-in box in the layout, a
  -- "not found" block next to the data): the data reached the visitor, so it is no refusal;
  -- nor a clean success, so both allowed() and refused() fail on it.
  local shown = opts.allowed_xpath and doc:first(opts.allowed_xpath)
  local login, why = access.is_login_page(r, opts)
  if login then
    if shown then
      return "unexpected", status .. " with " .. content .. ", beside " .. why
    end
    return "refused", status .. " with " .. why
  end
  if opts.refused_xpath then
    local node = doc:first(opts.refused_xpath)
    if node then
      local said = common.short(type(node) == "string" and node or node.text, 60)
      if shown then
        return "unexpected", status .. " with " .. content .. ", beside \"" .. said .. "\""
      end
      return "refused", status .. ", but the page says \"" .. said .. "\""
    end
  end
  if opts.allowed_xpath and not shown then
    return "unexpected", status .. " without " .. content
  end
  return "allowed", status .. " with " .. (opts.content or "the page")
end

local function classify_json(r, opts, status)
  if opts.allowed_json then
    local ok, body = pcall(json.decode, r.body or "")
    if not ok or not opts.allowed_json(body) then
      return "unexpected", status .. " without " .. (opts.content or "the expected JSON")
    end
  end
  local ct = common.header(r, "content-type") or ""
  return "allowed", status .. " with " .. (opts.content or (ct:find("json") and "a JSON body" or
                                                            "a body"))
end

function access.classify(r, opts)
  opts = opts or {}
  local status = math.tointeger(r.status) or r.status
  if status_in(status, opts.refused_status or DEFAULT_REFUSED_STATUS) then
    if shows_content(r, opts) then
      return "unexpected", tostring(status) .. error_detail(r) .. ", but the body still holds " ..
               (opts.content or "the protected content")
    end
    return "refused", tostring(status) .. error_detail(r)
  end
  if status >= 300 and status < 400 then
    local location = common.header(r, "location")
    if location and is_signin_url(location, opts) then
      return "refused", status .. " to " .. location .. " (a sign-in page)"
    end
    if location and matches_any(common.path_of(location), opts.refused_locations) then
      return "refused", status .. " to " .. location
    end
    return "unexpected", status .. " to " .. (location or "nowhere (no Location header)")
  end
  if status >= 200 and status < 300 then
    if not (r.body or ""):find("%S") then
      return "unexpected", status .. " with an empty body"
    end
    if common.looks_like_html(r) then
      return classify_page(r, opts, status)
    end
    return classify_json(r, opts, status)
  end
  return "unexpected", tostring(status) .. error_detail(r)
end

-- GET through the request's session (its cookies), else the plain client.
local function get(req, follow)
  local ropts = { headers = req.headers, follow = follow }
  if req.session then
    return req.session:get(req.url, ropts)
  end
  return http.get(req.url, ropts)
end

-- Sends a request table. A redirect that is a refusal (to a sign-in page) is kept as the
-- answer; any other redirect is followed.
local function send(req, opts)
  local r = get(req, false)
  if r.status >= 300 and r.status < 400 and access.classify(r, opts) ~= "refused" then
    r = get(req, true)
  end
  return r
end

local function response_of(r_or_request, opts)
  if common.is_response(r_or_request) then
    return r_or_request
  end
  if type(r_or_request) ~= "table" or not r_or_request.url then
    error("access: give a response, or a request table with a url", 3)
  end
  return send(r_or_request, opts)
end

function access.allowed(r_or_request, opts)
  opts = opts or {}
  local r = response_of(r_or_request, opts)
  local kind, desc = access.classify(r, opts)
  local msg = (opts.who or "an authorised user") .. " can open " .. (opts.what or common.path_of(r.url))
  if kind == "allowed" then
    return common.record(true, msg .. " (" .. desc .. ")"), r
  end
  return common.record(false, msg .. " — got " .. desc, desc,
                       "2xx with " .. (opts.content or "the content")), r
end

function access.refused(r_or_request, opts)
  opts = opts or {}
  local r = response_of(r_or_request, opts)
  local kind, desc = access.classify(r, opts)
  local msg = (opts.who or "without a token") .. ", " .. (opts.what or common.path_of(r.url)) ..
                " is refused"
  if kind == "refused" then
    return common.record(true, msg .. " (" .. desc .. ")"), r
  end
  return common.record(false, msg .. " — got " .. desc, desc,
                       "refused: 401/403/404, a redirect to sign in, or a log-in page"), r
end

-- A side given as a table must say who is asking: a token, headers or a session.
local function check_side(spec, name)
  if spec == nil or type(spec) == "string" then
    return
  end
  if type(spec) ~= "table" then
    error("access.boundary: " .. name .. " must be a token string or {token=, headers=, session=}, got " ..
            type(spec), 3)
  end
  if spec.token == nil and spec.headers == nil and spec.session == nil then
    error("access.boundary: " .. name .. " (" .. tostring(spec.who or "no who") .. ") has no token, " ..
            "headers or session; is its secret name right? (secrets.NAME is nil for an undeclared one)", 3)
  end
end

-- One side of the boundary as a request table.
local function side(spec, opts, default_who)
  if type(spec) == "string" then
    spec = { token = spec }
  end
  local headers = {}
  for k, v in pairs(opts.headers or {}) do
    headers[k] = v
  end
  for k, v in pairs(spec.headers or {}) do
    headers[k] = v
  end
  if spec.token then
    headers[opts.token_header or "Authorization"] = (opts.token_prefix or "Token ") .. spec.token
  end
  return { url = opts.url, headers = headers, session = spec.session }, spec.who or default_who
end

local function with_who(opts, who)
  local o = setmetatable({}, { __index = opts })
  o.who = who
  return o
end

function access.boundary(opts)
  if type(opts) ~= "table" or not opts.url then
    error("access.boundary: give at least url (and allowed, outsider)", 2)
  end
  if not opts.allowed then
    error("access.boundary: give allowed (the token or session of someone who may get in)", 2)
  end
  check_side(opts.allowed, "allowed")
  check_side(opts.outsider, "outsider")
  local results = {}
  local req, who = side(opts.allowed, opts, "an authorised user")
  results.allowed = access.allowed(req, with_who(opts, who))
  if opts.anonymous ~= false then
    req, who = side({}, opts, "without a token")
    results.anonymous = access.refused(req, with_who(opts, who))
  end
  if opts.outsider then
    req, who = side(opts.outsider, opts, "with an outsider's token")
    results.outsider = access.refused(req, with_who(opts, who))
  end
  return results
end

return access
