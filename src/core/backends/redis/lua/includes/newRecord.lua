--[[
  Create a job's delivery record (a LIST: header JSON, then each encoded cbArgs) from its
  pair's pending list (the pair's job id, then each encoded cbArgs): RENAME, O(1) however
  many cbArgs, then the first element becomes the header. Without a pending list the record
  holds the header only (nothing to deliver). The record expires after `guardMs` unless
  settled before (a leak guard). Returns 1 when a pending list was taken, else 0.
]]
local function newRecord(pendingKey, recordKey, header, guardMs)
  local took = 0
  if rcall("EXISTS", pendingKey) == 1 then
    rcall("RENAME", pendingKey, recordKey)
    rcall("LSET", recordKey, 0, header)
    took = 1
  else
    rcall("RPUSH", recordKey, header)
  end
  rcall("PEXPIRE", recordKey, guardMs)
  return took
end
