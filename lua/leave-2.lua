--[[
  Take back an entry whose message could not be sent (the buyer is answered
  503 and may enter again), unless the entries are frozen already: then the
  entry is in the draw and stays.

  KEYS[1] sale hash  {sale:<id>}
  KEYS[2] entries    {sale:<id>}:entries

  ARGV[1] user id
  ARGV[2] entry id

  Returns { code }:
     1  taken back
     0  kept: the entries are frozen, so this entry is in the draw
    -1  no such entry (another entry of the buyer, or none)
]]
local rcall = redis.call

local existing = rcall('HGET', KEYS[2], ARGV[1])
if not existing or string.sub(existing, 1, #ARGV[2] + 1) ~= ARGV[2] .. '\t' then
  return { -1 }
end
if rcall('HEXISTS', KEYS[1], 'drawState') == 1 then
  return { 0 }
end
rcall('HDEL', KEYS[2], ARGV[1])
rcall('HINCRBY', KEYS[1], 'entries', -1)
return { 1 }
