-- wrk script for bench/run.sh: POSTs a ~290-byte Datadog-shaped security signal with a
-- unique SECURITY_SIGNAL_ID per request (run token + wrk thread id + per-thread counter),
-- counts the 2xx answers per thread, and prints machine-readable lines at the end:
--   BENCH acked=N other=N requests=N rps=X p50_ms=X p99_ms=X errors=N
-- The IP cycles through 200 documentation addresses (a storm from a few sources), so most
-- signals attach to an existing ban-ip remediation and some create one; with `new` after the
-- run token every signal names an IPv6 documentation address never used before (2001:db8:T::N),
-- so every one proposes a remediation.
-- Usage: wrk -t2 -c32 -d10s --latency -s bench/signal.lua URL -- RUN_TOKEN [cycle|new]
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local template = '{"SECURITY_RULE_NAME":"Request from unexpected IP address",' ..
  '"SECURITY_SIGNAL_ID":"%s-%d-%d","SECURITY_SIGNAL_SEVERITY":"high",' ..
  '"SECURITY_SIGNAL_TITLE":"Console login from an IP never seen for this account",' ..
  '"SECURITY_SIGNAL_ATTRIBUTES":{"network":{"client":{"ip":["%s"]}},' ..
  '"evt":{"name":"ConsoleLogin","outcome":"success"}}}'
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  run = args[1] or "bench"
  new_targets = args[2] == "new"
  n = 0
  acked = 0
  other = 0
end

function request()
  n = n + 1
  local ip
  if new_targets then
    ip = string.format("2001:db8:%x::%x", tid, n)
  else
    ip = string.format("198.51.100.%d", 16 + (n * 7 + tid) % 200)
  end
  local body = string.format(template, run, tid, n, ip)
  return wrk.format("POST", nil, headers, body) -- nil: the path of the URL given to wrk
end

function response(status, hdrs, body)
  if status >= 200 and status < 300 then
    acked = acked + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acked")
    o = o + t:get("other")
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("BENCH acked=%d other=%d requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    a, o, summary.requests, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
