--[[
  Return units to one shard of a sharded sale: a borrowed take whose buy was
  then refused, or a released order whose units came from this shard. Bumps
  the shard's version, as stock may have come back.

  KEYS[1] shard hash  {sale:<id>#<n>} (or {sale:<id>} for shard 0)

  ARGV[1] quantity

  Returns { code, remaining }:
     1  given back
    -1  no such shard (the sale was deleted; nothing to do)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { -1, 0 }
end
local remaining = redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'version', 1)
return { 1, remaining }
