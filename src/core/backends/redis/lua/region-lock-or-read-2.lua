--[[
  A region's get-or-create, step one (ports.ts RegionSteps.lockOrRead): the entry when it
  is fresh, else the lock tried once. Safe to run twice: a lock already held with our token
  (the first run of a resent call) is ours.

  Input:
    KEYS[1]       the lock key
    KEYS[2]       the entry key (cache.ts encodeEntry: "createdAt,expiresAt,staleUntil,...")
    ARGV[1]       our token
    ARGV[2]       lock ttl, ms (integer >= 1)
    ARGV[3]       now, epoch ms
    ARGV[4]       fresh only if created after this (epoch ms; "" = no bound)

  Output:
    { 1 | 0 (lock taken or not), the encoded entry or false }; a fresh entry comes with 0
]]
local raw = redis.call("GET", KEYS[2])
local now = tonumber(ARGV[3])
if raw then
  local created, expires, staleUntil = string.match(raw, "^([^,]*),([^,]*),([^,]*),")
  if staleUntil ~= nil and staleUntil ~= "" and tonumber(staleUntil) <= now then
    raw = false
  elseif created ~= nil and (ARGV[4] == "" or tonumber(created) > tonumber(ARGV[4])) and (expires == "" or tonumber(expires) > now) then
    return { 0, raw }
  end
end
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  return { 1, raw }
end
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return { 1, raw }
end
return { 0, raw }
