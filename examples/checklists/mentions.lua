-- Typing @ in a project's Q&A suggests the people who worked on it (broken in 4.6.2).
--
-- params: project, token (secret name, to read the contributions API)
local tm = require("tasking_manager")

local contributors = tm.contributors(params.project, secrets[params.token])
tm.expect_mentions(params.project, contributors)
