-- wrk script: 1:1 POST .../transactions/json with a unique body per request (the implicit
-- idempotency key is a hash of the body, so identical bodies would be replays).
-- Environment: BENCH_PATH (the create route), BENCH_MODE (spread | hot), BENCH_ACCOUNTS.
-- Prints one JSON line at the end: requests, 201s, other statuses, socket errors, percentiles.

local path = os.getenv("BENCH_PATH")
local mode = os.getenv("BENCH_MODE") or "spread"
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS") or "1000")
local threads = {}
local counter = 0
created, other = 0, 0

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   tag = string.format("%d-%d-%d", tid or 0, os.time(), math.random(1, 1000000000))
end

local function alias(i)
   return string.format("@acct%04d", i)
end

local function transfer(src, dst, description)
   return '{"description":"' .. description .. '","send":{"asset":"USD","value":"1.00",'
      .. '"source":{"from":[{"accountAlias":"' .. src .. '","amount":{"asset":"USD","value":"1.00"}}]},'
      .. '"distribute":{"to":[{"accountAlias":"' .. dst .. '","amount":{"asset":"USD","value":"1.00"}}]}}}'
end

function request()
   counter = counter + 1
   local src, dst
   if mode == "hot" then
      src = "@hot"
      dst = alias(math.random(0, accounts - 1))
   else
      local i = math.random(0, accounts - 1)
      local j = math.random(0, accounts - 2)
      if j >= i then j = j + 1 end
      src, dst = alias(i), alias(j)
   end
   return wrk.format("POST", path, {["Content-Type"] = "application/json"},
      transfer(src, dst, "wrk " .. tag .. " " .. counter))
end

function response(status, headers, body)
   if status == 201 then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
   local c, o = 0, 0
   for _, t in ipairs(threads) do
      c = c + (t:get("created") or 0)
      o = o + (t:get("other") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"created":%d,"other_status":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,'
      .. '"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, c, o, e.connect, e.read, e.write, e.timeout, e.status,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
