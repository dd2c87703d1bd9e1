--[[
  wrk script for the buy path: POST /sales/<id>/buy with a bearer token from a
  pre-signed pool (rotated per request), a unique Idempotency-Key per request
  and a body naming a buyer of its own ({"quantity":1,"userId":"..."}), so
  every request is a new buy: our stack reads the buyer from the token (and
  ignores the body's userId), the original design from the body.

  Environment (read by every wrk thread):
    BENCH_PATH    request path, e.g. /sales/bench-1/buy
    BENCH_TOKENS  file with one bearer token per line
    BENCH_OUT     where done() writes the run's summary as JSON

  The summary holds requests, duration, socket errors, the count of each
  HTTP status (from response()) and latency percentiles in microseconds.
]]

local path = os.getenv("BENCH_PATH")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end

-- Main state: remember the threads so done() can collect their counters.
local threads = {}
function setup(thread)
  thread:set("thread_index", #threads + 1)
  threads[#threads + 1] = thread
end

-- Thread state.
local counter = 0
local prefix = ""
local offset = 0
statuses = {}

function init(args)
  prefix = string.format("b%d-%d-%d", thread_index or 0, os.time(), math.random(1, 1000000000))
  offset = ((thread_index or 1) - 1) * 7919
end

function request()
  counter = counter + 1
  local token = tokens[(counter + offset) % #tokens + 1]
  local id = prefix .. "-" .. counter
  return wrk.format("POST", path, {
    ["Authorization"] = token,
    ["Idempotency-Key"] = id,
    ["Content-Type"] = "application/json",
  }, '{"quantity":1,"userId":"' .. id .. '"}')
end

function response(status, headers, response_body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local codes = {}
  for status, n in pairs(merged) do
    codes[#codes + 1] = string.format('"%d":%d', status, n)
  end
  local e = summary.errors
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests":%d,"durationUs":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"statusCounts":{%s},' ..
      '"latencyUs":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(codes, ","),
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)
  ))
  out:close()
end
