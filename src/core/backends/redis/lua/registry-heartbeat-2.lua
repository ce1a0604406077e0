--[[
  Register or refresh a worker, and drop workers whose heartbeat expired.

  Input:
    KEYS[1]       expiry index (ZSET, score = alive-until ms, member = worker id)
    KEYS[2]       worker info (HASH, worker id -> JSON)
    ARGV[1]       worker id
    ARGV[2]       info JSON
    ARGV[3]       alive until, epoch ms
    ARGV[4]       now, epoch ms

  Output:
    1
]]
local rcall = redis.call
local dead = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[4], "LIMIT", 0, 1000)
for _, id in ipairs(dead) do
  rcall("HDEL", KEYS[2], id)
  rcall("ZREM", KEYS[1], id)
end
rcall("ZADD", KEYS[1], ARGV[3], ARGV[1])
rcall("HSET", KEYS[2], ARGV[1], ARGV[2])
return 1
