--[[
  Release a lock we hold.

  Input:
    KEYS[1]       the lock key
    ARGV[1]       our token

  Output:
    1 released, 0 no longer ours
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
