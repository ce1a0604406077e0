--[[
  One step of a backache consumer's loop for one operation's BullMQ queue: finish the jobs
  that ended since the last step, then take the next ones, in one call. It keeps BullMQ's
  job layout (the lists, sets, job hash fields, lock keys and events BullMQ's own scripts
  use), so BullMQ's Queue (counts, states, pause, tools) sees ordinary jobs. It does the
  work of BullMQ's moveToFinished and moveToActive for a batch instead of one job per call.

  Finishing a job requires its lock to still hold the job's token (else the lease was lost
  and the job belongs to whoever takes it next; it is skipped). Then:
    - completed: returnvalue and finishedOn set, attemptsMade + 1, the id moved from active
      to the completed set, a 'completed' event;
    - retry: the data replaced (when given), the id moved from active to the delayed set
      (score: due time * 0x1000 + a counter, as BullMQ orders delayed jobs), a 'delayed'
      event, and the marker at the due time so blocked workers wake for it.
  Taking (unless the queue is paused or at its global concurrency): due delayed jobs are
  promoted first; at most `want` jobs move from wait (or, once wait is empty, from the
  prioritized set) to active, each locked with `token:attemptsStarted` for the lease, with
  processedOn set, attemptsStarted + 1 and an 'active' event. The rate limiter counts them
  as BullMQ does. When asked (a lock ttl given), each job taken also gets the consumer's
  first step (consume-begin-n.lua's): its pair's cached entry if fresh, else the pair's lock
  (token: the job's lock token + ":" + id), from the pair hash queue-add-8.lua stored.

  Input:
    KEYS[1] wait, KEYS[2] active, KEYS[3] prioritized, KEYS[4] events, KEYS[5] limiter,
    KEYS[6] delayed, KEYS[7] paused, KEYS[8] meta, KEYS[9] priority counter,
    KEYS[10] marker, KEYS[11] completed
    ARGV[1] job key prefix ("{P:N}:jobs:"), ARGV[2] now (epoch ms), ARGV[3] token base,
    ARGV[4] lease (ms), ARGV[5] how many jobs to take at most,
    ARGV[6] rate limit: jobs per window ("" for none), ARGV[7] window (ms),
    ARGV[8] pair lock ttl (ms) to begin the jobs taken, "" not to,
    ARGV[9] the operation's hash tag {P:N} (for the pair keys),
    ARGV[10..] five values per finished job: id, token, kind ("c" completed, "r" retry),
      returnvalue (c) or due time in ms (r), new data JSON or "" (r)

  Output: { finished, rate-limit wait (ms, 0 if none), next delayed time (ms, 0 if none),
            then five values per job taken: id, data, attemptsStarted, timestamp, begun }
    begun: "" not begun, "L" the pair lock is ours, "B" someone else holds it,
           "E" .. the encoded entry when it is fresh (the client checks its id)
]]
local rcall = redis.call
--- @include "freshEntry"
--- @include "queueTarget"
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
local events = KEYS[4]

local maxEvents = rcall("HGET", KEYS[8], "opts.maxLenEvents") or 10000

-- Finish.
local finished = 0
local wakeAt
for a = 10, #ARGV, 5 do
  local id = ARGV[a]
  local jobKey = prefix .. id
  local lockKey = jobKey .. ":lock"
  if rcall("GET", lockKey) == ARGV[a + 1] then
    rcall("DEL", lockKey)
    rcall("LREM", KEYS[2], -1, id)
    rcall("HINCRBY", jobKey, "atm", 1)
    if ARGV[a + 2] == "c" then
      rcall("HSET", jobKey, "returnvalue", ARGV[a + 3], "finishedOn", now)
      rcall("ZADD", KEYS[11], now, id)
      rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "completed", "jobId", id,
        "returnvalue", ARGV[a + 3], "prev", "active")
    else
      local due = tonumber(ARGV[a + 3])
      if ARGV[a + 4] ~= "" then
        rcall("HSET", jobKey, "data", ARGV[a + 4])
      end
      rcall("HSET", jobKey, "delay", math.max(0, due - now))
      rcall("ZADD", KEYS[6], due * 0x1000 + (finished % 0x1000), id)
      rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "delayed", "jobId", id, "delay", due)
      if not wakeAt or due < wakeAt then
        wakeAt = due
      end
    end
    finished = finished + 1
  end
end
if wakeAt then
  rcall("ZADD", KEYS[10], wakeAt, "1")
end
-- Under a global concurrency, a finished job frees a slot another worker may be waiting for.
if finished > 0 and rcall("HEXISTS", KEYS[8], "concurrency") == 1 then
  rcall("ZADD", KEYS[10], 0, "0")
end

local function nextDelayed()
  local first = rcall("ZRANGE", KEYS[6], 0, 0, "WITHSCORES")
  if first[2] then
    return math.floor(tonumber(first[2]) / 0x1000)
  end
  return 0
end

local want = tonumber(ARGV[5])
if want <= 0 then
  return { finished, 0, nextDelayed() }
end

-- Paused, or at the queue's global concurrency: take nothing (after promoting due jobs).
local target, paused, free, globalMax, globalWindow = queueTarget(KEYS[8], KEYS[2], KEYS[1], KEYS[7])
local held = paused or (free ~= nil and free <= 0)

-- Promote delayed jobs that are due (as BullMQ's promoteDelayedJobs).
local due = rcall("ZRANGEBYSCORE", KEYS[6], 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
if #due > 0 then
  rcall("ZREM", KEYS[6], unpack(due))
  for _, id in ipairs(due) do
    local jobKey = prefix .. id
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    if priority == 0 then
      rcall("LPUSH", target, id)
    else
      local pc = rcall("INCR", KEYS[9])
      rcall("ZADD", KEYS[3], priority * 0x100000000 + pc % 0x100000000, id)
    end
    rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", id, "prev", "delayed")
    rcall("HSET", jobKey, "delay", 0)
  end
end
if held then
  return { finished, 0, nextDelayed() }
end

-- Rate limit: the job counter of the current window (BullMQ's limiter key).
local max, window = tonumber(ARGV[6]), ARGV[7]
if not max and globalMax then
  max, window = tonumber(globalMax), globalWindow or 1000
end
local used = 0
if max then
  used = tonumber(rcall("GET", KEYS[5]) or 0)
  if used >= max then
    local ttl = rcall("PTTL", KEYS[5])
    if ttl > 0 then
      return { finished, ttl, nextDelayed() }
    end
    rcall("DEL", KEYS[5])
    used = 0
  end
  want = math.min(want, max - used)
end
if free ~= nil then
  want = math.min(want, free)
end

local out = { finished, 0, 0 }
local lease = ARGV[4]
local token = ARGV[3]
local pairTtl = ARGV[8]
local tag = ARGV[9]

-- The consumer's first step for a job's pair (as consume-begin-n.lua).
local function begin(pair, lockToken)
  if not pair or pairTtl == "" then
    return ""
  end
  local hash = pair
  if string.sub(pair, 1, 1) == "!" then
    hash = string.sub(pair, 2)
  else
    local raw = freshEntry(tag .. ":c:e:" .. hash, now)
    if raw then
      return "E" .. raw
    end
  end
  if rcall("SET", tag .. ":l:" .. hash, lockToken, "NX", "PX", pairTtl) then
    return "L"
  end
  return "B"
end

local taken = 0
while taken < want do
  local id = rcall("RPOPLPUSH", KEYS[1], KEYS[2])
  if not id then
    local p = rcall("ZPOPMIN", KEYS[3])
    if #p == 0 then
      break
    end
    id = p[1]
    rcall("LPUSH", KEYS[2], id)
  end
  if string.sub(id, 1, 2) == "0:" then
    -- an old-style marker in the wait list (BullMQ < 5): drop it
    rcall("LREM", KEYS[2], 1, id)
  else
    local jobKey = prefix .. id
    local f = rcall("HMGET", jobKey, "data", "timestamp", "bkp")
    if f[1] then
      local ats = rcall("HINCRBY", jobKey, "ats", 1)
      local lockToken = token .. ":" .. ats
      rcall("SET", jobKey .. ":lock", lockToken, "PX", lease)
      rcall("HSET", jobKey, "processedOn", now)
      rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "active", "jobId", id, "prev", "waiting")
      out[#out + 1] = id
      out[#out + 1] = f[1]
      out[#out + 1] = ats
      out[#out + 1] = f[2] or now
      out[#out + 1] = begin(f[3], lockToken .. ":" .. id)
      taken = taken + 1
    else
      -- the job was removed while it waited: nothing to run
      rcall("LREM", KEYS[2], 1, id)
    end
  end
end
if max and taken > 0 then
  if rcall("INCRBY", KEYS[5], taken) == taken then
    rcall("PEXPIRE", KEYS[5], math.max(1, math.floor(math.abs(tonumber(window)))))
  end
end
-- Others may take what is left: keep the marker up while jobs wait.
if taken > 0 and (rcall("LLEN", KEYS[1]) > 0 or rcall("ZCARD", KEYS[3]) > 0) then
  rcall("ZADD", KEYS[10], 0, "0")
end
out[3] = nextDelayed()
return out
