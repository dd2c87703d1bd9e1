--[[
  Reserve units of a sale for one buyer, atomically: every check and every
  write happens in this one call, so concurrent buyers can never oversell.

  KEYS[1] sale hash          {sale:<id>}          (remaining, stock, perUserLimit, startsAt, endsAt, version, ...)
  KEYS[2] units per buyer    {sale:<id>}:buyers   (userId -> units held)
  KEYS[3] orders             {sale:<id>}:orders   (orderId -> JSON order record)
  KEYS[4] idempotency index  {sale:<id>}:idem     (userId .. "\n" .. key -> orderId)
  KEYS[5] buyer's rate bucket {sale:<id>}:rate:<userId>  (tokens, at); expires once full again
  KEYS[6] live counters      {sale:<id>}:stats    (outcome -> count), read by the stats endpoint

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

  Returns { code, orderId, remaining, version }:
     1  accepted
     2  replay: this user already bought with this idempotency key; orderId is the original
    -1  sale not found
    -2  sale not open yet
    -3  sale ended
    -4  sold out
    -5  not enough units left for the quantity asked
    -6  per-user limit reached
    -7  rate limited: the buyer sent too many buy requests; the third value is the wait in ms

  Every key may be missing: a missing sale is -1, a missing buyer counts as 0,
  a missing bucket is full.

  Order of the checks: a request that Redis already accepted (a resend of this
  very reserve, or a retry with the Idempotency-Key of an accepted buy) gets its
  order back first, at any moment: before the rate limit, the sale window and
  the stock. It takes nothing, so it costs no token.

  The rate limit is a token bucket per buyer and sale (sale fields rateBurst,
  ratePerSecond; defaults 5 and 1): a few quick clicks pass, a script hammering
  buy is refused before any work on stock. Every other buy request takes a token.
]]
local rcall = redis.call

-- Every outcome is counted here, in the same call, so the dashboard costs the
-- buy path no extra round trip.
local function outcome(field, reply)
  rcall('HINCRBY', KEYS[6], field, 1)
  return reply
end

local sale = rcall('HMGET', KEYS[1], 'remaining', 'perUserLimit', 'startsAt', 'endsAt', 'version',
  'rateBurst', 'ratePerSecond')
local remaining = tonumber(sale[1])
if remaining == nil then
  return { -1, '', 0, 0 }
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
  return { 1, ARGV[4], remaining, version }
end
local idemField = nil
if ARGV[5] ~= '' then
  idemField = userId .. '\n' .. ARGV[5]
  local original = rcall('HGET', KEYS[4], idemField)
  if original then
    return outcome('replayed', { 2, original, remaining, version })
  end
end

local burst = tonumber(sale[6]) or 5
local perSecond = tonumber(sale[7]) or 1
-- A borrowed call is the second half of a request whose token was already taken.
if burst > 0 and perSecond > 0 and not borrowed then
  local bucket = rcall('HMGET', KEYS[5], 'tokens', 'at')
  local tokens = tonumber(bucket[1])
  local at = tonumber(bucket[2]) or now
  if tokens == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - at) * perSecond / 1000)
  end
  if tokens < 1 then
    return outcome('rate_limited', { -7, '', math.ceil((1 - tokens) * 1000 / perSecond), version })
  end
  rcall('HSET', KEYS[5], 'tokens', tostring(tokens - 1), 'at', ARGV[3])
  rcall('PEXPIRE', KEYS[5], math.ceil(burst * 1000 / perSecond) + 1000)
end

local startsAt = tonumber(sale[3]) or 0
if now < startsAt then
  return outcome('refused:SALE_NOT_OPEN', { -2, '', remaining, version })
end
local endsAt = tonumber(sale[4]) or 0
if endsAt > 0 and now >= endsAt then
  return outcome('refused:SALE_ENDED', { -3, '', remaining, version })
end
if remaining <= 0 and not borrowed then
  if not countStockRefusals then return { -4, '', remaining, version } end
  return outcome('refused:SOLD_OUT', { -4, '', remaining, version })
end

local quantity = tonumber(ARGV[2])
local held = tonumber(rcall('HGET', KEYS[2], userId)) or 0
local limit = tonumber(sale[2]) or 0
if held + quantity > limit then
  return outcome('refused:LIMIT_REACHED', { -6, '', remaining, version })
end
if quantity > remaining and not borrowed then
  if not countStockRefusals then return { -5, '', remaining, version } end
  return outcome('refused:INSUFFICIENT_STOCK', { -5, '', remaining, version })
end

local orderId = ARGV[4]
if not borrowed then
  remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
end
rcall('HINCRBY', KEYS[2], userId, quantity)
rcall('HSET', KEYS[3], orderId, cjson.encode({
  state = 'reserved',
  userId = userId,
  quantity = quantity,
  reservedAt = ARGV[3],
  idempotencyKey = ARGV[5],
  stockShard = borrowedFrom,
}))
if idemField then
  rcall('HSET', KEYS[4], idemField, orderId)
end
rcall('HINCRBY', KEYS[6], 'units', quantity)
return outcome('accepted', { 1, orderId, remaining, version })
