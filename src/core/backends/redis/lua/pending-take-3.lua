--[[
  Take (remove and return) every pending cbArgs of a pair, and forget its job id.

  Input:
    KEYS[1]       pending job id (STRING)
    KEYS[2]       pending cbArgs (LIST)
    KEYS[3]       the namespace's index of pending pairs (SET)
    ARGV[1]       the pair hash

  Output:
    the encoded cbArgs, in the order they were added
]]
local rcall = redis.call
local all = rcall("LRANGE", KEYS[2], 0, -1)
rcall("DEL", KEYS[1], KEYS[2])
rcall("SREM", KEYS[3], ARGV[1])
return all
