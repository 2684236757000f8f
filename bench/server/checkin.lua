-- wrk: sends pre-built requests from REQUESTS_FILE (NUL-separated), each exactly once; thread k
-- of n takes requests k, k+n, k+2n... Non-2xx answers are counted and printed at the end.
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("REQUESTS_FILE"), "rb"))
  local data = f:read("*a")
  f:close()
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  reqs = {}
  local i = 0
  for r in data:gmatch("([^%z]+)") do
    if i % n == id then table.insert(reqs, r) end
    i = i + 1
  end
  pos = 0
  bad = 0
  exhausted = 0
end

function request()
  pos = pos + 1
  if pos > #reqs then
    exhausted = exhausted + 1
    pos = 1  -- a replayed nonce: the server answers 401; counted as bad, the run is invalid
  end
  return reqs[pos]
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + t:get("bad") end
  io.write(string.format("non200 %d\n", total_bad))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s_ms %.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("rps %.0f\n", summary.requests / (summary.duration / 1e6)))
end
