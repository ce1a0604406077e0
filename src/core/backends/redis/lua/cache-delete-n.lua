--[[
  Delete cache entries of one namespace and drop their ids from the index, and tell the
  change feed every id asked for (one PUBLISH): a process may hold a copy of an entry this
  store lost already (evicted), which the delete must reach too.

  Input:
    KEYS[1]       the namespace's id index (ZSET)
    KEYS[2..]     entry keys, in order of the ids
    ARGV[1]       the change feed's channel (keys.ts changes)
    ARGV[2]       the namespace (for the feed's message)
    ARGV[3..]     the raw ids

  Output:
    how many entries existed
]]
local rcall = redis.call
--- @include "publishChanges"
local existed = 0
local ids = {}
for i = 2, #KEYS do
  existed = existed + rcall("DEL", KEYS[i])
  rcall("ZREM", KEYS[1], ARGV[i + 1])
  ids[i - 1] = ARGV[i + 1]
end
publishChanges(ARGV[1], ARGV[2], ids)
return existed
