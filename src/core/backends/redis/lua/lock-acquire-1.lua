--[[
  Take a lock if nobody holds it. Safe to run twice: a lock already held with our token
  (the first run of a resent call) is ours.

  Input:
    KEYS[1]       the lock key
    ARGV[1]       our token
    ARGV[2]       ttl, ms (integer >= 1)

  Output:
    1 acquired, 0 held by someone else
]]
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return 1
end
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
