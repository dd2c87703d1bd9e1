--[[
  An operator's controls on one shard hash of a sale, all applied in this one
  call (so atomically on this hash): pause or resume buying, close the sale
  now, change the per-user limit, change the rate limit. The adapter calls it
  on every shard of the sale (shard 0 last), so every reserve
  (lua/reserve-8.lua reads these fields from the buyer's home shard) sees them
  from its next call on, on every container. Each ARGV is '' when that control
  is not asked for: the field is then left as it is.

  KEYS[1] sale hash  {sale:<id>} (or {sale:<id>#<n>} for shard n)

  ARGV[1] '1' pause, '0' resume, '' unchanged
  ARGV[2] close now: the caller's now in ms since the epoch, '' unchanged.
          endsAt becomes this instant unless the sale already ends at or
          before it (closing an ended sale changes nothing); a sale that has
          not started yet gets startsAt = this instant too, so it reads (and
          refuses) as ended, never as scheduled. There is no reopening here.
  ARGV[3] perUserLimit (positive integer), '' unchanged
  ARGV[4] rateBurst, '' unchanged (ARGV[4] and ARGV[5] come together)
  ARGV[5] ratePerSecond, '' unchanged

  Returns { code }:
     1  done (also when it already was so: a retried call lands on the same state)
    -1  no such sale (shard)
]]
local rcall = redis.call
if rcall('EXISTS', KEYS[1]) == 0 then
  return { -1 }
end
if ARGV[1] == '1' then
  rcall('HSET', KEYS[1], 'paused', '1')
elseif ARGV[1] == '0' then
  rcall('HDEL', KEYS[1], 'paused')
end
if ARGV[2] ~= '' then
  local closeAt = tonumber(ARGV[2])
  local window = rcall('HMGET', KEYS[1], 'startsAt', 'endsAt')
  local startsAt = tonumber(window[1]) or 0
  local endsAt = tonumber(window[2]) or 0
  if endsAt == 0 or endsAt > closeAt then
    rcall('HSET', KEYS[1], 'endsAt', ARGV[2])
  end
  if startsAt > closeAt then
    rcall('HSET', KEYS[1], 'startsAt', ARGV[2])
  end
end
if ARGV[3] ~= '' then
  rcall('HSET', KEYS[1], 'perUserLimit', ARGV[3])
end
if ARGV[4] ~= '' then
  rcall('HSET', KEYS[1], 'rateBurst', ARGV[4], 'ratePerSecond', ARGV[5])
end
rcall('HINCRBY', KEYS[1], 'version', 1)
return { 1 }
