--[[
  Delete quarantine items by id.

  Input:
    KEYS[1..5]    as in quarantine-put-5.lua
    ARGV[1..]     ids

  Output:
    how many existed
]]
local rcall = redis.call
local n = 0
for _, id in ipairs(ARGV) do
  local old = rcall("HGET", KEYS[4], id)
  if old then
    local m = cmsgpack.unpack(old)
    rcall("ZREM", KEYS[2], m[1])
    rcall("ZREM", KEYS[3], m[2])
    if rcall("HINCRBY", KEYS[5], m[3], -1) <= 0 then
      rcall("HDEL", KEYS[5], m[3])
    end
    rcall("HDEL", KEYS[1], id)
    rcall("HDEL", KEYS[4], id)
    n = n + 1
  end
end
return n
