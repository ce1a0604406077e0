--[[
  Store cache entries of one namespace and index their ids (setMany for one namespace),
  and tell the change feed (one PUBLISH for the call).

  Input:
    KEYS[1]       the namespace's id index (ZSET, score 0, member = raw id)
    KEYS[2..]     one entry key (STRING) per item, in ARGV order
    ARGV[1]       now, epoch ms (entries whose expiry is not after it are deleted instead)
    ARGV[2]       the change feed's channel (keys.ts changes)
    ARGV[3]       the namespace (for the feed's message)
    ARGV[4..]     3 values per item:
                    id, the encoded entry (cache.ts encodeEntry), expiry for PEXPIREAT ('' = none; integer ms)

  Output:
    number of entries stored
]]
local rcall = redis.call
--- @include "storeEntry"
--- @include "publishChanges"
local index = KEYS[1]
local now = tonumber(ARGV[1])
local stored = 0
local ids = {}
for i = 2, #KEYS do
  local a = 4 + (i - 2) * 3
  stored = stored + storeEntry(index, KEYS[i], ARGV[a], ARGV[a + 1], ARGV[a + 2], now)
  ids[i - 1] = ARGV[a]
end
publishChanges(ARGV[2], ARGV[3], ids)
return stored
