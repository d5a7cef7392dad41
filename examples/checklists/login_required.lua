-- A page behind log-in: a visitor without a valid token is sent to sign in (a 302 to the
-- log-in page, or the log-in page itself once the redirect is followed), and a logged-in
-- user gets the page. Soft refusals count as refusals: that is what the user sees.
--
-- params: url, what ("My Tasks"), token (secret name), who, content_xpath, invalid_token
local access = require("access")

local opts = { what = params.what, content = params.what, allowed_xpath = params.content_xpath }

local function as(who)
  return setmetatable({ who = who }, { __index = opts })
end

access.refused({ url = params.url }, as("without logging in"))
access.refused(http.get(params.url), as("without logging in, once the redirect is followed"))
access.refused({ url = params.url, headers = { Authorization = "Token " .. params.invalid_token } },
               as("with an expired or invalid token"))
access.allowed({ url = params.url, headers = { Authorization = "Token " .. secrets[params.token] } },
               as(params.who))
