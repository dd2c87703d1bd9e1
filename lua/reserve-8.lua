--[[
  Reserve units of a sale for one buyer, atomically: every check and every
  write happens in this one call, so concurrent buyers can never oversell.

  KEYS[1] sale hash          {sale:<id>}          (remaining, stock, perUserLimit, startsAt, endsAt, version, ...)
  KEYS[2] units per buyer    {sale:<id>}:buyers   (userId -> units held)
  KEYS[3] orders             {sale:<id>}:orders   (orderId -> JSON order record)
  KEYS[4] idempotency index  {sale:<id>}:idem     (userId .. "\n" .. key -> orderId)
  KEYS[5] buyer's rate bucket {sale:<id>}:rate:<userId>  (tokens, at); expires once full again
  KEYS[6] live counters      {sale:<id>}:stats    (outcome -> count), read by the stats endpoint
  KEYS[7] hold expiries      {sale:<id>}:holds    (sorted set: orderId, score = expiresAt ms)
  KEYS[8] history outbox     {sale:<id>}:events   (list of JSON events for Postgres, drained by expire-holds)

  ARGV[1] user id
  ARGV[2] quantity (positive integer; the caller validates it)
  ARGV[3] now, ms since the epoch (the sale window is checked against it)
  ARGV[4] order id to use if the buy is accepted
  ARGV[5] idempotency key, or '' when the request carries none
  ARGV[6] '' normally; for a sharded sale whose home shard ran out, the index of
          the shard the units were already taken from (take-stock-1.lua): this
          call then checks and records everything except stock, and records where
          the units came from so a release gives them back there
  ARGV[7] '1' when a stock refusal (-4, -5) must not be counted here, because the
          caller will look for units on other shards first (sharded sales)

  Sales with a hold (sale field holdSeconds > 0, unsharded sales only): an
  accepted buy records the order as held (payment = 'held', expiresAt, the
  amount due) and adds it to the hold expiries. Before stock is checked, up to
  5 holds whose time is up are expired in this same call (their units back in
  stock, exactly once: see expire-holds-6.lua, whose expireHold is the same
  code), and up to 200 more if the buy would otherwise be refused for stock or
  the per-user limit. So units a buyer did not pay for are buyable the moment
  a buyer asks, with no schedule on the hot path.

  Returns { code, orderId, remaining, version, expiresAt, amountDue, currency }
  (the last three '' unless the order is a new hold):
     1  accepted
     2  replay: this user already bought with this idempotency key; orderId is the original
    -1  sale not found
    -2  sale not open yet
    -3  sale ended
    -4  sold out
    -5  not enough units left for the quantity asked
    -6  per-user limit reached
    -7  rate limited: the buyer sent too many buy requests; the third value is the wait in ms
    -8  sale paused by an operator (sale field paused = '1', set on every shard by sale-control-1.lua)
    -9  the sale is a draw (sale field mode = 'draw'): its units go to drawn entries, never to buys

  Every key may be missing: a missing sale is -1, a missing buyer counts as 0,
  a missing bucket is full.

  Order of the checks: a request that Redis already accepted (a resend of this
  very reserve, or a retry with the Idempotency-Key of an accepted buy) gets its
  order back first, at any moment: before the rate limit, the sale window and
  the stock. It takes nothing, so it costs no token.

  The rate limit is a token bucket per buyer and sale (sale fields rateBurst,
  ratePerSecond; defaults 5 and 1): a few quick clicks pass, a script hammering
  buy is refused before any work on stock. Every other buy request takes a token.

  A paused sale refuses every new buy before the rate limit (a paused buyer
  keeps their tokens); replays of orders accepted before the pause still get
  their order back. The flag lives in the sale's hash, read by this one call,
  so a pause binds every container from the next buy on.
]]
local rcall = redis.call

-- Every outcome is counted here, in the same call, so the dashboard costs the
-- buy path no extra round trip.
local function outcome(field, reply)
  rcall('HINCRBY', KEYS[6], field, 1)
  return reply
end

-- BEGIN expireHold (the same text in reserve-8.lua, expire-holds-6.lua and pay-7.lua;
-- test/unit/lua-shared.test.ts keeps them equal)
-- Expires one held order whose time is up: its units go back to stock, its
-- buyer's count and idempotency entry are dropped, and the event goes to the
-- history outbox. Exactly once: an order that is no longer held is left alone.
local function expireHold(k, orderId, nowMs)
  rcall('ZREM', k.holds, orderId)
  local raw = rcall('HGET', k.orders, orderId)
  if not raw then return 0 end
  local order = cjson.decode(raw)
  if order.payment ~= 'held' then return 0 end
  order.payment = 'expired'
  order.expiredAt = nowMs
  rcall('HSET', k.orders, orderId, cjson.encode(order))
  local quantity = tonumber(order.quantity)
  if rcall('EXISTS', k.sale) == 1 then
    rcall('HINCRBY', k.sale, 'remaining', quantity)
    rcall('HINCRBY', k.sale, 'held', -quantity)
    rcall('HINCRBY', k.sale, 'expiredUnits', quantity)
    -- Stock came back: readers caching "sold out" must see a new version.
    rcall('HINCRBY', k.sale, 'version', 1)
  end
  if rcall('HINCRBY', k.buyers, order.userId, -quantity) <= 0 then
    rcall('HDEL', k.buyers, order.userId)
  end
  local key = order.idempotencyKey or ''
  if key ~= '' then
    local idemField = order.userId .. '\n' .. key
    if rcall('HGET', k.idem, idemField) == orderId then rcall('HDEL', k.idem, idemField) end
  end
  rcall('RPUSH', k.events, cjson.encode({ event = 'expired', orderId = orderId, at = nowMs }))
  return quantity
end

-- Expires up to `limit` holds whose expiresAt is at or before nowMs; returns how many were due.
local function expireDue(k, nowMs, limit)
  local due = rcall('ZRANGEBYSCORE', k.holds, '-inf', nowMs, 'LIMIT', 0, limit)
  for _, orderId in ipairs(due) do expireHold(k, orderId, nowMs) end
  return #due
end
-- END expireHold

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

local sale = rcall('HMGET', KEYS[1], 'remaining', 'perUserLimit', 'startsAt', 'endsAt', 'version',
  'rateBurst', 'ratePerSecond', 'holdSeconds', 'priceAmount', 'priceCurrency', 'paused', 'mode')
local remaining = tonumber(sale[1])
if remaining == nil then
  return { -1, '', 0, 0, '', '', '' }
end
local version = tonumber(sale[5]) or 0
local now = tonumber(ARGV[3])

local borrowedFrom = ARGV[6]
local borrowed = borrowedFrom ~= ''
local countStockRefusals = ARGV[7] ~= '1'

local userId = ARGV[1]

-- This very order exists already: the command is a resend of a reserve whose
-- reply was lost (ioredis resends after a reconnect). Answer it as the
-- reservation it made, without taking stock or counting it again.
if rcall('HEXISTS', KEYS[3], ARGV[4]) == 1 then
  return { 1, ARGV[4], remaining, version, '', '', '' }
end
local idemField = nil
if ARGV[5] ~= '' then
  idemField = userId .. '\n' .. ARGV[5]
  local original = rcall('HGET', KEYS[4], idemField)
  if original then
    return outcome('replayed', { 2, original, remaining, version, '', '', '' })
  end
end

if sale[12] == 'draw' then
  return outcome('refused:DRAW_SALE', { -9, '', remaining, version, '', '', '' })
end

if sale[11] == '1' then
  return outcome('refused:SALE_PAUSED', { -8, '', remaining, version, '', '', '' })
end

local burst = tonumber(sale[6]) or 5
local perSecond = tonumber(sale[7]) or 1
-- A borrowed call is the second half of a request whose token was already taken.
if burst > 0 and perSecond > 0 and not borrowed then
  local wait = takeToken(KEYS[5], burst, perSecond, now, ARGV[3])
  if wait then
    return outcome('rate_limited', { -7, '', wait, version, '', '', '' })
  end
end

local startsAt = tonumber(sale[3]) or 0
if now < startsAt then
  return outcome('refused:SALE_NOT_OPEN', { -2, '', remaining, version, '', '', '' })
end
local endsAt = tonumber(sale[4]) or 0
if endsAt > 0 and now >= endsAt then
  return outcome('refused:SALE_ENDED', { -3, '', remaining, version, '', '', '' })
end
local quantity = tonumber(ARGV[2])
local limit = tonumber(sale[2]) or 0
local holdSeconds = tonumber(sale[8]) or 0
if holdSeconds > 0 and not borrowed then
  local k = { sale = KEYS[1], buyers = KEYS[2], orders = KEYS[3], idem = KEYS[4], holds = KEYS[7],
    events = KEYS[8] }
  if expireDue(k, ARGV[3], 5) == 5 then
    -- More may be due: if this buy would be refused for stock or its limit, expire more first.
    local left = tonumber(rcall('HGET', KEYS[1], 'remaining')) or 0
    local mine = tonumber(rcall('HGET', KEYS[2], userId)) or 0
    if left < quantity or mine + quantity > limit then expireDue(k, ARGV[3], 200) end
  end
  local now2 = rcall('HMGET', KEYS[1], 'remaining', 'version')
  remaining = tonumber(now2[1]) or remaining
  version = tonumber(now2[2]) or version
end

if remaining <= 0 and not borrowed then
  if not countStockRefusals then return { -4, '', remaining, version, '', '', '' } end
  return outcome('refused:SOLD_OUT', { -4, '', remaining, version, '', '', '' })
end

local held = tonumber(rcall('HGET', KEYS[2], userId)) or 0
if held + quantity > limit then
  return outcome('refused:LIMIT_REACHED', { -6, '', remaining, version, '', '', '' })
end
if quantity > remaining and not borrowed then
  if not countStockRefusals then return { -5, '', remaining, version, '', '', '' } end
  return outcome('refused:INSUFFICIENT_STOCK', { -5, '', remaining, version, '', '', '' })
end

local orderId = ARGV[4]
if not borrowed then
  remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
end
rcall('HINCRBY', KEYS[2], userId, quantity)
local record = {
  state = 'reserved',
  userId = userId,
  quantity = quantity,
  reservedAt = ARGV[3],
  idempotencyKey = ARGV[5],
  stockShard = borrowedFrom,
}
local expiresAt, amountDue, currency = '', '', ''
if holdSeconds > 0 and not borrowed then
  expiresAt = string.format('%.0f', now + holdSeconds * 1000)
  amountDue = string.format('%.0f', (tonumber(sale[9]) or 0) * quantity)
  currency = sale[10] or ''
  record.payment = 'held'
  record.expiresAt = expiresAt
  record.amount = amountDue
  record.currency = currency
  rcall('ZADD', KEYS[7], expiresAt, orderId)
  rcall('HINCRBY', KEYS[1], 'held', quantity)
end
rcall('HSET', KEYS[3], orderId, cjson.encode(record))
if idemField then
  rcall('HSET', KEYS[4], idemField, orderId)
end
rcall('HINCRBY', KEYS[6], 'units', quantity)
return outcome('accepted', { 1, orderId, remaining, version, expiresAt, amountDue, currency })
