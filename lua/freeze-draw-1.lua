--[[
  Freeze a draw's entries: from this call on every entry is refused
  (enter-4.lua reads drawState), so the list the draw reads is final.

  KEYS[1] sale hash  {sale:<id>}

  ARGV[1] now, ms since the epoch
  ARGV[2] '1': an admin closes the entries now (entriesCloseAt = now);
          '': the runner, which freezes only once entriesCloseAt has passed

  Returns { code, frozenAt }:
     1  frozen now
     0  frozen already (or drawn); frozenAt is when
    -1  not a draw (or no such sale)
    -2  entries still open: entriesCloseAt is in the future
]]
local rcall = redis.call

local sale = rcall('HMGET', KEYS[1], 'mode', 'entriesCloseAt', 'drawState', 'frozenAt')
if sale[1] ~= 'draw' then
  return { -1, 0 }
end
if sale[3] then
  return { 0, tonumber(sale[4]) or 0 }
end
local now = tonumber(ARGV[1])
if ARGV[2] == '1' then
  if now < (tonumber(sale[2]) or 0) then rcall('HSET', KEYS[1], 'entriesCloseAt', ARGV[1]) end
elseif now < (tonumber(sale[2]) or 0) then
  return { -2, 0 }
end
rcall('HSET', KEYS[1], 'drawState', 'frozen', 'frozenAt', ARGV[1])
rcall('HINCRBY', KEYS[1], 'version', 1)
return { 1, now }
