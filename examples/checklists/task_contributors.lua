-- A task's comment box lists the people who mapped or validated THAT task (4.6.2 showed
-- the first task's list everywhere). Task 1 alone would not see it: check several.
--
-- params: project, tasks (numbers), token (secret name, to read the contributions API)
local tm = require("tasking_manager")

local contributors = tm.contributors(params.project, secrets[params.token])
for _, task in ipairs(params.tasks) do
  tm.expect_task_contributors(params.project, task, contributors)
end
