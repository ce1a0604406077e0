--[[
  Move stalled jobs of one operation's BullMQ queue back to wait (as BullMQ's
  moveStalledJobsToWait, without its repeatable jobs or stall limit: backache never fails a
  job for stalling). At most once per check period whoever calls first does the check:
    - every job marked at the previous check that is still active and has no lock (its
      worker died or stopped renewing) is pushed back to the front of wait (or paused),
      with its stall count + 1 and a 'stalled' event;
    - then every active job is marked; renewing a lock clears the mark.
  So a job whose lease ran out is taken again within the lease plus two check periods.

  Input:
    KEYS[1] stalled (SET), KEYS[2] wait, KEYS[3] active, KEYS[4] stalled-check,
    KEYS[5] meta, KEYS[6] paused, KEYS[7] marker, KEYS[8] events
    ARGV[1] job key prefix ("{P:N}:jobs:"), ARGV[2] now (ms), ARGV[3] check period (ms)

  Output: the ids moved back
]]
local rcall = redis.call
if rcall("SET", KEYS[4], ARGV[2], "PX", ARGV[3], "NX") == false then
  return {}
end
local moved = {}
local marked = rcall("SMEMBERS", KEYS[1])
if #marked > 0 then
  rcall("DEL", KEYS[1])
  local paused = rcall("HEXISTS", KEYS[5], "paused") == 1
  local target = paused and KEYS[6] or KEYS[2]
  for _, id in ipairs(marked) do
    local jobKey = ARGV[1] .. id
    if rcall("EXISTS", jobKey .. ":lock") == 0 and rcall("LREM", KEYS[3], 1, id) > 0 then
      rcall("HINCRBY", jobKey, "stc", 1)
      rcall("RPUSH", target, id)
      rcall("XADD", KEYS[8], "*", "event", "waiting", "jobId", id, "prev", "active")
      rcall("XADD", KEYS[8], "*", "event", "stalled", "jobId", id)
      moved[#moved + 1] = id
    end
  end
  if #moved > 0 and not paused then
    rcall("ZADD", KEYS[7], 0, "0")
  end
end
local active = rcall("LRANGE", KEYS[3], 0, -1)
for i = 1, #active, 5000 do
  rcall("SADD", KEYS[1], unpack(active, i, math.min(i + 4999, #active)))
end
return moved
