--[[
  Lazy index cleanup during a scan: say which ids still have an entry, and remove the
  others from the index (their entries expired past staleUntil or were lost). Nothing for
  the change feed: no entry changes here, readers missed those already.

  Input:
    KEYS[1]       the namespace's id index (ZSET)
    KEYS[2..]     entry keys, in ARGV order
    ARGV[1..]     the raw ids

  Output:
    one integer per id: 1 alive, 0 gone (and removed from the index)
]]
local rcall = redis.call
local alive = {}
for i = 2, #KEYS do
  if rcall("EXISTS", KEYS[i]) == 1 then
    alive[i - 1] = 1
  else
    rcall("ZREM", KEYS[1], ARGV[i - 1])
    alive[i - 1] = 0
  end
end
return alive
