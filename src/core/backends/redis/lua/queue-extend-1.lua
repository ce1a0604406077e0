--[[
  Renew the locks (leases) of the jobs a consumer is running on one operation's BullMQ
  queue, and take them off the stalled set (as BullMQ's extendLocks). A lock that is gone
  or holds another token is not renewed: that job's lease is lost.

  Input:
    KEYS[1] the stalled set
    ARGV[1] job key prefix ("{P:N}:jobs:"), ARGV[2] lease (ms)
    ARGV[3..] pairs: job id, token

  Output: the ids whose lease was lost
]]
local rcall = redis.call
local lost = {}
for a = 3, #ARGV, 2 do
  local id = ARGV[a]
  local lockKey = ARGV[1] .. id .. ":lock"
  if rcall("GET", lockKey) == ARGV[a + 1] then
    rcall("SET", lockKey, ARGV[a + 1], "PX", ARGV[2])
    rcall("SREM", KEYS[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
