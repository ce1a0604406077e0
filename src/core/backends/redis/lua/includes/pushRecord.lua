--[[
  Append a delivery record to a script's output: its length, then its elements.
]]
local function pushRecord(out, recordKey)
  local all = rcall("LRANGE", recordKey, 0, -1)
  out[#out + 1] = #all
  for i = 1, #all do
    out[#out + 1] = all[i]
  end
end
