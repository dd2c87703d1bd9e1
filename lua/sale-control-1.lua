--[[
  An operator's control on one shard hash of a sale: pause or resume buying.
  The adapter calls it on every shard of the sale (shard 0 last), so every
  reserve (lua/reserve-8.lua reads the flag from the buyer's home shard) sees
  it from its next call on, on every container.

  KEYS[1] sale hash  {sale:<id>} (or {sale:<id>#<n>} for shard n)

  ARGV[1] '1' pause, '0' resume

  Returns { code }:
     1  done (also when it already was so: a retried call lands on the same state)
    -1  no such sale (shard)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { -1 }
end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'paused', '1')
else
  redis.call('HDEL', KEYS[1], 'paused')
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
return { 1 }
