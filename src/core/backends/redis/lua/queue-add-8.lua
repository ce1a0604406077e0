--[[
  Add many standard jobs (no delay, no priority) to one operation's BullMQ queue in one call,
  writing exactly what BullMQ's addStandardJob writes for a job with a custom id, so BullMQ's
  Worker, Queue and tools see ordinary jobs:
    - an id that exists already is left alone (BullMQ: a duplicate custom id is a no-op);
    - the job hash: name, data, opts, timestamp, delay 0, priority 0 (and backache's "bkp",
      which BullMQ ignores);
    - the 'added' event, the id pushed (LPUSH, FIFO) to wait, or to paused while the queue
      is paused, and the 'waiting' event;
    - the marker that wakes workers, once per call, unless the queue is paused or at its
      global concurrency.
  What addBulk sends per job (a script call with 9 keys and two msgpack buffers) becomes
  four short arguments here; delayed and prioritized jobs still go through BullMQ.

  Input:
    KEYS[1] wait, KEYS[2] paused, KEYS[3] meta, KEYS[4] id counter, KEYS[5] active,
    KEYS[6] events stream, KEYS[7] marker, KEYS[8] the job key prefix ("{P:N}:jobs:")
    ARGV[1]   timestamp, epoch ms
    ARGV[2..] four values per job: job id, name, data (JSON), and the job's pair for the
              consumer's first step (field "bkp": the pair hash, "!" + hash for a refresh)

  Output: the number of jobs added (ids that existed are not counted)
]]
local rcall = redis.call
--- @include "queueTarget"
local target, paused, free = queueTarget(KEYS[3], KEYS[5], KEYS[1], KEYS[2])
local held = paused or (free ~= nil and free <= 0)
local maxEvents = rcall("HGET", KEYS[3], "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", KEYS[3], "opts.maxLenEvents", maxEvents)
end
local timestamp = ARGV[1]
local events = KEYS[6]
local added = 0
for a = 2, #ARGV, 4 do
  local id = ARGV[a]
  local key = KEYS[8] .. id
  if rcall("EXISTS", key) == 0 then
    local name = ARGV[a + 1]
    rcall("HMSET", key, "name", name, "data", ARGV[a + 2], "opts", cjson.encode({ jobId = id, attempts = 0 }),
      "timestamp", timestamp, "delay", 0, "priority", 0, "bkp", ARGV[a + 3])
    rcall("XADD", events, "*", "event", "added", "jobId", id, "name", name)
    rcall("LPUSH", target, id)
    rcall("XADD", events, "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", id)
    added = added + 1
  end
end
if added > 0 then
  rcall("INCRBY", KEYS[4], added)
  if not held then
    rcall("ZADD", KEYS[7], 0, "0")
  end
end
return added
