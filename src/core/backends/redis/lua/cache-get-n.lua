--[[
  Read cache entries of one namespace (getMany): one call for a whole batch instead of one
  HMGET per entry, answering only what the client needs (two flat values per key: Lua
  string building and nested replies cost more on the server than they save).

  Input:
    KEYS[1..]     entry keys (HASH), in ARGV order
    ARGV[1]       now, epoch ms (unused; the client checks staleUntil)
    ARGV[2..]     the raw ids (an entry whose stored id differs is a hash collision: a miss)

  Output:
    two values per key: the header (field h) and the value JSON (field v), or false, false
    for a miss
]]
local rcall = redis.call
local out = {}
for i = 1, #KEYS do
  local f = rcall("HMGET", KEYS[i], "i", "v", "h")
  if f[2] and f[3] and f[1] == ARGV[i + 1] then
    out[2 * i - 1] = f[3]
    out[2 * i] = f[2]
  else
    out[2 * i - 1] = false
    out[2 * i] = false
  end
end
return out
