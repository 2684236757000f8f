-- wrk: the same shape of request to nginx's fixed JSON answer (POST with the check-in body).
local body = '{"inventory":{"product":"bench-fw","version":"1.0.0","image_sha256":"' ..
  string.rep("0", 64) .. '"}}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, b) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + t:get("bad") end
  io.write(string.format("non200 %d\n", total_bad))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s_ms %.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("rps %.0f\n", summary.requests / (summary.duration / 1e6)))
end
