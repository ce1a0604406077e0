--[[
  Read cache entries of one namespace (getMany): one call for a whole batch instead of one
  HMGET per entry, answering only what the client needs.

  Input:
    KEYS[1..]     entry keys (HASH), in ARGV order
    ARGV[1]       now, epoch ms (entries whose staleUntil is not after it are misses)
    ARGV[2..]     the raw ids (an entry whose stored id differs is a hash collision: a miss)

  Output:
    two values per key: a header and the value JSON, or false, false for a miss.
    header = createdAt "," expiresAt "," staleUntil "," uri part ('' = null), where the
    uri part is '' (no uri stored), '=' (uri equals the id) or '+' followed by the uri.
]]
local rcall = redis.call
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local f = rcall("HMGET", KEYS[i], "i", "v", "c", "e", "s", "u")
  local s = f[5] or ""
  if f[2] and f[1] == ARGV[i + 1] and (s == "" or tonumber(s) > now) then
    local u = f[6]
    local tail = ""
    if u then
      if u == f[1] then
        tail = "="
      else
        tail = "+" .. u
      end
    end
    out[2 * i - 1] = (f[3] or "") .. "," .. (f[4] or "") .. "," .. s .. "," .. tail
    out[2 * i] = f[2]
  else
    out[2 * i - 1] = false
    out[2 * i] = false
  end
end
return out
