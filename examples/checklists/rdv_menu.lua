-- The RDV-Solidarités settings menu holds the entries support's help pages point to
-- (June 2022: "Vos agents" and "Vos invitations" vanished from it). Checked on the pages an
-- organisation admin lands on.
--
-- params: email, password (secret name), who, pages (paths), menu (XPath), entries
local menu = require("menu")
local rdv = require("rdv")

local s = http.session()
if rdv.sign_in(s, params.email, secrets[params.password], { who = params.who }) then
  for _, path in ipairs(params.pages) do
    local r = s:get(path)
    expect.status(r, 200, params.who .. " opens " .. path)
    menu.has_entries(r, params.menu, params.entries, { name = "the settings menu on " .. path })
  end
end
