--[[
  Give a reserved order's units back: stock, the buyer's count and the
  idempotency entry, so a retry of the same buy can reserve afresh.
  At most once per order: a second call finds the order released and does nothing.
  A confirmed order (its row is in Postgres) is never released. A held order
  (sale with a hold) becomes payment 'cancelled'; its entry in the hold
  expiries is dropped by the next sweep, which finds it no longer held.

  KEYS[1] sale hash          {sale:<id>}
  KEYS[2] units per buyer    {sale:<id>}:buyers
  KEYS[3] orders             {sale:<id>}:orders
  KEYS[4] idempotency index  {sale:<id>}:idem

  ARGV[1] order id

  An order whose units were borrowed from another shard of a sharded sale
  (its record's stockShard is set) leaves this shard's stock alone; the third
  value tells the caller which shard to give the units back to (give-back-1.lua).

  Returns { code, remaining, stockShard, quantity }:
     1  released now
     0  already released (nothing done)
    -1  unknown order
    -2  order already confirmed; it cannot be released
]]
local rcall = redis.call

local raw = rcall('HGET', KEYS[3], ARGV[1])
if not raw then
  return { -1, 0, '', 0 }
end
local order = cjson.decode(raw)
local remaining = tonumber(rcall('HGET', KEYS[1], 'remaining')) or 0
local stockShard = order.stockShard or ''
if order.state == 'released' then
  return { 0, remaining, stockShard, order.quantity }
end
if order.state == 'confirmed' then
  return { -2, remaining, stockShard, order.quantity }
end

order.state = 'released'
-- A hold (sale with holdSeconds) ends with its release: never payable, never expired later.
local wasHeld = order.payment == 'held'
if wasHeld then order.payment = 'cancelled' end
rcall('HSET', KEYS[3], ARGV[1], cjson.encode(order))

-- The sale may have been deleted meanwhile; never recreate it as a stub.
if stockShard == '' and rcall('EXISTS', KEYS[1]) == 1 then
  remaining = rcall('HINCRBY', KEYS[1], 'remaining', order.quantity)
  if wasHeld then rcall('HINCRBY', KEYS[1], 'held', -order.quantity) end
  -- Stock came back: readers caching "sold out" must see a new version.
  rcall('HINCRBY', KEYS[1], 'version', 1)
end
if rcall('HINCRBY', KEYS[2], order.userId, -order.quantity) <= 0 then
  rcall('HDEL', KEYS[2], order.userId)
end
if order.idempotencyKey ~= '' then
  local idemField = order.userId .. '\n' .. order.idempotencyKey
  if rcall('HGET', KEYS[4], idemField) == ARGV[1] then
    rcall('HDEL', KEYS[4], idemField)
  end
end
return { 1, remaining, stockShard, order.quantity }
