--[[
  Add requests to their pairs' pending lists and say, for each, whether it is the first
  (the caller must then enqueue its job id). Items are handled in order, so duplicates of
  one pair inside the batch coalesce onto the first of them.

  A pair's pending list `{P:N}:p:l:<hash>` holds its job id first, then the encoded cbArgs
  of every request, in order. List keys are built from the operation's hash tag (as
  BullMQ's scripts do from their prefix), which keeps them in the slot of KEYS[1].

  Safe to run twice (ioredis resends a command whose reply was lost): each request's id
  (its proposed job id, unique per request) is recorded in KEYS[2], a HASH of the requests
  added in the current time bucket (request id -> the job id it joined). A request id seen
  before answers as it did the first time and adds nothing. A resend carries the same ARGV,
  so it names the same bucket, which lives until ARGV[2] (at least 5 minutes after it).

  Input:
    KEYS[1]       how many pairs of the operation have pending requests (STRING integer)
    KEYS[2]       request ids of the current bucket (HASH, request id -> job id joined)
    ARGV[1]       the operation's hash tag {P:N}
    ARGV[2]       when KEYS[2] may go, epoch ms (PEXPIREAT)
    ARGV[3..]     four values per item: pair hash, request id (= proposed job id),
                  '1' silent (joins or creates the pair, adds no cbArgs) or '0',
                  encoded cbArgs

  Output:
    two values per item: 1 first / 0 coalesced, the job id the request belongs to
]]
local rcall = redis.call
local tag = ARGV[1]
local reqs = KEYS[2]
local out = {}
local firsts = 0
local added = 0
for a = 3, #ARGV, 4 do
  local reqId = ARGV[a + 1]
  local seen = rcall("HGET", reqs, reqId)
  if seen then
    if seen == reqId then
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
    out[#out + 1] = seen
  else
    local key = tag .. ":p:l:" .. ARGV[a]
    local silent = ARGV[a + 2] == "1"
    local joined
    if silent then
      joined = rcall("EXISTS", key) == 1
    else
      joined = rcall("RPUSHX", key, ARGV[a + 3]) > 0
    end
    local jobId
    if joined then
      jobId = rcall("LINDEX", key, 0)
      out[#out + 1] = 0
    else
      jobId = reqId
      if silent then
        rcall("RPUSH", key, jobId)
      else
        rcall("RPUSH", key, jobId, ARGV[a + 3])
      end
      firsts = firsts + 1
      out[#out + 1] = 1
    end
    out[#out + 1] = jobId
    rcall("HSET", reqs, reqId, jobId)
    added = added + 1
  end
end
if firsts > 0 then
  rcall("INCRBY", KEYS[1], firsts)
end
if added > 0 then
  rcall("PEXPIREAT", reqs, ARGV[2])
end
return out
