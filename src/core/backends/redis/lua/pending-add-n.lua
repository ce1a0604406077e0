--[[
  Add requests to their pairs' pending lists and say, for each, whether it is the first
  (the caller must then enqueue its job id). Items are handled in order, so duplicates of
  one pair inside the batch coalesce onto the first of them.

  A pair's pending list `{P:N}:p:l:<hash>` holds its job id first, then the encoded cbArgs
  of every request, in order: one key per pair, so a request costs two or three commands
  here. List keys are built from the operation's hash tag (as BullMQ's scripts do from their
  prefix), which keeps them in the slot of KEYS[1].

  Input:
    KEYS[1]       how many pairs of the operation have pending requests (STRING integer)
    ARGV[1]       the operation's hash tag {P:N}
    ARGV[2..]     three values per item: pair hash, proposed job id, encoded cbArgs

  Output:
    two values per item: 1 first / 0 coalesced, the job id the request belongs to
]]
local rcall = redis.call
local tag = ARGV[1]
local out = {}
local firsts = 0
for a = 2, #ARGV, 3 do
  local key = tag .. ":p:l:" .. ARGV[a]
  local cbArgs = ARGV[a + 2]
  if rcall("RPUSHX", key, cbArgs) > 0 then
    out[#out + 1] = 0
    out[#out + 1] = rcall("LINDEX", key, 0)
  else
    local jobId = ARGV[a + 1]
    rcall("RPUSH", key, jobId, cbArgs)
    firsts = firsts + 1
    out[#out + 1] = 1
    out[#out + 1] = jobId
  end
end
if firsts > 0 then
  rcall("INCRBY", KEYS[1], firsts)
end
return out
