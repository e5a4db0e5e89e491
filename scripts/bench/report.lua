-- wrk script for make bench (internal/bench): counts non-2xx answers and
-- prints the latency percentiles, p95 included, in a form the driver reads.
local errors = 0
local counters = {}

function setup(thread)
  table.insert(counters, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(counters) do
    bad = bad + (t:get("errors") or 0)
  end
  io.write(string.format("bench: requests=%d\n", summary.requests))
  io.write(string.format("bench: seconds=%f\n", summary.duration / 1e6))
  io.write(string.format("bench: errors=%d\n", bad))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("bench: p%d=%d\n", p, latency:percentile(p)))
  end
end
