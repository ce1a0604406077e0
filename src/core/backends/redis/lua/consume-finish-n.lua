--[[
  The last step of consuming jobs of one operation (consume.ts), for every job that reached
  it in the same tick; for each job, atomically: store its entry under the URI and its
  aliases (as cache-set-n.lua), take every pending cbArgs of the pair (as pending-take-2.lua)
  and release our lock (as lock-release-1.lua). One call for many jobs instead of three
  round trips per job. Keys are built from the operation's hash tag (see consume-begin-n.lua).

  Input:
    KEYS[1]       the operation's cache id index (ZSET)
    KEYS[2]       how many pairs of the operation have pending requests (STRING integer)
    ARGV[1]       now, epoch ms
    ARGV[2]       the operation's hash tag {P:N}
    ARGV[3..]     per job: pair hash, lock token ('' = we hold none), number of stored items n,
                  then 4 values per item: its hash, its id, the encoded entry, expiry for
                  PEXPIREAT ('' = none)

  Output:
    { 1 if the cache index was created here (the caller registers the namespace) else 0,
      then per job: the number of cbArgs taken, followed by them in the order they were added }
]]
local rcall = redis.call
local index = KEYS[1]
local now = tonumber(ARGV[1])
local tag = ARGV[2]
local created = 0
if rcall("EXISTS", index) == 0 then
  created = 1
end
local out = { 0 }
local taken = 0
local a = 3
while a <= #ARGV do
  local hash = ARGV[a]
  local token = ARGV[a + 1]
  local n = tonumber(ARGV[a + 2])
  a = a + 3
  for _ = 1, n do
    local key = tag .. ":c:e:" .. ARGV[a]
    local id = ARGV[a + 1]
    local pxat = ARGV[a + 3]
    if pxat ~= "" and tonumber(pxat) <= now then
      rcall("DEL", key)
      rcall("ZREM", index, id)
    else
      rcall("SET", key, ARGV[a + 2])
      if pxat ~= "" then
        rcall("PEXPIREAT", key, pxat)
      end
      rcall("ZADD", index, 0, id)
    end
    a = a + 4
  end
  local list = tag .. ":p:l:" .. hash
  local args = rcall("LRANGE", list, 1, -1)
  taken = taken + rcall("DEL", list)
  if token ~= "" then
    local lock = tag .. ":l:" .. hash
    if rcall("GET", lock) == token then
      rcall("DEL", lock)
    end
  end
  out[#out + 1] = #args
  for i = 1, #args do
    out[#out + 1] = args[i]
  end
end
if taken > 0 then
  rcall("DECRBY", KEYS[2], taken)
end
if created == 1 and rcall("EXISTS", index) == 1 then
  out[1] = 1
end
return out
