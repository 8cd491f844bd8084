-- bench/usage.lua -- wrk script for bench/run: one metered debit per request,
-- either tollgate's POST /api/v1/usage or bare-debit's POST /bare/usage
-- (both take the same request), closed loop or at a constant rate.
--
-- Environment:
--   BENCH_KEYS_FILE  API keys, one per line (required)
--   BENCH_TAG        one per wrk run: keeps Idempotency-Keys unique across runs
--   BENCH_RATE       0 or unset: closed loop, each connection sends its next
--                    request as soon as the answer arrives. N > 0: N requests
--                    per second in all, paced (see "Constant rate" below)
--   BENCH_THREADS    constant rate only: wrk's -t, which must equal -c
--   BENCH_DURATION   constant rate only: wrk's -d in seconds
--
-- Every request records one deployed fix for one of the benchmark customers:
--   * each thread walks the keys round robin from its own starting point;
--   * the Idempotency-Key is "bench-<tag>-<thread>-<counter>", so keys never
--     repeat, neither within a thread, nor across threads, nor across runs:
--     every request is a new event (201), never a replay (200);
--   * the body is {"kind":"fix_deployed","fix_id":"fix-<tag>-<thread>-<counter>"}.
-- The path is the one on wrk's command line.
--
-- Constant rate (no coordinated omission): each connection has its own
-- schedule, one request every BENCH_THREADS / BENCH_RATE seconds, the
-- connections' schedules staggered evenly. delay() waits until the next
-- request is due; a request's latency runs from when it was DUE (or from when
-- it was sent, if the timer fired early), so an answer that comes late delays
-- the next request and that delay is counted, as a client keeping its own
-- schedule would see it. Requests that were due during the run but never
-- answered count with the time they had waited when the run ended. This
-- needs one connection per thread (wrk's Lua state is per thread and
-- request()/response() do not say which connection they are for).
-- Clock: clock_gettime(CLOCK_MONOTONIC) through LuaJIT's ffi.
--
-- Any response other than 201 is counted per status. done() prints one line
-- that bench/run parses:
--   WRK requests=N duration_us=N rps=F p50_us=N p99_us=N non201=N
--       statuses=<status>:<count>,... connect=N read=N write=N timeout=N
-- (on one line; statuses is "-" when every response was a 201), and in
-- constant-rate mode a second one:
--   RATE target=F sent=N answered=N unfinished=N p50_us=N p99_us=N
--       p999_us=N max_us=N

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now_us()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
local threads = {}   -- main state: the threads setup() has seen

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

-- Thread state (each thread runs its own copy of this script).
local keys = {}
local tag = os.getenv("BENCH_TAG") or "run"
local counter = 0
local non201 = 0
local statuses = {}

function init(args)
    local path = os.getenv("BENCH_KEYS_FILE")
    assert(path, "BENCH_KEYS_FILE is not set")
    for line in io.lines(path) do
        if line ~= "" then
            table.insert(keys, line)
        end
    end
    assert(#keys > 0, "no API keys in " .. path)
    wrk.method = "POST"
end

function request()
    counter = counter + 1
    local key = keys[(id * 7 + counter) % #keys + 1]
    local n = tag .. "-" .. id .. "-" .. counter
    if rate > 0 then
        sent_at = now_us()
        due_at = next_due or sent_at
        next_due = due_at + interval_us
        sent = counter
    end
    return wrk.format(nil, nil, {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "bench-" .. n,
    }, '{"kind":"fix_deployed","fix_id":"fix-' .. n .. '"}')
end

if rate > 0 then
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "")
    local duration_s = tonumber(os.getenv("BENCH_DURATION") or "")
    assert(nthreads and nthreads >= 1, "BENCH_THREADS must be wrk's -t (= -c)")
    assert(duration_s and duration_s >= 1, "BENCH_DURATION must be wrk's -d in seconds")
    interval_us = nthreads * 1000000 / rate
    -- Globals read back by done(): the schedule's start and the latencies.
    lat = {}
    first_due = nil

    function delay()
        local now = now_us()
        if next_due == nil then
            -- The first request of this connection: stagger the schedules.
            next_due = now + (id - 1) * interval_us / nthreads
            first_due = next_due
            duration_us = duration_s * 1000000
        end
        local ms = (next_due - now) / 1000
        return ms > 0 and math.floor(ms) or 0
    end
end

function response(status, headers, body)
    if rate > 0 and due_at then
        local start = sent_at < due_at and sent_at or due_at
        lat[#lat + 1] = now_us() - start
    end
    if status == 201 then
        return
    end
    non201 = non201 + 1
    statuses[status] = (statuses[status] or 0) + 1
    -- Globals, read by done() through thread:get(): the count, a
    -- "status:count,..." string and the first refusal.
    non201_count = non201
    local parts = {}
    for s, n in pairs(statuses) do
        table.insert(parts, s .. ":" .. n)
    end
    status_summary = table.concat(parts, ",")
    if non201 == 1 then
        first_refusal = status .. " " .. (body or ""):sub(1, 300)
    end
end

-- rank: nearest-rank percentile p (0..100) of the sorted array v.
local function rank(v, p)
    if #v == 0 then
        return 0
    end
    local i = math.ceil(p * #v / 100)
    return v[math.max(1, math.min(#v, i))]
end

-- rate_line: the RATE line, from every thread's latencies plus the requests
-- that were due during the run and never answered.
local function rate_line()
    local all, sent_n, unfinished = {}, 0, 0
    for _, t in ipairs(threads) do
        local l = t:get("lat") or {}
        for i = 1, #l do
            all[#all + 1] = l[i]
        end
        sent_n = sent_n + (t:get("sent") or 0)
        local first, iv, dur = t:get("first_due"), t:get("interval_us"), t:get("duration_us")
        if first and iv and dur then
            -- Due times first + k*iv for k = 0.. while < first + dur; the
            -- first #l of them were answered (in order: one connection).
            local due_n = math.ceil(dur / iv)
            for k = #l, due_n - 1 do
                unfinished = unfinished + 1
                all[#all + 1] = math.max(0, dur - k * iv)
            end
        end
    end
    table.sort(all)
    return string.format(
        "RATE target=%.1f sent=%d answered=%d unfinished=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
        rate, sent_n, #all - unfinished, unfinished, rank(all, 50), rank(all, 99),
        rank(all, 99.9), all[#all] or 0)
end

function done(summary, latency, requests)
    local non = 0
    local merged = {}
    for _, t in ipairs(threads) do
        non = non + (t:get("non201_count") or 0)
        local s = t:get("status_summary")
        if s and s ~= "" then
            for st, n in s:gmatch("(%d+):(%d+)") do
                merged[st] = (merged[st] or 0) + tonumber(n)
            end
        end
        local first = t:get("first_refusal")
        if first then
            io.write("WRK_REFUSAL thread=", t:get("id"), " ", (first:gsub("\n", " ")), "\n")
        end
    end
    local parts = {}
    for st, n in pairs(merged) do
        table.insert(parts, st .. ":" .. n)
    end
    local e = summary.errors
    io.write(string.format(
        "WRK requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non201=%d statuses=%s" ..
        " connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), non,
        #parts > 0 and table.concat(parts, ",") or "-",
        e.connect, e.read, e.write, e.timeout))
    if rate > 0 then
        io.write(rate_line())
    end
end
