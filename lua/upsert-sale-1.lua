--[[
  Create a sale, or change an existing one (restock, new limit, new window).
  `stock` is the total number of units the sale offers, not a delta, so a
  retried admin call lands on the same state. Units already sold stay sold:
  remaining = stock - sold, and a stock below what is sold is refused.

  KEYS[1] sale hash  {sale:<id>}

  ARGV[1] name
  ARGV[2] stock (total units, integer >= 0)
  ARGV[3] per-user limit (integer >= 1)
  ARGV[4] startsAt, ms since the epoch (0 = open from now)
  ARGV[5] endsAt, ms since the epoch (0 = no end)
  ARGV[6] now, ms since the epoch
  ARGV[7] rate limit burst: buy requests a buyer may send at once (0 = no limit)
  ARGV[8] rate limit refill, requests per second
  ARGV[9] number of stock shards of the sale (this hash is one of them; 1 = unsharded)
  ARGV[10] hold: seconds a buyer has to pay ('' or '0' = no hold: an accepted buy is a sale)
  ARGV[11] price per unit, minor units ('' = no price)
  ARGV[12] price currency, ISO 4217 lower case ('' with no price)
  ARGV[13] 'draw' for a draw (docs/draws.md), '' for a first-come sale
  ARGV[14] a draw's entriesOpenAt, ms since the epoch (0 = open from now)
  ARGV[15] a draw's entriesCloseAt, ms since the epoch
  ARGV[16] a draw's secret seed (hex), ARGV[17] its secret salt (hex),
  ARGV[18] the seed's commitment, sha256(seed) in hex: written only when the
           sale is created, never changed after (the commitment is public from
           the first answer on)

  A draw's entry window can be moved until its entries are frozen
  (drawState set by freeze-draw-1.lua); after that it stays as it was.

  A sale without hold or price has no such fields at all, so it reads exactly
  as before they existed. A changed hold applies to buys from now on; holds
  already running keep their expiresAt and amount due.

  Returns { code, remaining, version }:
     1  created
     0  updated
    -1  refused: stock would fall below units already sold (remaining holds the sold count)
]]
local rcall = redis.call

-- A draw's window, while its entries are not frozen yet.
local function drawWindow()
  if (ARGV[13] or '') ~= 'draw' then return end
  if rcall('HEXISTS', KEYS[1], 'drawState') == 1 then return end
  rcall('HSET', KEYS[1], 'entriesOpenAt', ARGV[14], 'entriesCloseAt', ARGV[15])
end

-- Hold and price: set when given, removed when not.
local function holdAndPrice()
  local hold = tonumber(ARGV[10] or '') or 0
  if hold > 0 then
    rcall('HSET', KEYS[1], 'holdSeconds', hold)
  else
    rcall('HDEL', KEYS[1], 'holdSeconds')
  end
  if (ARGV[11] or '') ~= '' then
    rcall('HSET', KEYS[1], 'priceAmount', ARGV[11], 'priceCurrency', ARGV[12])
  else
    rcall('HDEL', KEYS[1], 'priceAmount', 'priceCurrency')
  end
end

local stock = tonumber(ARGV[2])
local current = rcall('HMGET', KEYS[1], 'stock', 'remaining', 'version')
local oldStock = tonumber(current[1])

if oldStock == nil then
  rcall('HSET', KEYS[1],
    'name', ARGV[1], 'stock', stock, 'remaining', stock, 'perUserLimit', ARGV[3],
    'startsAt', ARGV[4], 'endsAt', ARGV[5], 'version', 1, 'createdAt', ARGV[6], 'updatedAt', ARGV[6],
    'rateBurst', ARGV[7], 'ratePerSecond', ARGV[8], 'shards', ARGV[9])
  holdAndPrice()
  if (ARGV[13] or '') == 'draw' then
    rcall('HSET', KEYS[1], 'mode', 'draw', 'drawSeed', ARGV[16], 'drawSalt', ARGV[17],
      'drawCommitment', ARGV[18], 'entries', 0)
    drawWindow()
  end
  return { 1, stock, 1 }
end

local sold = oldStock - (tonumber(current[2]) or 0)
if stock < sold then
  return { -1, sold, tonumber(current[3]) or 0 }
end
local remaining = stock - sold
rcall('HSET', KEYS[1],
  'name', ARGV[1], 'stock', stock, 'remaining', remaining, 'perUserLimit', ARGV[3],
  'startsAt', ARGV[4], 'endsAt', ARGV[5], 'updatedAt', ARGV[6],
  'rateBurst', ARGV[7], 'ratePerSecond', ARGV[8])
drawWindow()
-- Any change may turn a sold-out or closed sale back on: bump the version.
local version = rcall('HINCRBY', KEYS[1], 'version', 1)
return { 0, remaining, version }
