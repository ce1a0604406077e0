--[[
  Insert or replace a quarantine item, keeping its indexes and per-operation count exact.

  Input:
    KEYS[1]       items (HASH, id -> item JSON)
    KEYS[2]       time index (ZSET, score 0, member = <lastFailedAt padded>|<id>)
    KEYS[3]       per-operation index (ZSET, score 0, member = <op hash>|<lastFailedAt padded>|<id>)
    KEYS[4]       index members of each item (HASH, id -> msgpack {time member, op member, op})
    KEYS[5]       items per operation (HASH, op -> count)
    ARGV[1]       id
    ARGV[2]       item JSON
    ARGV[3]       time member
    ARGV[4]       op member
    ARGV[5]       op

  Output:
    1 inserted, 0 replaced
]]
local rcall = redis.call
local id = ARGV[1]
local inserted = 1
local old = rcall("HGET", KEYS[4], id)
if old then
  local m = cmsgpack.unpack(old)
  rcall("ZREM", KEYS[2], m[1])
  rcall("ZREM", KEYS[3], m[2])
  if rcall("HINCRBY", KEYS[5], m[3], -1) <= 0 then
    rcall("HDEL", KEYS[5], m[3])
  end
  inserted = 0
end
rcall("HSET", KEYS[1], id, ARGV[2])
rcall("ZADD", KEYS[2], 0, ARGV[3])
rcall("ZADD", KEYS[3], 0, ARGV[4])
rcall("HSET", KEYS[4], id, cmsgpack.pack({ ARGV[3], ARGV[4], ARGV[5] }))
rcall("HINCRBY", KEYS[5], ARGV[5], 1)
return inserted
