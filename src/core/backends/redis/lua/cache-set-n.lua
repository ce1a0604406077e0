--[[
  Store cache entries of one namespace and index their ids (setMany for one namespace).

  Input:
    KEYS[1]       the namespace's id index (ZSET, score 0, member = raw id)
    KEYS[2..]     one entry key (HASH) per item, in ARGV order
    ARGV[1]       now, epoch ms (entries whose expiry is not after it are deleted instead)
    ARGV[2..]     4 values per item:
                    id, value JSON, header (see keys.ts), expiry for PEXPIREAT ('' = none; integer ms)

  Output:
    number of entries stored
]]
local rcall = redis.call
local index = KEYS[1]
local now = tonumber(ARGV[1])
local stored = 0
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 4
  local key = KEYS[i]
  local id = ARGV[a]
  local pxat = ARGV[a + 3]
  rcall("DEL", key)
  if pxat ~= "" and tonumber(pxat) <= now then
    rcall("ZREM", index, id)
  else
    rcall("HSET", key, "i", id, "v", ARGV[a + 1], "h", ARGV[a + 2])
    if pxat ~= "" then
      rcall("PEXPIREAT", key, pxat)
    end
    rcall("ZADD", index, 0, id)
    stored = stored + 1
  end
end
return stored
