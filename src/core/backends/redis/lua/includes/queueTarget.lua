--[[
  Where a BullMQ queue's waiting jobs go now, from its meta hash (as BullMQ's
  getTargetQueueList): the paused list while paused, else wait. Also whether jobs may be
  taken at all (not while paused), how many more may become active under the queue's
  global concurrency (nil: no bound), and its global rate limit (max jobs per duration ms).
]]
local function queueTarget(metaKey, activeKey, waitKey, pausedKey)
  local meta = redis.call("HMGET", metaKey, "paused", "concurrency", "max", "duration")
  if meta[1] then
    return pausedKey, true, 0, meta[3], meta[4]
  end
  local free = nil
  if meta[2] then
    free = tonumber(meta[2]) - redis.call("LLEN", activeKey)
  end
  return waitKey, false, free, meta[3], meta[4]
end
