--[[
  Add requests to their pairs' pending lists and say, for each, whether it is the first
  (the caller must then enqueue its job id). Items are handled in order, so duplicates of
  one pair inside the batch coalesce onto the first of them.

  A pair's pending list holds its job id first, then the encoded cbArgs of every request,
  in order: one key per pair, so a request costs two or three commands here.

  Input:
    KEYS[1]       the namespace's index of pending pairs (SET of hashes)
    KEYS[2..]     one key per item: the pair's pending list
    ARGV[1..]     three values per item: pair hash, proposed job id, encoded cbArgs

  Output:
    two values per item: 1 first / 0 coalesced, the job id the request belongs to
]]
local rcall = redis.call
local out = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local a = 3 * (i - 2)
  local cbArgs = ARGV[a + 3]
  if rcall("RPUSHX", key, cbArgs) > 0 then
    out[#out + 1] = 0
    out[#out + 1] = rcall("LINDEX", key, 0)
  else
    local jobId = ARGV[a + 2]
    rcall("RPUSH", key, jobId, cbArgs)
    rcall("SADD", KEYS[1], ARGV[a + 1])
    out[#out + 1] = 1
    out[#out + 1] = jobId
  end
end
return out
