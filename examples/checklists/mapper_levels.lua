-- Mapper level labels on profiles follow the changeset thresholds (Tasking Manager 4.6.2
-- showed levels computed from the wrong number). Users on each side of each threshold; the
-- profiles as the app renders them in a browser signed in as the token's user.
--
-- params: users (usernames), token (secret name), username (the token's user)
local tm = require("tasking_manager")

local b = tm.browser(secrets[params.token], params.username)
for _, username in ipairs(params.users) do
  tm.expect_mapper_level(username, { token = secrets[params.token], browser = b })
end
b:close()
