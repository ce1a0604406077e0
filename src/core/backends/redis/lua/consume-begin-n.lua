--[[
  The first step of consuming jobs of one operation (consume.ts), for every job that
  reached it in the same tick: the cached entry if it is fresh, otherwise try the lock for
  the pair once. One call for many jobs instead of a read and a lock attempt per job.

  Keys are built here from the operation's hash tag (as BullMQ's scripts do from their
  prefix), so a job costs three short arguments on the wire; every key has the tag of
  KEYS[1], so all of them are in its cluster slot.

  Input:
    KEYS[1]       the operation's cache index (its tag routes the call)
    ARGV[1]       now, epoch ms
    ARGV[2]       lock ttl, ms (integer >= 1)
    ARGV[3]       the operation's hash tag {P:N}
    ARGV[4..]     three values per job: the pair hash, our lock token, '1' to skip the
                  entry (a refresh) or '0'

  Output:
    one value per job: the encoded entry when it is fresh (the client checks its id); else
    1 the lock is ours, 0 someone else holds it
]]
local rcall = redis.call
--- @include "freshEntry"
local now = tonumber(ARGV[1])
local tag = ARGV[3]
local out = {}
local j = 0
for a = 4, #ARGV, 3 do
  j = j + 1
  local hash = ARGV[a]
  local result = nil
  if ARGV[a + 2] ~= "1" then
    result = freshEntry(tag .. ":c:e:" .. hash, now)
  end
  if not result then
    if rcall("SET", tag .. ":l:" .. hash, ARGV[a + 1], "NX", "PX", ARGV[2]) then
      result = 1
    else
      result = 0
    end
  end
  out[j] = result
end
return out
