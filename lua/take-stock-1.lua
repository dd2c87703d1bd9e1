--[[
  Take units from one shard of a sharded sale, for a buyer whose home shard
  has run out (the buyer's limit and order are then checked and recorded on
  the home shard by reserve-8.lua with ARGV[6] = this shard's index).

  KEYS[1] shard hash  {sale:<id>#<n>} (or {sale:<id>} for shard 0)

  ARGV[1] quantity

  Returns { code, remaining }:
     1  taken
     0  not enough units on this shard (nothing taken)
    -1  no such shard
]]
local remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining'))
if remaining == nil then
  return { -1, 0 }
end
local quantity = tonumber(ARGV[1])
if remaining < quantity then
  return { 0, remaining }
end
return { 1, redis.call('HINCRBY', KEYS[1], 'remaining', -quantity) }
