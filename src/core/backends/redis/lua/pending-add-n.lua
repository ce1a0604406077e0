--[[
  Add requests to their pairs' pending sets and say, for each, whether it is the first
  (the caller must then enqueue its job id). Items are handled in order, so duplicates of
  one pair inside the batch coalesce onto the first of them.

  Input:
    KEYS[1]       the namespace's index of pending pairs (SET of hashes)
    KEYS[2..]     two keys per item: pending job id (STRING), pending cbArgs (LIST)
    ARGV[1..]     three values per item: pair hash, proposed job id, encoded cbArgs

  Output:
    two values per item: 1 first / 0 coalesced, the job id the request belongs to
]]
local rcall = redis.call
local out = {}
local items = (#KEYS - 1) / 2
for i = 0, items - 1 do
  local jobKey = KEYS[2 + 2 * i]
  local argsKey = KEYS[3 + 2 * i]
  local hash = ARGV[1 + 3 * i]
  local jobId = ARGV[2 + 3 * i]
  local cbArgs = ARGV[3 + 3 * i]
  local current = rcall("GET", jobKey)
  if current then
    rcall("RPUSH", argsKey, cbArgs)
    out[#out + 1] = 0
    out[#out + 1] = current
  else
    rcall("SET", jobKey, jobId)
    rcall("DEL", argsKey)
    rcall("RPUSH", argsKey, cbArgs)
    rcall("SADD", KEYS[1], hash)
    out[#out + 1] = 1
    out[#out + 1] = jobId
  end
end
return out
