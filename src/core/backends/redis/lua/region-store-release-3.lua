--[[
  A region's get-or-create, last step (ports.ts RegionSteps.storeAndRelease): store the
  created entry (when there is one), release the lock if it is still ours, and tell the
  change feed about the key, so waiters in every process wake (also when nothing was stored:
  one of them takes the lock).

  Input:
    KEYS[1]       the lock key
    KEYS[2]       the namespace's id index (ZSET)
    KEYS[3]       the entry key
    ARGV[1]       our token
    ARGV[2]       now, epoch ms
    ARGV[3]       the change feed's channel
    ARGV[4]       namespace
    ARGV[5]       id
    ARGV[6]       the encoded entry ("" = store nothing)
    ARGV[7]       expiry for PEXPIREAT ("" = none)

  Output:
    1 the lock was ours (released), 0 it was not
]]
local rcall = redis.call
--- @include "storeEntry"
--- @include "publishChanges"
if ARGV[6] ~= "" then
  storeEntry(KEYS[2], KEYS[3], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[2]))
end
local ours = 0
if rcall("GET", KEYS[1]) == ARGV[1] then
  rcall("DEL", KEYS[1])
  ours = 1
end
publishChanges(ARGV[3], ARGV[4], { ARGV[5] })
return ours
