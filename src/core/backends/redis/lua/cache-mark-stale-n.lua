--[[
  Soft invalidation: end the fresh lifetime of live entries (expiresAt = min(expiresAt, now)),
  keeping their values and their expiry; tell the change feed every id asked for (one
  PUBLISH, as cache-delete-n.lua).

  Input:
    KEYS[1..]     entry keys (STRING, cache.ts encodeEntry) of one namespace
    ARGV[1]       now, epoch ms
    ARGV[2]       the change feed's channel (keys.ts changes)
    ARGV[3]       the namespace (for the feed's message)
    ARGV[4..]     the raw ids, in KEYS order

  Output:
    how many live entries were found
]]
local rcall = redis.call
--- @include "publishChanges"
local now = tonumber(ARGV[1])
local found = 0
for i = 1, #KEYS do
  local raw = redis.pcall("GET", KEYS[i]) -- an entry of an older layout (a HASH) is skipped
  if type(raw) ~= "string" then
    raw = nil
  end
  -- raw = createdAt "," expiresAt "," staleUntil "," ...
  local a = raw and string.find(raw, ",", 1, true)
  local b = a and string.find(raw, ",", a + 1, true)
  local c = b and string.find(raw, ",", b + 1, true)
  if c then
    local e = string.sub(raw, a + 1, b - 1)
    local s = string.sub(raw, b + 1, c - 1)
    if s == "" or tonumber(s) > now then
      if e == "" or tonumber(e) > now then
        local ttl = rcall("PTTL", KEYS[i])
        local updated = string.sub(raw, 1, a) .. ARGV[1] .. string.sub(raw, b)
        if ttl > 0 then
          rcall("SET", KEYS[i], updated, "PX", ttl)
        else
          rcall("SET", KEYS[i], updated)
        end
      end
      found = found + 1
    end
  end
end
local ids = {}
for i = 4, #ARGV do
  ids[i - 3] = ARGV[i]
end
publishChanges(ARGV[2], ARGV[3], ids)
return found
