--[[
  List live workers (dropping expired ones).

  Input:
    KEYS[1]       expiry index (ZSET, score = alive-until ms)
    KEYS[2]       worker info (HASH, worker id -> JSON)
    ARGV[1]       now, epoch ms

  Output:
    info JSON of every live worker
]]
local rcall = redis.call
local dead = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
for _, id in ipairs(dead) do
  rcall("HDEL", KEYS[2], id)
  rcall("ZREM", KEYS[1], id)
end
local alive = rcall("ZRANGEBYSCORE", KEYS[1], "(" .. ARGV[1], "+inf")
local out = {}
for _, id in ipairs(alive) do
  local info = rcall("HGET", KEYS[2], id)
  if info then
    out[#out + 1] = info
  end
end
return out
