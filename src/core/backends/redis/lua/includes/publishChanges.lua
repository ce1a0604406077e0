--[[
  Tell the change feed (ports.ts ChangeFeed) that entries of namespace `ns` changed: one
  PUBLISH on `channel` of the JSON array [ns, id, ...]. Nothing for an empty list.
]]
local function publishChanges(channel, ns, ids)
  if #ids == 0 then
    return
  end
  local msg = { ns }
  for i = 1, #ids do
    msg[i + 1] = ids[i]
  end
  redis.call("PUBLISH", channel, cjson.encode(msg))
end
