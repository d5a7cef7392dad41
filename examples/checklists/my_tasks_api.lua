-- The API behind My Tasks pages consistently: every page agrees on the totals, says its
-- neighbours, holds the right number of tasks, and no task shows on two pages.
--
-- params: users, a list of { id, name, token (secret name) }
local pagination = require("pagination")

for _, u in ipairs(params.users) do
  local auth = { Authorization = "Token " .. secrets[u.token] }
  pagination.json_consistent(function(page)
    return http.get("/api/v2/users/" .. u.id .. "/tasks/?page=" .. page, { headers = auth })
  end, {
    what = u.name .. "'s tasks (API)",
    items = "tasks",
    item_key = function(t) return t.projectId .. "/" .. t.taskId end,
  })
end
