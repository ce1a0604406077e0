--[[
  Unregister a worker.

  Input:
    KEYS[1]       expiry index (ZSET)
    KEYS[2]       worker info (HASH)
    ARGV[1]       worker id

  Output:
    1 when it was registered, 0 otherwise
]]
redis.call("ZREM", KEYS[1], ARGV[1])
return redis.call("HDEL", KEYS[2], ARGV[1])
