--[[
  Record a payment for a held order, atomically against its expiry: exactly
  one of the two wins. A payment for a hold still running (now < expiresAt)
  with the amount and currency due makes the order paid; a payment that comes
  after the hold ended does not bring the order back: the hold is expired now
  if the sweep had not got to it yet (its units back on sale) and the payment
  is recorded as refund_due. Redelivered events change nothing.

  KEYS[1] sale hash          {sale:<id>}
  KEYS[2] units per buyer    {sale:<id>}:buyers
  KEYS[3] orders             {sale:<id>}:orders
  KEYS[4] idempotency index  {sale:<id>}:idem
  KEYS[5] hold expiries      {sale:<id>}:holds
  KEYS[6] history outbox     {sale:<id>}:events
  KEYS[7] payment anomalies  {sale:<id>}:anomalies  (orderId -> JSON, for reconcile)

  ARGV[1] order id
  ARGV[2] amount received, minor units
  ARGV[3] currency (lower case, as the provider writes it)
  ARGV[4] now, ms since the epoch
  ARGV[5] the provider's payment reference (payment intent id)

  Returns { code, state, expiresAt }:
     1  paid now
     0  already paid (a redelivery): nothing changed
     2  late: the hold had ended; the payment is recorded as refund_due
     3  late, already recorded as refund_due (a redelivery): nothing changed
    -1  unknown order
    -2  the order was never held for payment (its sale has no hold, or it was released)
    -3  amount or currency differ from what is due: nothing changed, recorded as an anomaly
]]
local rcall = redis.call

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

local orderId = ARGV[1]
local nowMs = ARGV[4]
local raw = rcall('HGET', KEYS[3], orderId)
if not raw then return { -1, '', '' } end
local order = cjson.decode(raw)
local payment = order.payment
if payment == nil or payment == 'cancelled' then return { -2, payment or '', '' } end
if payment == 'paid' then return { 0, payment, order.expiresAt } end
if payment == 'refund_due' then return { 3, payment, order.expiresAt } end

local k = { sale = KEYS[1], buyers = KEYS[2], orders = KEYS[3], idem = KEYS[4], holds = KEYS[5],
  events = KEYS[6] }
if payment == 'held' and tonumber(nowMs) >= tonumber(order.expiresAt) then
  expireHold(k, orderId, nowMs)
  payment = 'expired'
end
if payment == 'expired' then
  -- Re-read: expireHold rewrote the record.
  order = cjson.decode(rcall('HGET', KEYS[3], orderId))
  order.payment = 'refund_due'
  order.refundDueAt = nowMs
  order.received = { amount = ARGV[2], currency = ARGV[3], reference = ARGV[5] }
  rcall('HSET', KEYS[3], orderId, cjson.encode(order))
  rcall('RPUSH', KEYS[6], cjson.encode({ event = 'refund_due', orderId = orderId, at = nowMs,
    amount = ARGV[2], currency = ARGV[3], reference = ARGV[5] }))
  return { 2, 'refund_due', order.expiresAt }
end

if order.amount ~= ARGV[2] or order.currency ~= ARGV[3] then
  rcall('HSET', KEYS[7], orderId, cjson.encode({ reason = 'AMOUNT_MISMATCH', at = nowMs,
    amount = ARGV[2], currency = ARGV[3], due = order.amount, dueCurrency = order.currency,
    reference = ARGV[5] }))
  return { -3, payment, order.expiresAt }
end

order.payment = 'paid'
order.paidAt = nowMs
order.reference = ARGV[5]
rcall('HSET', KEYS[3], orderId, cjson.encode(order))
rcall('ZREM', KEYS[5], orderId)
if rcall('EXISTS', KEYS[1]) == 1 then
  rcall('HINCRBY', KEYS[1], 'held', -tonumber(order.quantity))
  rcall('HINCRBY', KEYS[1], 'paid', tonumber(order.quantity))
end
rcall('RPUSH', KEYS[6], cjson.encode({ event = 'paid', orderId = orderId, at = nowMs,
  amount = ARGV[2], currency = ARGV[3], reference = ARGV[5] }))
return { 1, 'paid', order.expiresAt }
