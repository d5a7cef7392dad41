-- A page behind log-in, in the browser: a visitor, or someone whose stored session is no
-- longer valid, is sent to the log-in page (the app redirects client-side, keeping where they
-- were going); a signed-in user gets the page.
--
-- params: url, what ("My Tasks"), token (secret name), username, who, content_xpath,
--         login_xpath, invalid_token
local common = require("uat.common")
local tm = require("tasking_manager")

local function expect_sent_to_login(b, who)
  local doc = tm.page(b, params.url)
  local at_login = doc:first(params.login_xpath) ~= nil
  local msg = params.what .. " asks " .. who .. " to log in"
  if not at_login then
    msg = msg .. (doc:first(params.content_xpath) and " — it shows the page instead" or
                    " — it shows neither the page nor the log-in page")
  end
  common.record(at_login, msg, b:url(), "the log-in page")
end

local b = tm.browser(nil)
expect_sent_to_login(b, "a visitor")
tm.sign_in(b, params.invalid_token, params.username)
expect_sent_to_login(b, "someone whose stored token is expired or invalid")
tm.sign_in(b, secrets[params.token], params.username)
local doc = tm.page(b, params.url)
common.record(doc:first(params.content_xpath) ~= nil,
              params.what .. " opens for " .. params.who, b:url(), params.url)
b:close()
