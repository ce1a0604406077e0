--[[
  Take every pending cbArgs of a pair (PendingSet.takeAll), in a way that is safe to run
  twice: the pair's list is renamed to a key named by the caller (unique per take), which
  then answers any number of times until the caller deletes it.

  Input:
    KEYS[1]       the pair's pending list (job id, then encoded cbArgs)
    KEYS[2]       how many pairs of the operation have pending requests (STRING integer)
    KEYS[3]       where the taken list goes (unique per take; deleted by the caller)
    ARGV[1]       leak guard for KEYS[3], ms (a caller that dies before deleting it)

  Output:
    the encoded cbArgs, in the order they were added
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[3]) == 0 and rcall("EXISTS", KEYS[1]) == 1 then
  rcall("RENAME", KEYS[1], KEYS[3])
  rcall("PEXPIRE", KEYS[3], ARGV[1])
  rcall("DECR", KEYS[2])
end
return rcall("LRANGE", KEYS[3], 1, -1)
