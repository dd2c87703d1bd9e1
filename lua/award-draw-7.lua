--[[
  Walk a drawn list and award units in drawn order (docs/draws.md): the entry
  at the cursor gets a held order for its quantity if that fits in the units
  left, and is passed over if not; the walk stops when no unit is left. Units
  of unpaid winners come back when their holds expire, and the next call goes
  on from the cursor: those entries are the alternates. The same rule as
  nextAwards() in lambdas/domain/draw.ts, so the first walk awards exactly the
  winners the draw published.

  KEYS[1] sale hash    {sale:<id>}          (drawState, drawCursor, remaining, holdSeconds, price...)
  KEYS[2] drawn list   {sale:<id>}:drawn    ("quantity TAB userId" per position)
  KEYS[3] awards       {sale:<id>}:awards   (userId -> orderId)
  KEYS[4] orders       {sale:<id>}:orders   (orderId -> JSON order record, as reserve-8.lua writes)
  KEYS[5] hold expiries {sale:<id>}:holds   (sorted set: orderId, score = expiresAt ms)
  KEYS[6] live counters {sale:<id>}:stats
  KEYS[7] units per buyer {sale:<id>}:buyers

  ARGV[1] now, ms since the epoch
  ARGV[2] sale id (order ids are <saleId>.<uuid>)
  ARGV[3] most positions to look at in this call
  ARGV[4..] one fresh uuid per award this call may make (at most that many awards)

  Returns { code, cursor, positions, remaining, then 7 values per award:
            orderId, userId, quantity, position, expiresAt, amount, currency }:
     1  walked (maybe no award: no unit left, or the list is walked to its end)
    -1  not drawn yet
]]
local rcall = redis.call

local sale = rcall('HMGET', KEYS[1], 'drawState', 'drawCursor', 'remaining', 'holdSeconds',
  'priceAmount', 'priceCurrency', 'drawLastWinner')
if sale[1] ~= 'drawn' then
  return { -1, 0, 0, 0 }
end
local cursor = tonumber(sale[2]) or 0
local remaining = tonumber(sale[3]) or 0
local holdSeconds = tonumber(sale[4]) or 0
local price = tonumber(sale[5]) or 0
local currency = sale[6] or ''
local lastWinner = tonumber(sale[7]) or -1
local positions = rcall('LLEN', KEYS[2])
local now = tonumber(ARGV[1])
local maxUuids = #ARGV - 3

local reply = { 1, 0, positions, 0 }
local awarded = 0
if remaining > 0 and cursor < positions then
  local items = rcall('LRANGE', KEYS[2], cursor, cursor + tonumber(ARGV[3]) - 1)
  for _, item in ipairs(items) do
    if remaining <= 0 or awarded >= maxUuids then break end
    local quantityText, userId = string.match(item, '^([^\t]*)\t(.*)$')
    local quantity = tonumber(quantityText)
    if quantity <= remaining then
      awarded = awarded + 1
      local orderId = ARGV[2] .. '.' .. ARGV[3 + awarded]
      local expiresAt = string.format('%.0f', now + holdSeconds * 1000)
      local amount = string.format('%.0f', price * quantity)
      remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
      rcall('HINCRBY', KEYS[1], 'held', quantity)
      rcall('HINCRBY', KEYS[7], userId, quantity)
      rcall('HSET', KEYS[4], orderId, cjson.encode({
        state = 'reserved', userId = userId, quantity = quantity, reservedAt = ARGV[1],
        idempotencyKey = '', stockShard = '', payment = 'held', expiresAt = expiresAt,
        amount = amount, currency = currency, drawPosition = cursor,
      }))
      rcall('ZADD', KEYS[5], expiresAt, orderId)
      rcall('HSET', KEYS[3], userId, orderId)
      rcall('HINCRBY', KEYS[6], 'units', quantity)
      rcall('HINCRBY', KEYS[6], 'draw:awarded', 1)
      if cursor > lastWinner then rcall('HINCRBY', KEYS[6], 'draw:alternates', 1) end
      for _, value in ipairs({ orderId, userId, quantity, cursor, expiresAt, amount, currency }) do
        reply[#reply + 1] = value
      end
    else
      rcall('HINCRBY', KEYS[6], 'draw:passed_over', 1)
    end
    cursor = cursor + 1
  end
  rcall('HSET', KEYS[1], 'drawCursor', cursor)
  if awarded > 0 then rcall('HINCRBY', KEYS[1], 'version', 1) end
end
reply[2] = cursor
reply[4] = remaining
return reply
