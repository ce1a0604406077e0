--[[
  Release the lock `key` if it holds `token` ('' = we hold none). Safe to run twice.
]]
local function releaseLock(key, token)
  if token ~= "" and rcall("GET", key) == token then
    rcall("DEL", key)
  end
end
