--[[
  Take (remove and return) every pending cbArgs of a pair, and forget its job id.

  Input:
    KEYS[1]       the pair's pending list (job id, then encoded cbArgs)
    KEYS[2]       how many pairs of the operation have pending requests (STRING integer)

  Output:
    the encoded cbArgs, in the order they were added
]]
local rcall = redis.call
local all = rcall("LRANGE", KEYS[1], 1, -1)
if rcall("DEL", KEYS[1]) > 0 then
  rcall("DECR", KEYS[2])
end
return all
