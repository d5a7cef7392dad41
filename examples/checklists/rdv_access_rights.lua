-- Inviting an agent who already works on another territory keeps their rights there
-- (June 2022: multi-territory agents silently lost them). This check changes data on
-- staging: it invites the agent, then compares their rights before and after.
--
-- params: email, password (secret name), who, org, agent { email, row, name },
--         invite_territory, kept_territories (list of { id, name }), reset (optional path
--         POSTed before and after, to start from and leave the staging's initial data)
local rdv = require("rdv")

local function reset(when)
  if params.reset then
    expect.status(http.post(params.reset), 200, "the staging data is reset " .. when ..
                    " (POST " .. params.reset .. ")")
  end
end

reset("before the check")
local s = http.session()
if rdv.sign_in(s, params.email, secrets[params.password], { who = params.who }) then
  local before = {}
  for _, t in ipairs(params.kept_territories) do
    before[t.id] = rdv.territory_rights(s, t.id)
  end
  local invited, notice = rdv.invite(s, params.org, params.agent.email, params.invite_territory,
                                     { who = params.who })
  if invited then
    expect.match(notice or "", params.agent.name, "the confirmation names " .. params.agent.name)
    for _, t in ipairs(params.kept_territories) do
      rdv.expect_rights_kept(before[t.id], rdv.territory_rights(s, t.id), params.agent.row,
                             string.format("after the invitation to territory %d, %s on %s",
                                           params.invite_territory, params.agent.name, t.name))
    end
  end
end
reset("after the check")
