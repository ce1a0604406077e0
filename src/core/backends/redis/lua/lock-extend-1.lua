--[[
  Extend a lock we hold.

  Input:
    KEYS[1]       the lock key
    ARGV[1]       our token
    ARGV[2]       new ttl from now, ms (integer >= 1)

  Output:
    1 extended, 0 no longer ours (expired, maybe taken by another holder)
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
