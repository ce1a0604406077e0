--[[
  The first step of consuming jobs of one operation (consume.ts), for every job that
  reached it in the same tick: the cached entry if it is fresh, otherwise try the lock for
  the pair once. One call for many jobs instead of a read and a lock attempt per job.

  Input:
    KEYS[1..]     two keys per job: the entry key (STRING, cache.ts encodeEntry), the lock key
    ARGV[1]       now, epoch ms
    ARGV[2]       lock ttl, ms (integer >= 1)
    ARGV[3..]     two values per job: our lock token, '1' to skip the entry (a refresh) or '0'

  Output:
    one value per job: the encoded entry when it is fresh (the client checks its id); else
    1 the lock is ours, 0 someone else holds it
]]
local rcall = redis.call
local now = tonumber(ARGV[1])
local out = {}
for j = 1, #KEYS / 2 do
  local entryKey = KEYS[2 * j - 1]
  local result = nil
  if ARGV[2 * j + 2] ~= "1" then
    local raw = rcall("GET", entryKey)
    if raw then
      -- raw = createdAt "," expiresAt "," ...
      local a = string.find(raw, ",", 1, true)
      local b = a and string.find(raw, ",", a + 1, true)
      if b then
        local e = string.sub(raw, a + 1, b - 1)
        if e == "" or tonumber(e) > now then
          result = raw
        end
      end
    end
  end
  if not result then
    if rcall("SET", KEYS[2 * j], ARGV[2 * j + 1], "NX", "PX", ARGV[2]) then
      result = 1
    else
      result = 0
    end
  end
  out[j] = result
end
return out
