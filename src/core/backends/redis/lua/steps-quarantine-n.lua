--[[
  The step that sends requests to quarantine (WorkerSteps.quarantine), for every job of one
  operation that reached it in the same tick; for each job, atomically: without a delivery
  record, move the pair's pending cbArgs into a new record of kind quarantine (see
  newRecord); a record of kind result becomes one of kind quarantine with the same delivery
  id and cbArgs; one of kind quarantine stays as it is. Releases our lock; returns the record.

  Safe to run twice: the second run finds the quarantine record the first one made.

  Input:
    KEYS[1]       how many pairs of the operation have pending requests (STRING integer)
    ARGV[1]       the operation's hash tag {P:N}
    ARGV[2]       leak guard of a record, ms
    ARGV[3..]     five values per job: pair hash, job id hash, lock token ('' = none),
                  delivery id of a new record, the quarantine item JSON without cbArgs

  Output:
    per job: the record's length n and its n elements (header JSON, encoded cbArgs)
]]
local rcall = redis.call
--- @include "newRecord"
--- @include "releaseLock"
--- @include "pushRecord"
local tag = ARGV[1]
local guard = ARGV[2]
local function header(deliveryId, item)
  return '{"deliveryId":' .. cjson.encode(deliveryId) .. ',"kind":"quarantine","item":' .. item .. '}'
end
local out = {}
local taken = 0
for a = 3, #ARGV, 5 do
  local hash = ARGV[a]
  local record = tag .. ":p:d:" .. ARGV[a + 1]
  local first = rcall("LINDEX", record, 0)
  if first then
    local h = cjson.decode(first)
    if h.kind ~= "quarantine" then
      rcall("LSET", record, 0, header(h.deliveryId, ARGV[a + 4]))
      rcall("PEXPIRE", record, guard)
    end
  else
    taken = taken + newRecord(tag .. ":p:l:" .. hash, record, header(ARGV[a + 3], ARGV[a + 4]), guard)
  end
  releaseLock(tag .. ":l:" .. hash, ARGV[a + 2])
  pushRecord(out, record)
end
if taken > 0 then
  rcall("DECRBY", KEYS[1], taken)
end
return out
