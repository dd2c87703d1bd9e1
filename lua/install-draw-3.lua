--[[
  Install a draw's result, once: the drawn order the runner built in the
  staging list becomes the list the award walk reads, and the sale is drawn.
  A second runner (or a rerun after a crash) finds it drawn and changes nothing.

  KEYS[1] sale hash    {sale:<id>}
  KEYS[2] staging list {sale:<id>}:drawn-staging  (built by the runner, position order)
  KEYS[3] drawn list   {sale:<id>}:drawn          ("quantity TAB userId" per position)

  ARGV[1] drawnAt, ms since the epoch
  ARGV[2] the entry list's digest (hex)
  ARGV[3] winners: entries the first walk awards
  ARGV[4] entries in the draw
  ARGV[5] position of the last winner (-1 with none): later awards are alternates

  Returns { code }:
     1  installed
     0  drawn already: nothing changed
    -1  not frozen (not a draw, or entries still open)
    -2  the staging list does not hold one item per entry
]]
local rcall = redis.call

local state = rcall('HGET', KEYS[1], 'drawState')
if state == 'drawn' then
  rcall('DEL', KEYS[2])
  return { 0 }
end
if state ~= 'frozen' then
  return { -1 }
end
local entries = tonumber(ARGV[4])
if rcall('LLEN', KEYS[2]) ~= entries then
  return { -2 }
end
if entries > 0 then
  rcall('RENAME', KEYS[2], KEYS[3])
else
  rcall('DEL', KEYS[3])
end
rcall('HSET', KEYS[1], 'drawState', 'drawn', 'drawnAt', ARGV[1], 'drawDigest', ARGV[2],
  'drawWinners', ARGV[3], 'drawEntries', ARGV[4], 'drawLastWinner', ARGV[5], 'drawCursor', 0)
rcall('HINCRBY', KEYS[1], 'version', 1)
return { 1 }
