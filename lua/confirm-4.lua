--[[
  Mark a reserved order confirmed before its row is written, so a release
  (after a failed or timed-out send) and a persist can never both win: the
  first of the two to run decides.

  The message must describe the order Redis recorded (same buyer, same
  quantity); one that does not is refused (-3), so a forged or corrupted
  message can never write a row unlike the reservation.

  When Redis no longer knows the order (its data was lost, e.g. a failover or
  a restart inside the AOF fsync window), the order is put back from the
  message, but only as the sale allows: the buyer's units stay within the
  per-user limit and the stock covers them. A restore the sale does not allow
  is refused (-4) and noted in the rejected hash for reconcile, and nothing is
  counted: what a message claims never enters stock accounting unchecked.
  Reconcile restores an order from its row (the row is the truth: its units
  are sold) with ARGV[6] = 'row', which counts them even past the stock (3).

  KEYS[1] sale hash          {sale:<id>}
  KEYS[2] units per buyer    {sale:<id>}:buyers
  KEYS[3] orders             {sale:<id>}:orders
  KEYS[4] rejected restores  {sale:<id>}:rejected  (orderId -> JSON { userId, quantity, reservedAt, reason, at })

  ARGV[1] order id
  ARGV[2] user id        (from the message or row)
  ARGV[3] quantity       (likewise)
  ARGV[4] reservedAt ms  (likewise; used only to restore)
  ARGV[5] now ms
  ARGV[6] 'message' (the consumer) or 'row' (reconcile, from a persisted row)

  Returns { code, remaining, reason }:
     1  confirmed now
     0  already confirmed (a redelivery)
     2  restored: Redis had lost the order; it is recorded again and its units counted as sold
     3  restored from a row, but remaining went below zero: units were sold twice while Redis was behind
    -1  released: the buyer was told the buy failed; the message must be dropped, not persisted
    -2  the sale itself is unknown to Redis
    -3  the message does not match the order Redis recorded (buyer or quantity differ)
    -4  restore refused by the sale; reason is OVER_LIMIT or OVER_STOCK
]]
local rcall = redis.call

local userId = ARGV[2]
local quantity = tonumber(ARGV[3])

local raw = rcall('HGET', KEYS[3], ARGV[1])
if raw then
  local order = cjson.decode(raw)
  local remaining = tonumber(rcall('HGET', KEYS[1], 'remaining')) or 0
  if order.userId ~= userId or tonumber(order.quantity) ~= quantity then
    return { -3, remaining, '' }
  end
  if order.state == 'confirmed' then
    return { 0, remaining, '' }
  end
  if order.state == 'released' then
    return { -1, remaining, '' }
  end
  order.state = 'confirmed'
  order.confirmedAt = ARGV[5]
  rcall('HSET', KEYS[3], ARGV[1], cjson.encode(order))
  return { 1, remaining, '' }
end

local sale = rcall('HMGET', KEYS[1], 'remaining', 'perUserLimit')
local remaining = tonumber(sale[1])
if remaining == nil then
  return { -2, 0, '' }
end

if ARGV[6] ~= 'row' then
  local held = tonumber(rcall('HGET', KEYS[2], userId)) or 0
  local reason = nil
  if held + quantity > (tonumber(sale[2]) or 0) then
    reason = 'OVER_LIMIT'
  elseif quantity > remaining then
    reason = 'OVER_STOCK'
  end
  if reason then
    rcall('HSET', KEYS[4], ARGV[1], cjson.encode({
      userId = userId,
      quantity = quantity,
      reservedAt = ARGV[4],
      reason = reason,
      at = ARGV[5],
    }))
    return { -4, remaining, reason }
  end
end

remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
rcall('HINCRBY', KEYS[2], userId, quantity)
rcall('HSET', KEYS[3], ARGV[1], cjson.encode({
  state = 'confirmed',
  userId = userId,
  quantity = quantity,
  reservedAt = ARGV[4],
  idempotencyKey = '',
  confirmedAt = ARGV[5],
  restored = true,
}))
rcall('HDEL', KEYS[4], ARGV[1])
if remaining < 0 then
  return { 3, remaining, '' }
end
return { 2, remaining, '' }
