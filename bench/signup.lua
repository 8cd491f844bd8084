-- bench/signup.lua -- wrk script for bench/run's signup burst: every
-- connection sends exactly ONE POST /api/v1/customers, all at once, each
-- with its own e-mail address; wrk stops as soon as the last one is answered.
--
-- Run with one thread (-t 1 -c N): one Lua state then sees every connection,
-- so it can tell when all N answers are in. Environment:
--   BENCH_SIGNUPS  N, wrk's -c (required)
--   BENCH_TAG      makes the e-mail addresses unique across runs
--
-- delay() lets the first N requests go at once (one per connection) and
-- holds any later one back for an hour: wrk runs until -d unless told otherwise, so
-- when the N-th answer arrives the script sends SIGINT to wrk's main thread
-- (tgkill through LuaJIT's ffi; a process-wide kill() could land on this
-- thread, which does not wait on anything), which ends the run.
-- Latencies are wrk's own (send to answer, per request).
--
-- done() prints one line that bench/run parses:
--   SIGNUP requests=N created=N p50_us=N p95_us=N max_us=N statuses=<s>:<n>,...
--       connect=N read=N write=N timeout=N

local ffi = require("ffi")
ffi.cdef [[
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local SIGINT = 2

local want = tonumber(os.getenv("BENCH_SIGNUPS") or "")
assert(want and want >= 1, "BENCH_SIGNUPS must be wrk's -c")
local tag = os.getenv("BENCH_TAG") or "burst"
local thread_n = 0

function setup(thread)
    thread_n = thread_n + 1
    assert(thread_n == 1, "run signup.lua with one thread (-t 1)")
    burst_thread = thread
end

local started, answered, delays = 0, 0, 0
statuses = {}

function init(args)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
end

-- Each connection calls delay() once before its first request, all of them
-- within the first turns of the event loop, long before any answer.
function delay()
    delays = delays + 1
    return delays <= want and 0 or 3600 * 1000
end

function request()
    started = started + 1
    local n = tag .. "-" .. started
    return wrk.format(nil, nil, nil, string.format(
        '{"email":"bench-burst-%s@example.com","name":"Burst customer %s","source":"direct"}', n, n))
end

function response(status, headers, body)
    answered = answered + 1
    statuses[status] = (statuses[status] or 0) + 1
    if status ~= 201 and not first_refusal then
        first_refusal = status .. " " .. (body or ""):sub(1, 300)
    end
    if answered == want then
        local pid = ffi.C.getpid()
        ffi.C.tgkill(pid, pid, SIGINT)
    end
end

function done(summary, latency, requests)
    local st = burst_thread:get("statuses") or {}
    local parts, created = {}, 0
    for s, n in pairs(st) do
        table.insert(parts, s .. ":" .. n)
        if tonumber(s) == 201 then
            created = n
        end
    end
    local first = burst_thread:get("first_refusal")
    if first then
        io.write("SIGNUP_REFUSAL ", (first:gsub("\n", " ")), "\n")
    end
    local e = summary.errors
    io.write(string.format(
        "SIGNUP requests=%d created=%d p50_us=%d p95_us=%d max_us=%d statuses=%s" ..
        " connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, created, latency:percentile(50), latency:percentile(95), latency.max,
        #parts > 0 and table.concat(parts, ",") or "-", e.connect, e.read, e.write, e.timeout))
end
