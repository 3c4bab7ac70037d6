-- Replays the lines of $WRK_REQUESTS ("METHOD<TAB>PATH<TAB>API-KEY<TAB>BODY"), each thread from its
-- own random offset, and writes a JSON summary to $WRK_OUT when done.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local requests = {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("WRK_REQUESTS")) do
    local method, path, key, body = line:match("^(%S+)\t(%S+)\t(%S+)\t?(.*)$")
    requests[#requests + 1] = { method = method, path = path, key = key, body = body }
  end
  math.randomseed(os.time() * 100 + tid)
  counter = math.random(#requests)
end

function request()
  counter = counter % #requests + 1
  local r = requests[counter]
  local headers = { ["X-API-Key"] = r.key }
  if r.body ~= "" then
    headers["Content-Type"] = "application/json"
    return wrk.format(r.method, r.path, headers, r.body)
  end
  return wrk.format(r.method, r.path, headers)
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_OUT"), "w")
  local e = summary.errors
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f}',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
  out:close()
end
