--[[
  Reserve units of a sale for one buyer, atomically: every check and every
  write happens in this one call, so concurrent buyers can never oversell.

  KEYS[1] sale hash          {sale:<id>}          (remaining, stock, perUserLimit, startsAt, endsAt, version, ...)
  KEYS[2] units per buyer    {sale:<id>}:buyers   (userId -> units held)
  KEYS[3] orders             {sale:<id>}:orders   (orderId -> JSON order record)
  KEYS[4] idempotency index  {sale:<id>}:idem     (userId .. "\n" .. key -> orderId)

  ARGV[1] user id
  ARGV[2] quantity (positive integer; the caller validates it)
  ARGV[3] now, ms since the epoch (the sale window is checked against it)
  ARGV[4] order id to use if the buy is accepted
  ARGV[5] idempotency key, or '' when the request carries none

  Returns { code, orderId, remaining, version }:
     1  accepted
     2  replay: this user already bought with this idempotency key; orderId is the original
    -1  sale not found
    -2  sale not open yet
    -3  sale ended
    -4  sold out
    -5  not enough units left for the quantity asked
    -6  per-user limit reached

  Every key may be missing: a missing sale is -1, a missing buyer counts as 0.
]]
local rcall = redis.call

local sale = rcall('HMGET', KEYS[1], 'remaining', 'perUserLimit', 'startsAt', 'endsAt', 'version')
local remaining = tonumber(sale[1])
if remaining == nil then
  return { -1, '', 0, 0 }
end
local version = tonumber(sale[5]) or 0

local userId = ARGV[1]
local idemField = nil
if ARGV[5] ~= '' then
  idemField = userId .. '\n' .. ARGV[5]
  local original = rcall('HGET', KEYS[4], idemField)
  if original then
    return { 2, original, remaining, version }
  end
end

local now = tonumber(ARGV[3])
local startsAt = tonumber(sale[3]) or 0
if now < startsAt then
  return { -2, '', remaining, version }
end
local endsAt = tonumber(sale[4]) or 0
if endsAt > 0 and now >= endsAt then
  return { -3, '', remaining, version }
end
if remaining <= 0 then
  return { -4, '', remaining, version }
end

local quantity = tonumber(ARGV[2])
local held = tonumber(rcall('HGET', KEYS[2], userId)) or 0
local limit = tonumber(sale[2]) or 0
if held + quantity > limit then
  return { -6, '', remaining, version }
end
if quantity > remaining then
  return { -5, '', remaining, version }
end

local orderId = ARGV[4]
remaining = rcall('HINCRBY', KEYS[1], 'remaining', -quantity)
rcall('HINCRBY', KEYS[2], userId, quantity)
rcall('HSET', KEYS[3], orderId, cjson.encode({
  state = 'reserved',
  userId = userId,
  quantity = quantity,
  reservedAt = ARGV[3],
  idempotencyKey = ARGV[5],
}))
if idemField then
  rcall('HSET', KEYS[4], idemField, orderId)
end
return { 1, orderId, remaining, version }
