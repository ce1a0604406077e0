--[[
  Record the shard layouts of operations (`shards: N`): for each operation, its current N
  and every N it has been used with, so every process of the deployment finds all of an
  operation's tags (queues to drain, entries to count, scan and invalidate).

  Input:
    KEYS[1]       the layouts (HASH op -> JSON {"n": N, "seen": [N, ...]})
    ARGV[1..]     pairs: operation, N (an integer >= 1)

  An operation with N = 1 and no record is left without one (today's layout). Safe to run
  twice. Output: the whole HASH, as HGETALL.
]]
local rcall = redis.call
for a = 1, #ARGV, 2 do
  local op = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  local raw = rcall("HGET", KEYS[1], op)
  if raw or n > 1 then
    local seen = { n }
    if raw then
      local ok, rec = pcall(cjson.decode, raw)
      if ok and type(rec) == "table" and type(rec.seen) == "table" then
        for _, m in ipairs(rec.seen) do
          if m ~= n then
            seen[#seen + 1] = m
          end
        end
      end
    end
    table.sort(seen)
    rcall("HSET", KEYS[1], op, cjson.encode({ n = n, seen = seen }))
  end
end
return rcall("HGETALL", KEYS[1])
