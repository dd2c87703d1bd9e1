--[[
  Enter a buyer in a draw (docs/draws.md), atomically: the window, the freeze,
  the per-user limit and the rate limit are checked and the entry is written
  in this one call, so an entry racing the close is either in the frozen list
  or refused, never half in.

  KEYS[1] sale hash           {sale:<id>}          (mode, entriesOpenAt, entriesCloseAt, drawState, perUserLimit, ...)
  KEYS[2] entries             {sale:<id>}:entries  (userId -> entryId TAB quantity TAB enteredAt ms)
  KEYS[3] buyer's rate bucket {sale:<id>}:rate:<userId>  (tokens, at); expires once full again
  KEYS[4] live counters       {sale:<id>}:stats    (outcome -> count)

  ARGV[1] user id
  ARGV[2] quantity (positive integer; the caller validates it)
  ARGV[3] now, ms since the epoch
  ARGV[4] entry id to use if the entry is accepted

  Returns { code, entryId, quantity, enteredAt }:
     1  entered
     2  replay: this buyer has entered already; the values are the first entry's
    -1  sale not found
    -2  entries not open yet (now < entriesOpenAt)
    -3  entries closed (now >= entriesCloseAt, or the entries are frozen for the draw)
    -4  quantity above the sale's per-user limit
    -5  not a draw
    -7  rate limited: the second value is the wait in ms
    -8  sale paused by an operator

  A buyer enters once: a second entry (any quantity) gets the first back, at
  any moment and before every other check, as a buy's replay does. Every other
  entry request takes a token from the same bucket as the sale's buys.
]]
local rcall = redis.call

local function outcome(field, reply)
  rcall('HINCRBY', KEYS[4], field, 1)
  return reply
end

-- BEGIN takeToken (the same text in reserve-8.lua and enter-4.lua;
-- test/unit/lua-shared.test.ts keeps them equal)
-- Takes one token from a buyer's bucket (a burst, then perSecond): nil when
-- taken, else the wait in ms until one is there. It expires once full again.
local function takeToken(key, burst, perSecond, now, nowText)
  local bucket = rcall('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(bucket[1])
  local at = tonumber(bucket[2]) or now
  if tokens == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - at) * perSecond / 1000)
  end
  if tokens < 1 then
    return math.ceil((1 - tokens) * 1000 / perSecond)
  end
  rcall('HSET', key, 'tokens', tostring(tokens - 1), 'at', nowText)
  rcall('PEXPIRE', key, math.ceil(burst * 1000 / perSecond) + 1000)
  return nil
end
-- END takeToken

local sale = rcall('HMGET', KEYS[1], 'mode', 'entriesOpenAt', 'entriesCloseAt', 'drawState',
  'perUserLimit', 'rateBurst', 'ratePerSecond', 'paused')
if rcall('EXISTS', KEYS[1]) == 0 then
  return { -1, '', 0, 0 }
end
if sale[1] ~= 'draw' then
  return outcome('refused:NOT_A_DRAW', { -5, '', 0, 0 })
end

local userId = ARGV[1]
local existing = rcall('HGET', KEYS[2], userId)
if existing then
  local entryId, quantity, at = string.match(existing, '^([^\t]*)\t([^\t]*)\t([^\t]*)$')
  return outcome('entry_replayed', { 2, entryId, tonumber(quantity), tonumber(at) })
end

if sale[8] == '1' then
  return outcome('refused:SALE_PAUSED', { -8, '', 0, 0 })
end

local now = tonumber(ARGV[3])
local burst = tonumber(sale[6]) or 5
local perSecond = tonumber(sale[7]) or 1
if burst > 0 and perSecond > 0 then
  local wait = takeToken(KEYS[3], burst, perSecond, now, ARGV[3])
  if wait then
    return outcome('rate_limited', { -7, '', wait, 0 })
  end
end

if now < (tonumber(sale[2]) or 0) then
  return outcome('refused:ENTRIES_NOT_OPEN', { -2, '', 0, 0 })
end
-- The freeze is what binds: the runner freezes at entriesCloseAt, an admin earlier.
if sale[4] or now >= (tonumber(sale[3]) or 0) then
  return outcome('refused:ENTRIES_CLOSED', { -3, '', 0, 0 })
end
local quantity = tonumber(ARGV[2])
if quantity > (tonumber(sale[5]) or 0) then
  return outcome('refused:ENTRY_ABOVE_LIMIT', { -4, '', 0, 0 })
end

rcall('HSET', KEYS[2], userId, ARGV[4] .. '\t' .. ARGV[2] .. '\t' .. ARGV[3])
rcall('HINCRBY', KEYS[1], 'entries', 1)
return outcome('entered', { 1, ARGV[4], quantity, now })
