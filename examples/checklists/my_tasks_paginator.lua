-- My Tasks shows a paginator that leads to every page (Tasking Manager 4.6.2 shipped without
-- it). The number of pages comes from the API, and every page button is followed in the
-- browser: it must open that page, with tasks of its own.
--
-- params: users, a list of { id, name, token (secret name) }; container (XPath)
local pagination = require("pagination")
local tm = require("tasking_manager")

for _, u in ipairs(params.users) do
  local auth = { Authorization = "Token " .. secrets[u.token] }
  local api = http.get("/api/v2/users/" .. u.id .. "/tasks/", { headers = auth })
  if expect.status(api, 200, "the API gives " .. u.name .. "'s tasks") then
    local p = api:json().pagination
    local b = tm.browser(secrets[u.token], u.name)
    pagination.html_links(tm.page(b, "/contributions/tasks"), {
      what = u.name .. "'s My Tasks (" .. p.total .. " tasks)",
      pages = p.pages,
      container = params.container,
      fetch = function(url) return tm.page(b, url) end,
      page_items = "//ul[@id='my-tasks']/li",
      item_key = function(li) return li:attr("data-project-id") .. "/" .. li:attr("data-task-id") end,
      page_number = "//span[@id='my-tasks-page-number']",
    })
    b:close()
  end
end
