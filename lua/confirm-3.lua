--[[
  Mark a reserved order confirmed before its row is written, so a release
  (after a failed or timed-out send) and a persist can never both win: the
  first of the two to run decides.

  When Redis no longer knows the order (its data was lost, e.g. a restart
  inside the AOF fsync window), the order is put back from the message: the
  row is the truth, and Redis must count the units as sold again.

  KEYS[1] sale hash          {sale:<id>}
  KEYS[2] units per buyer    {sale:<id>}:buyers
  KEYS[3] orders             {sale:<id>}:orders

  ARGV[1] order id
  ARGV[2] user id        (from the message; used only to restore)
  ARGV[3] quantity       (likewise)
  ARGV[4] reservedAt ms  (likewise)
  ARGV[5] now ms

  Returns { code, remaining }:
     1  confirmed now
     0  already confirmed (a redelivery)
     2  restored: Redis had lost the order; it is recorded again and its units counted as sold
     3  restored, but remaining went below zero: units were sold twice while Redis was behind
    -1  released: the buyer was told the buy failed; the message must be dropped, not persisted
    -2  the sale itself is unknown to Redis
]]
local rcall = redis.call

local raw = rcall('HGET', KEYS[3], ARGV[1])
if raw then
  local order = cjson.decode(raw)
  local remaining = tonumber(rcall('HGET', KEYS[1], 'remaining')) or 0
  if order.state == 'confirmed' then
    return { 0, remaining }
  end
  if order.state == 'released' then
    return { -1, remaining }
  end
  order.state = 'confirmed'
  order.confirmedAt = ARGV[5]
  rcall('HSET', KEYS[3], ARGV[1], cjson.encode(order))
  return { 1, remaining }
end

if rcall('EXISTS', KEYS[1]) == 0 then
  return { -2, 0 }
end
local quantity = tonumber(ARGV[3])
local remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
rcall('HINCRBY', KEYS[2], ARGV[2], quantity)
rcall('HSET', KEYS[3], ARGV[1], cjson.encode({
  state = 'confirmed',
  userId = ARGV[2],
  quantity = quantity,
  reservedAt = ARGV[4],
  idempotencyKey = '',
  confirmedAt = ARGV[5],
  restored = true,
}))
if remaining < 0 then
  return { 3, remaining }
end
return { 2, remaining }
