--[[
  Take (remove and return) every pending cbArgs of a pair, and forget its job id.

  Input:
    KEYS[1]       the pair's pending list (job id, then encoded cbArgs)
    KEYS[2]       the namespace's index of pending pairs (SET)
    ARGV[1]       the pair hash

  Output:
    the encoded cbArgs, in the order they were added
]]
local rcall = redis.call
local all = rcall("LRANGE", KEYS[1], 1, -1)
if rcall("DEL", KEYS[1]) > 0 then
  rcall("SREM", KEYS[2], ARGV[1])
end
return all
