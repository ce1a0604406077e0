--[[
  A region's get-or-create, step one (ports.ts RegionSteps.lockOrRead), for the calls of one
  tick under one tag: for each, the entry when it is fresh, else the lock tried once. Safe to
  run twice: a lock already held with our token (the first run of a resent call) is ours.

  Input:
    KEYS          2 per call: the lock key, the entry key (cache.ts encodeEntry:
                  "createdAt,expiresAt,staleUntil,...")
    ARGV[1]       now, epoch ms
    ARGV[2..]     3 per call: our token, lock ttl (ms, integer >= 1), fresh only if created
                  after this (epoch ms; "" = no bound)

  Output:
    2 per call: 1 | 0 (lock taken or not), the encoded entry or false; a fresh entry comes with 0
]]
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local lock, entry = KEYS[2 * i - 1], KEYS[2 * i]
  local token, ttl, after = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  local raw = redis.call("GET", entry)
  local got = nil
  if raw then
    local created, expires, staleUntil = string.match(raw, "^([^,]*),([^,]*),([^,]*),")
    if staleUntil ~= nil and staleUntil ~= "" and tonumber(staleUntil) <= now then
      raw = false
    elseif created ~= nil and (after == "" or tonumber(created) > tonumber(after)) and (expires == "" or tonumber(expires) > now) then
      got = 0
    end
  end
  if got == nil then
    if redis.call("SET", lock, token, "NX", "PX", ttl) then
      got = 1
    elseif redis.call("GET", lock) == token then
      redis.call("PEXPIRE", lock, ttl)
      got = 1
    else
      got = 0
    end
  end
  out[2 * i - 1] = got
  out[2 * i] = raw
end
return out
