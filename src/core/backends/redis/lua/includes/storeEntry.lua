--[[
  Store one encoded cache entry under `key` and index its id in the namespace's ZSET, or,
  when its expiry `pxat` (epoch ms, '' = none) is not after `now`, delete it and its index
  entry. Returns 1 when stored, 0 when deleted.
]]
local function storeEntry(index, key, id, encoded, pxat, now)
  if pxat ~= "" and tonumber(pxat) <= now then
    rcall("DEL", key)
    rcall("ZREM", index, id)
    return 0
  end
  rcall("SET", key, encoded)
  if pxat ~= "" then
    rcall("PEXPIREAT", key, pxat) -- not SET PXAT: that needs Redis 6.2
  end
  rcall("ZADD", index, 0, id)
  return 1
end
