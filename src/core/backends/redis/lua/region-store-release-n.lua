--[[
  A region's get-or-create, last step (ports.ts RegionSteps.storeAndRelease), for the calls
  of one tick under one tag (one namespace): store each created entry (when there is one),
  release each lock that is still ours, and tell the change feed about every key in one
  message, so waiters in every process wake (also when nothing was stored: one of them
  takes the lock).

  Input:
    KEYS[1]       the namespace's id index (ZSET)
    KEYS[2..]     2 per call: the lock key, the entry key
    ARGV[1]       now, epoch ms
    ARGV[2]       the change feed's channel
    ARGV[3]       namespace
    ARGV[4..]     4 per call: our token, id, the encoded entry ("" = store nothing),
                  expiry for PEXPIREAT ("" = none)

  Output:
    1 per call: 1 the lock was ours (released), 0 it was not
]]
local rcall = redis.call
--- @include "storeEntry"
--- @include "publishChanges"
local now = tonumber(ARGV[1])
local out = {}
local ids = {}
for i = 1, (#KEYS - 1) / 2 do
  local lock, entry = KEYS[2 * i], KEYS[2 * i + 1]
  local a = 4 + (i - 1) * 4
  local token, id, encoded, pxat = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  if encoded ~= "" then
    storeEntry(KEYS[1], entry, id, encoded, pxat, now)
  end
  out[i] = 0
  if rcall("GET", lock) == token then
    rcall("DEL", lock)
    out[i] = 1
  end
  ids[i] = id
end
publishChanges(ARGV[2], ARGV[3], ids)
return out
