-- wrk script for make bench (internal/bench): prints the latency
-- percentiles, p95 included, and the failed requests, in a form the driver
-- reads. It defines no response() callback: one makes wrk hand every answer,
-- headers and body, to Lua, and the CPU that costs on the benchmark's two
-- cores is taken from the server being measured. wrk counts non-2xx/3xx
-- answers itself (summary.errors.status).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench: requests=%d\n", summary.requests))
  io.write(string.format("bench: seconds=%f\n", summary.duration / 1e6))
  io.write(string.format("bench: errors=%d\n", e.status + e.timeout + e.connect + e.read + e.write))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("bench: p%d=%d\n", p, latency:percentile(p)))
  end
end
