--[[
  Delete quarantine items by id.

  Input:
    KEYS[1..5]    as in quarantine-put-5.lua
    ARGV[1..]     pairs: id, and the item's time member as the caller read it ('' for any):
                  an item whose time member differs (it failed again since) is kept

  Output:
    how many existed
]]
local rcall = redis.call
local n = 0
for a = 1, #ARGV, 2 do
  local id = ARGV[a]
  local old = rcall("HGET", KEYS[4], id)
  local m = old and cmsgpack.unpack(old)
  if m and (ARGV[a + 1] == "" or ARGV[a + 1] == m[1]) then
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
