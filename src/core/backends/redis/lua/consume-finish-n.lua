--[[
  The last step of consuming jobs of one operation (consume.ts), for every job that reached
  it in the same tick; for each job, atomically: store its entry under the URI and its
  aliases (as cache-set-n.lua), take every pending cbArgs of the pair (as pending-take-2.lua)
  and release our lock (as lock-release-1.lua). One call for many jobs instead of three
  round trips per job.

  Input:
    KEYS[1]       the namespace's cache id index (ZSET)
    KEYS[2]       the namespace's index of pending pairs (SET)
    KEYS[3..]     per job: the pair's pending list, the lock key, then one entry key per
                  stored item (STRING)
    ARGV[1]       now, epoch ms
    ARGV[2..]     per job: pair hash, lock token ('' = we hold none), number of stored items n,
                  then 3 values per item: id, the encoded entry, expiry for PEXPIREAT ('' = none)

  Output:
    { 1 if the cache index was created here (the caller registers the namespace) else 0,
      then per job: the number of cbArgs taken, followed by them in the order they were added }
]]
local rcall = redis.call
local index = KEYS[1]
local now = tonumber(ARGV[1])
local created = 0
if rcall("EXISTS", index) == 0 then
  created = 1
end
local out = { 0 }
local k = 3
local a = 2
while a <= #ARGV do
  local hash = ARGV[a]
  local token = ARGV[a + 1]
  local n = tonumber(ARGV[a + 2])
  local list = KEYS[k]
  local lock = KEYS[k + 1]
  k = k + 2
  a = a + 3
  for _ = 1, n do
    local key = KEYS[k]
    local id = ARGV[a]
    local pxat = ARGV[a + 2]
    if pxat ~= "" and tonumber(pxat) <= now then
      rcall("DEL", key)
      rcall("ZREM", index, id)
    else
      rcall("SET", key, ARGV[a + 1])
      if pxat ~= "" then
        rcall("PEXPIREAT", key, pxat)
      end
      rcall("ZADD", index, 0, id)
    end
    k = k + 1
    a = a + 3
  end
  local taken = rcall("LRANGE", list, 1, -1)
  if rcall("DEL", list) > 0 then
    rcall("SREM", KEYS[2], hash)
  end
  if token ~= "" and rcall("GET", lock) == token then
    rcall("DEL", lock)
  end
  out[#out + 1] = #taken
  for i = 1, #taken do
    out[#out + 1] = taken[i]
  end
end
if created == 1 and rcall("EXISTS", index) == 1 then
  out[1] = 1
end
return out
