--[[
  Keep an operation's newest `count` completed BullMQ jobs: delete the oldest beyond that
  (their job keys, as BullMQ's removeJobKeys does) and their entries in the completed set.
  Called by a consumer every few hundred completions instead of BullMQ trimming by count on
  every completion (a range read and a removal per job); BullMQ still drops jobs by age.

  Input:
    KEYS[1]  the completed set (ZSET, score = finish time)
    KEYS[2]  the job key prefix ("{P:N}:jobs:")
    ARGV[1]  how many to keep
    ARGV[2]  at most this many removed per call (bounds the time one call takes)

  Output: the number of jobs removed
]]
local rcall = redis.call
local excess = rcall("ZCARD", KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then
  return 0
end
if excess > tonumber(ARGV[2]) then
  excess = tonumber(ARGV[2])
end
local ids = rcall("ZRANGE", KEYS[1], 0, excess - 1)
for _, id in ipairs(ids) do
  local key = KEYS[2] .. id
  rcall("DEL", key, key .. ":logs", key .. ":dependencies", key .. ":processed", key .. ":failed", key .. ":unsuccessful")
end
rcall("ZREMRANGEBYRANK", KEYS[1], 0, #ids - 1)
return #ids
