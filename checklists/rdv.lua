--[[ rdv — RDV-Solidarités admin: Devise sign-in with its CSRF token, invitations, and the
territorial access rights of agents.

Why: in June 2022 an RDV-Solidarités release made inviting an agent who already works on
another territory delete their access rights there: multi-territory agents silently lost
rights, and nobody saw it until users complained. Seeing it takes what plain GETs cannot do:
a signed-in session (cookie + CSRF token), a state-changing POST, and reading the rights of
the same agent before and after.

Functions (s: an http.session(), so cookies are kept between requests):
  rdv.csrf(doc_or_r) -> token: the form's authenticity_token, else meta[name=csrf-token]
  rdv.sign_in(s, email, password, opts) -> ok, landing response
      GET /agents/sign_in, POST the form with its token; records that the agent is signed in
      (a redirect away from the sign-in page), naming the reason otherwise: 422 (the CSRF
      token was refused), the form again with its alert ("Email ou mot de passe incorrect.").
      opts.who names the agent in messages; opts.path changes the sign-in path.
  rdv.invite(s, org, email, territory, opts) -> ok, notice
      reads the token from the organisation's invitations screen, POSTs the invitation;
      records that it was accepted (a 302 with a Location, not to a sign-in page: a session
      that expired is sent there) and returns the flash notice of the next page.
  rdv.territory_rights(s, territory) -> { [agent_row_id] = {name=, email=, rights={key...}} }
      the territorial agents screen (/admin/territories/{id}/agents) as data; records that
      it opened. Returns nil when it did not.
  rdv.expect_rights_kept(before, after, agent, what) -> ok
      the agent (row id, e.g. "agent_2") has on `after` every right they had on `before`;
      what: "Marc Multi on Ardèche (07)". Names the lost rights, or a row that disappeared.

Example:
  local rdv = require("rdv")
  local s = http.session()
  if rdv.sign_in(s, vars.rdv_admin_email, secrets.rdv_admin_password, { who = "admin_alice" }) then
    local before = rdv.territory_rights(s, 2)
    rdv.invite(s, 1, "marc.multi@demo.rdv-solidarites.fr", 1)
    rdv.expect_rights_kept(before, rdv.territory_rights(s, 2), "agent_2", "Marc Multi on territory 2")
  end
]]
local common = require("uat.common")

local rdv = {}

function rdv.csrf(doc_or_r)
  local doc = common.doc(doc_or_r)
  local input = doc:first("//input[@name='authenticity_token']")
  if input and input:attr("value") then
    return input:attr("value")
  end
  local meta = doc:first("//meta[@name='csrf-token']")
  return meta and meta:attr("content") or nil
end

local function alert_of(r)
  local node = common.doc(r):first("//div[@id='flash-alert' or @id='error_explanation']")
  return node and common.norm(node.text) or nil
end

-- Why a sign-in POST did not sign in, in words.
local function sign_in_failure(r)
  if r.status == 422 then
    return "422: the CSRF token was refused"
  end
  local location = common.header(r, "location")
  if location then
    return r.status .. " back to " .. location
  end
  local alert = alert_of(r)
  return tostring(r.status) .. (alert and (' with "' .. alert .. '"') or "")
end

function rdv.sign_in(s, email, password, opts)
  opts = opts or {}
  local path = opts.path or "/agents/sign_in"
  local who = opts.who or email
  local form = s:get(path, { follow = false })
  local token = form.status == 200 and rdv.csrf(form)
  if not expect.truthy(token, who .. " gets the sign-in form with its CSRF token (GET " .. path ..
                         " answered " .. form.status .. ")") then
    return false, form
  end
  local r = s:post(path, { follow = false, form = {
    ["agent[email]"] = email, ["agent[password]"] = password, authenticity_token = token } })
  local location = common.header(r, "location")
  local ok = r.status >= 300 and r.status < 400 and location ~= nil and
               common.path_of(location):find(path, 1, true) == nil
  local msg = who .. " signs in to RDV-Solidarités"
  if not ok then
    msg = msg .. " — got " .. sign_in_failure(r)
  end
  if not common.record(ok, msg) then
    return false, r
  end
  return true, s:get(location)
end

function rdv.invite(s, org, email, territory, opts)
  opts = opts or {}
  local screen = "/admin/organisations/" .. org .. "/invitations"
  local page = s:get(screen)
  local token = page.status == 200 and rdv.csrf(page)
  if not expect.truthy(token, "the invitations screen of organisation " .. org ..
                         " opens with its form (" .. page.status .. ")") then
    return false
  end
  local r = s:post(screen, { follow = false,
                             form = { email = email, territory = tostring(territory),
                                      authenticity_token = token } })
  local msg = string.format("%s can invite %s to territory %s", opts.who or "the admin", email,
                            tostring(territory))
  local location = common.header(r, "location")
  local to_sign_in = location and common.path_of(location):gsub("%?.*$", ""):find("/sign_?in") ~= nil
  local ok = r.status == 302 and location ~= nil and not to_sign_in
  if to_sign_in then
    msg = msg .. " — got " .. r.status .. " to " .. location .. ": the session was signed out"
  elseif not ok then
    msg = msg .. " — got " .. tostring(r.status) ..
            (r.status == 302 and " without a Location" or "") ..
            (alert_of(r) and (' with "' .. alert_of(r) .. '"') or "")
  end
  if not common.record(ok, msg) then
    return false
  end
  local next_page = s:get(location)
  local notice = common.doc(next_page):first("//div[@id='flash-notice']")
  return true, notice and common.norm(notice.text) or nil
end

function rdv.territory_rights(s, territory)
  local r = s:get("/admin/territories/" .. territory .. "/agents")
  local table_xpath = "//table[@id='territory-agents']"
  if not expect.xpath(r, table_xpath, "the agents screen of territory " .. territory .. " opens") then
    return nil
  end
  local agents = {}
  for _, row in ipairs(common.doc(r):xpath(table_xpath .. "/tbody/tr")) do
    local rights = {}
    for _, li in ipairs(row:xpath(".//li[@data-right]")) do
      rights[#rights + 1] = li:attr("data-right")
    end
    local name, email = row:first("td[@class='agent-name']"), row:first("td[@class='agent-email']")
    agents[row:attr("id") or ("row " .. #agents + 1)] = {
      name = name and common.norm(name.text) or "?",
      email = email and common.norm(email.text) or "?",
      rights = rights,
    }
  end
  return agents
end

function rdv.expect_rights_kept(before, after, agent, what)
  if not before or not after then
    return common.record(false, what .. " keeps their access rights — the screen did not open")
  end
  local had = before[agent]
  if not had then
    return common.record(false, what .. ": the agent has no access rights to start with (" ..
                           agent .. " is not listed); the check cannot say anything")
  end
  local has = after[agent]
  local msg = string.format("%s keeps their access rights (%s)", what, common.join(had.rights))
  if not has then
    return common.record(false, msg .. " — the agent is no longer listed on the territory's agents screen",
                         "not listed", common.join(had.rights))
  end
  local lost = common.same_set(has.rights, had.rights)
  if #lost > 0 then
    msg = msg .. " — lost " .. common.join(lost)
  end
  return common.record(#lost == 0, msg, common.join(has.rights), common.join(had.rights))
end

return rdv
