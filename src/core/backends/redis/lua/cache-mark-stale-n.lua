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
  local e = rcall("HMGET", KEYS[i], "v", "e", "s")
  if e[1] and (e[3] == "" or tonumber(e[3]) > now) then
    if e[2] == "" or tonumber(e[2]) > now then
      rcall("HSET", KEYS[i], "e", ARGV[1])
    end
    found = found + 1
  end
end
return found
