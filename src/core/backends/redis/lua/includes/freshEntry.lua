--[[
  The encoded cache entry under `key` if it is fresh at `now` (epoch ms), else nil. An
  entry is "createdAt,expiresAt,…" (cache.ts encodeEntry); an empty expiresAt never
  expires. pcall: an entry of an older layout (a HASH) is a miss, not an error.
]]
local function freshEntry(key, now)
  local raw = redis.pcall("GET", key)
  if type(raw) ~= "string" then
    return nil
  end
  local c = string.find(raw, ",", 1, true)
  local d = c and string.find(raw, ",", c + 1, true)
  if not d then
    return nil
  end
  local e = string.sub(raw, c + 1, d - 1)
  if e == "" or tonumber(e) > now then
    return raw
  end
  return nil
end
