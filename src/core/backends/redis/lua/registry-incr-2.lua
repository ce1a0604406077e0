--[[
  Add to an operation's cumulative counters once per batch: safe to run twice (ioredis
  resends a command whose reply was lost), since the batch id is remembered for a while.

  Input:
    KEYS[1]       the operation's counters (HASH, name -> count)
    KEYS[2]       this batch's marker (STRING, unique per batch and operation)
    ARGV[1]       how long the marker is kept, ms
    ARGV[2..]     pairs of counter name, delta

  Output:
    1 added, 0 this batch was added before
]]
local rcall = redis.call
if not rcall("SET", KEYS[2], "1", "NX", "PX", ARGV[1]) then
  return 0
end
for i = 2, #ARGV, 2 do
  rcall("HINCRBY", KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
