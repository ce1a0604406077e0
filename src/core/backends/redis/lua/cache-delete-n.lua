--[[
  Delete cache entries of one namespace and drop their ids from the index.

  Input:
    KEYS[1]       the namespace's id index (ZSET)
    KEYS[2..]     entry keys, in ARGV order
    ARGV[1..]     the raw ids

  Output:
    how many entries existed
]]
local rcall = redis.call
local existed = 0
for i = 2, #KEYS do
  existed = existed + rcall("DEL", KEYS[i])
  rcall("ZREM", KEYS[1], ARGV[i - 1])
end
return existed
