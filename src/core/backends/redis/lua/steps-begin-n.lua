--[[
  The first step of jobs of one operation (WorkerSteps.begin), for every job that reached
  it in the same tick; for each job, atomically: its delivery record if it has one (with
  the pair's entry); else the pair's entry if it is fresh (unless the job forces a
  recomputation); else try the pair's lock once.

  Keys are built here from the operation's hash tag (as BullMQ's scripts do from their
  prefix); every key has the tag of KEYS[1], so all of them are in its cluster slot.
  Safe to run twice: a lock already held with the job's token is reported as ours.

  Input:
    KEYS[1]       the operation's cache index (its tag routes the call)
    ARGV[1]       now, epoch ms
    ARGV[2]       lock ttl, ms (integer >= 1)
    ARGV[3]       the operation's hash tag {P:N}
    ARGV[4]       leak guard of a job's open runs, ms
    ARGV[5..]     five values per job: the pair hash, the job id hash, our lock token,
                  '1' to skip a fresh entry (a refresh) or '0', the run id

  Unless the lock is someone else's, the run id joins the job's open runs
  `{P:N}:p:u:<job hash>` (a SET, so a resend adds it once; WorkerSteps.end removes it,
  settle drops the set) and the reply says how many are open.

  Output, per job one of:
    2, runs, n, the n elements of the record (header JSON, then encoded cbArgs), the
       encoded entry or '' (none; the client checks its id and grace)
    3, runs, the encoded fresh entry (the client checks its id)
    1, runs  the lock is ours
    0        someone else holds the lock
]]
local rcall = redis.call
--- @include "freshEntry"
--- @include "pushRecord"
local now = tonumber(ARGV[1])
local tag = ARGV[3]
local guard = ARGV[4]
local out = {}
local function openRun(jobHash, runId)
  local runs = tag .. ":p:u:" .. jobHash
  rcall("SADD", runs, runId)
  local n = rcall("SCARD", runs)
  if n == 1 then
    rcall("PEXPIRE", runs, guard) -- a new set: its leak guard (settle drops it)
  end
  out[#out + 1] = n
end
for a = 5, #ARGV, 5 do
  local hash = ARGV[a]
  local record = tag .. ":p:d:" .. ARGV[a + 1]
  if rcall("EXISTS", record) == 1 then
    out[#out + 1] = 2
    openRun(ARGV[a + 1], ARGV[a + 4])
    pushRecord(out, record)
    local raw = redis.pcall("GET", tag .. ":c:e:" .. hash)
    if type(raw) ~= "string" then
      raw = ""
    end
    out[#out + 1] = raw
  else
    local fresh = nil
    if ARGV[a + 3] ~= "1" then
      fresh = freshEntry(tag .. ":c:e:" .. hash, now)
    end
    if fresh then
      out[#out + 1] = 3
      openRun(ARGV[a + 1], ARGV[a + 4])
      out[#out + 1] = fresh
    else
      local lock = tag .. ":l:" .. hash
      local token = ARGV[a + 2]
      if rcall("SET", lock, token, "NX", "PX", ARGV[2]) or rcall("GET", lock) == token then
        out[#out + 1] = 1
        openRun(ARGV[a + 1], ARGV[a + 4])
      else
        out[#out + 1] = 0
      end
    end
  end
end
return out
