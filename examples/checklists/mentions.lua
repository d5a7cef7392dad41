-- Typing @ in a project's Q&A suggests the people who worked on it (broken in 4.6.2), as the
-- app shows it in a browser.
--
-- params: project, token (secret name), username (the token's user)
local tm = require("tasking_manager")

local contributors = tm.contributors(params.project, secrets[params.token])
local b = tm.browser(secrets[params.token], params.username)
tm.expect_mentions(params.project, contributors, { browser = b })
b:close()
