--[[
  Store cache entries of one namespace and index their ids (setMany for one namespace).

  Input:
    KEYS[1]       the namespace's id index (ZSET, score 0, member = raw id)
    KEYS[2..]     one entry key (STRING) per item, in ARGV order
    ARGV[1]       now, epoch ms (entries whose expiry is not after it are deleted instead)
    ARGV[2..]     3 values per item:
                    id, the encoded entry (cache.ts encodeEntry), expiry for PEXPIREAT ('' = none; integer ms)

  Output:
    number of entries stored
]]
local rcall = redis.call
--- @include "storeEntry"
local index = KEYS[1]
local now = tonumber(ARGV[1])
local stored = 0
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 3
  stored = stored + storeEntry(index, KEYS[i], ARGV[a], ARGV[a + 1], ARGV[a + 2], now)
end
return stored
