-- Mapper level labels on profiles follow the changeset thresholds (Tasking Manager 4.6.2
-- showed levels computed from the wrong number). Users on each side of each threshold.
--
-- params: users (usernames), token (secret name, to read the API)
local tm = require("tasking_manager")

for _, username in ipairs(params.users) do
  tm.expect_mapper_level(username, { token = secrets[params.token] })
end
