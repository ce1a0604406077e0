--[[
  Keep an operation's completed BullMQ jobs within bounds: delete those finished before a
  cutoff time and the oldest beyond a count (their job keys, as BullMQ's removeJobKeys does)
  and their entries in the completed set. A consumer calls it every few hundred completions
  (and at least once a minute while it completes jobs), instead of a trim per completion.

  Input:
    KEYS[1]  the completed set (ZSET, score = finish time)
    KEYS[2]  the job key prefix ("{P:N}:jobs:")
    ARGV[1]  how many to keep ("" for no bound)
    ARGV[2]  at most this many removed per call (bounds the time one call takes)
    ARGV[3]  remove those finished at or before this time, epoch ms ("" for no bound)

  Output: the number of jobs removed
]]
local rcall = redis.call
local budget = tonumber(ARGV[2])
local removed = 0

local function drop(ids)
  for _, id in ipairs(ids) do
    local key = KEYS[2] .. id
    rcall("DEL", key, key .. ":logs", key .. ":dependencies", key .. ":processed", key .. ":failed", key .. ":unsuccessful")
  end
  removed = removed + #ids
end

if ARGV[3] ~= "" then
  local old = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[3], "LIMIT", 0, budget)
  if #old > 0 then
    drop(old)
    rcall("ZREMRANGEBYRANK", KEYS[1], 0, #old - 1)
  end
end

if ARGV[1] ~= "" and removed < budget then
  local excess = math.min(rcall("ZCARD", KEYS[1]) - tonumber(ARGV[1]), budget - removed)
  if excess > 0 then
    drop(rcall("ZRANGE", KEYS[1], 0, excess - 1))
    rcall("ZREMRANGEBYRANK", KEYS[1], 0, excess - 1)
  end
end
return removed
