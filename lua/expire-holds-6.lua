--[[
  Expire the holds of a sale whose time is up, atomically: each held order
  whose expiresAt is at or before now gets its units back on sale, exactly
  once (a paid or already expired order is left alone, so a payment and an
  expiry never both win). Run by the sweeper (lambdas/domain/expire-holds.ts)
  for sales no buyer touches; reserve-8.lua runs the same expireHold itself.

  KEYS[1] sale hash          {sale:<id>}
  KEYS[2] units per buyer    {sale:<id>}:buyers
  KEYS[3] orders             {sale:<id>}:orders
  KEYS[4] idempotency index  {sale:<id>}:idem
  KEYS[5] hold expiries      {sale:<id>}:holds   (sorted set, score = expiresAt ms)
  KEYS[6] history outbox     {sale:<id>}:events

  ARGV[1] now, ms since the epoch
  ARGV[2] most holds to expire in this call

  Returns { code, due, remaining, oldestDueAt, more }:
     1  done; due = holds examined (expired or found already settled); remaining
        = the sale's remaining after; oldestDueAt = expiresAt of the oldest hold
        that was due when the call began ('' when none), for the lag metric;
        more = 1 when holds are still due after this call
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

local k = { sale = KEYS[1], buyers = KEYS[2], orders = KEYS[3], idem = KEYS[4], holds = KEYS[5],
  events = KEYS[6] }
local oldest = rcall('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 1)
local due = expireDue(k, ARGV[1], tonumber(ARGV[2]))
local more = rcall('ZCOUNT', KEYS[5], '-inf', ARGV[1]) > 0 and 1 or 0
local remaining = tonumber(rcall('HGET', KEYS[1], 'remaining')) or 0
return { 1, due, remaining, oldest[2] or '', more }
