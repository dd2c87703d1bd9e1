--[[
  Release a lock (a plain key set with SET NX PX) only if this caller still
  holds it: its value is the caller's random token. A lock that expired and
  was taken by another run is left alone.

  KEYS[1] lock key

  ARGV[1] token

  Returns { code }:
     1  released
     0  not held by this token (expired, or another run's)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return { 1 }
end
return { 0 }
