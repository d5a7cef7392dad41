-- The agent-management screens answer: an organisation admin opens them, a visitor who is
-- not signed in is sent to the sign-in page.
--
-- params: email, password (secret name), who, screens (list of { path, what, content })
local access = require("access")
local rdv = require("rdv")

local s = http.session()
local signed_in = rdv.sign_in(s, params.email, secrets[params.password], { who = params.who })
for _, screen in ipairs(params.screens) do
  local opts = { what = screen.what, allowed_xpath = screen.content, content = screen.what }
  access.refused({ url = screen.path },
                 setmetatable({ who = "without signing in" }, { __index = opts }))
  if signed_in then
    access.allowed({ url = screen.path, session = s },
                   setmetatable({ who = params.who }, { __index = opts }))
  end
end
