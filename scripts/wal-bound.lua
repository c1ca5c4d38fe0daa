-- wrk script for scripts/wal-bound.sh (and scripts/slices.sh): full-speed
-- updates of one job's workers in turn, or a reader polling one page, on
-- kept-alive connections; counts the answers by status and by second.
--
--   wrk -t2 -c8 -d60s -s scripts/wal-bound.lua URL -- update JOBID WORKERS THREADS [JOBS]
--   wrk -t1 -c1 -d60s -s scripts/wal-bound.lua URL/progress/status?jobid=J -- read
--
-- THREADS is wrk's -t: each wrk thread runs this script in a Lua state of
-- its own, so it cannot count them. With JOBS above 1 (scripts/shard-bench.sh)
-- the updates go to jobs JOBID-0 … JOBID-(JOBS-1) in turn, so that a front
-- sharding by jobid spreads them. Each worker of each job is always updated
-- by the same wrk thread (WORKERS × JOBS is a multiple of THREADS), so its
-- `current` only grows. At the end it prints one line that the shell script reads:
--   result requests=N seconds=S ok=N refused=N other=N errors=N
--          p50_ms=X p99_ms=X max_ms=X ok_per_second=a,b,c
-- (ok_per_second: the 200s in each second of the run, by the clock, so the
-- first and last are partial).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "update"
  jobid = args[2] or "wal"
  workers = tonumber(args[3] or "500")
  nthreads = tonumber(args[4] or "1")
  jobs = tonumber(args[5] or "1")
  n = 0
  ok, refused, other = 0, 0, 0
  started = os.time()
  latest = 0
  accepted = {}
end

function request()
  if mode == "read" then
    return wrk.format("GET")
  end
  local k = (n * nthreads + id) % (workers * jobs)
  n = n + 1
  local job = jobid
  if jobs > 1 then
    job = jobid .. "-" .. (k % jobs)
  end
  return wrk.format("GET", "/progress/update?jobid=" .. job .. "&workid=" .. math.floor(k / jobs)
    .. "&current=" .. n .. "&total=1000000000")
end

function response(status, headers, body)
  local second = os.time() - started + 1
  latest = second
  if status == 200 then
    ok = ok + 1
    accepted[second] = (accepted[second] or 0) + 1
  elseif status == 503 then
    refused = refused + 1
  else
    other = other + 1
  end
end

-- The threads' 200s per second, summed, as a comma-separated list.
local function ok_per_second()
  local sum, last = {}, 0
  for _, thread in ipairs(threads) do
    for second, count in pairs(thread:get("accepted")) do
      sum[second] = (sum[second] or 0) + count
    end
    -- The list runs to the last answer, 200 or not.
    last = math.max(last, thread:get("latest"))
  end
  local out = {}
  for second = 1, last do
    out[second] = tostring(sum[second] or 0)
  end
  return table.concat(out, ",")
end

function done(summary, latency, requests)
  local ok_all, refused_all, other_all = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_all = ok_all + thread:get("ok")
    refused_all = refused_all + thread:get("refused")
    other_all = other_all + thread:get("other")
  end
  local errors = summary.errors
  io.write(string.format(
    "result requests=%d seconds=%.2f ok=%d refused=%d other=%d errors=%d "
      .. "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f ok_per_second=%s\n",
    summary.requests, summary.duration / 1e6, ok_all, refused_all, other_all,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    ok_per_second()))
end
