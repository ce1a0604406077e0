--[[
  The step that ends a computation (WorkerSteps.finish), for every job of one operation
  that reached it in the same tick; for each job, atomically: store its entry under the
  URI and its aliases (as cache-set-n.lua); unless the job has a delivery record, move the
  pair's pending cbArgs into a new one (RENAME of the pending list, see newRecord); release
  our lock; return the record. The ids stored by the call go to the change feed in one
  PUBLISH.

  Safe to run twice: the second run stores the same entries again and finds the record
  the first one made, so it returns the same record (same delivery id, same cbArgs).

  Input:
    KEYS[1]       the operation's cache id index (ZSET)
    KEYS[2]       how many pairs of the operation have pending requests (STRING integer)
    ARGV[1]       now, epoch ms
    ARGV[2]       the operation's hash tag {P:N}
    ARGV[3]       leak guard of a new record, ms
    ARGV[4]       the change feed's channel (keys.ts changes)
    ARGV[5]       the operation (for the feed's message)
    ARGV[6..]     per job: pair hash, job id hash, lock token ('' = we hold none), header
                  JSON of a new record, number of stored items n, then 4 values per item:
                  its hash, its id, the encoded entry, expiry for PEXPIREAT ('' = none)

  Output:
    { 1 if the cache index was created here (the caller registers the namespace) else 0,
      then per job: the record's length n and its n elements (header, encoded cbArgs) }
]]
local rcall = redis.call
--- @include "storeEntry"
--- @include "newRecord"
--- @include "releaseLock"
--- @include "pushRecord"
--- @include "publishChanges"
local index = KEYS[1]
local now = tonumber(ARGV[1])
local tag = ARGV[2]
local guard = ARGV[3]
local created = 0
if rcall("EXISTS", index) == 0 then
  created = 1
end
local out = { 0 }
local taken = 0
local ids = {}
local a = 6
while a <= #ARGV do
  local hash = ARGV[a]
  local record = tag .. ":p:d:" .. ARGV[a + 1]
  local token = ARGV[a + 2]
  local header = ARGV[a + 3]
  local n = tonumber(ARGV[a + 4])
  a = a + 5
  for _ = 1, n do
    storeEntry(index, tag .. ":c:e:" .. ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], now)
    ids[#ids + 1] = ARGV[a + 1]
    a = a + 4
  end
  if rcall("EXISTS", record) == 0 then
    taken = taken + newRecord(tag .. ":p:l:" .. hash, record, header, guard)
  end
  releaseLock(tag .. ":l:" .. hash, token)
  pushRecord(out, record)
end
publishChanges(ARGV[4], ARGV[5], ids)
if taken > 0 then
  rcall("DECRBY", KEYS[2], taken)
end
if created == 1 and rcall("EXISTS", index) == 1 then
  out[1] = 1
end
return out
