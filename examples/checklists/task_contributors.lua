-- A task's comment box lists the people who mapped or validated THAT task (4.6.2 showed
-- the first task's list everywhere). Task 1 alone would not see it: check several, in one
-- browser session moving from task to task, as a mapper does.
--
-- params: project, tasks (numbers), token (secret name), username (the token's user)
local tm = require("tasking_manager")

local contributors = tm.contributors(params.project, secrets[params.token])
local b = tm.browser(secrets[params.token], params.username)
for _, task in ipairs(params.tasks) do
  tm.expect_task_contributors(params.project, task, contributors, { browser = b })
end
b:close()
