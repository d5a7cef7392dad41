-- Fixture for test_playbook: an authorised user opens a private project.
local r = http.get("/api/v2/projects/" .. params.project .. "/", {
  headers = { Authorization = "Token " .. secrets[params.token] },
})
expect.status(r, 200, "private project opens with a token")
