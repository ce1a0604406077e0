--[[
  Tell the change feed (ports.ts ChangeFeed) that entries of namespace `ns` changed: one
  PUBLISH on `channel` of the JSON array [ns, id, ...]. Nothing for an empty list. A user
  whose ACL allows no channels (Redis 7's default for new users) cannot publish: the write
  still happens (pcall), and that deployment has no feed (its subscribers are refused too,
  so no L1 tier ever comes up: see changes.ts).
]]
local function publishChanges(channel, ns, ids)
  if #ids == 0 then
    return
  end
  local msg = { ns }
  for i = 1, #ids do
    msg[i + 1] = ids[i]
  end
  redis.pcall("PUBLISH", channel, cjson.encode(msg))
end
