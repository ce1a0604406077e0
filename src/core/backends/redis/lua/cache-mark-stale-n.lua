--[[
  Soft invalidation: end the fresh lifetime of live entries (expiresAt = min(expiresAt, now)),
  keeping their values.

  Input:
    KEYS[1..]     entry keys (HASH) of one namespace
    ARGV[1]       now, epoch ms

  Output:
    how many live entries were found
]]
local rcall = redis.call
local now = tonumber(ARGV[1])
local found = 0
for i = 1, #KEYS do
  local h = rcall("HGET", KEYS[i], "h")
  if h then
    -- header = createdAt "," expiresAt "," staleUntil "," uri part ('' = null)
    local a = string.find(h, ",", 1, true)
    local b = string.find(h, ",", a + 1, true)
    local c = string.find(h, ",", b + 1, true)
    local e = string.sub(h, a + 1, b - 1)
    local s = string.sub(h, b + 1, c - 1)
    if s == "" or tonumber(s) > now then
      if e == "" or tonumber(e) > now then
        rcall("HSET", KEYS[i], "h", string.sub(h, 1, a) .. ARGV[1] .. string.sub(h, b))
      end
      found = found + 1
    end
  end
end
return found
