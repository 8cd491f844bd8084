-- bench/usage.lua -- wrk script for bench/run: POST /api/v1/usage as fast as
-- the stack answers.
--
-- Every request records one deployed fix for one of the benchmark customers:
--   * the API keys come from the file named by $BENCH_KEYS_FILE, one per line;
--     each thread walks them round robin from its own starting point;
--   * the Idempotency-Key is "bench-<tag>-<thread>-<counter>", where <tag> is
--     $BENCH_TAG (one per wrk run), so keys never repeat, neither within a
--     thread, nor across threads, nor across runs: every request is a new
--     event (201), never a replay (200);
--   * the body is {"kind":"fix_deployed","fix_id":"fix-<tag>-<thread>-<counter>"}.
--
-- Any response other than 201 is counted per status. done() prints one line
-- that bench/run parses:
--   WRK requests=N duration_us=N rps=F p50_us=N p99_us=N non201=N
--       statuses=<status>:<count>,... connect=N read=N write=N timeout=N
-- (on one line; statuses is "-" when every response was a 201).

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
    wrk.path = "/api/v1/usage"
end

function request()
    counter = counter + 1
    local key = keys[(id * 7 + counter) % #keys + 1]
    local n = tag .. "-" .. id .. "-" .. counter
    return wrk.format(nil, nil, {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "bench-" .. n,
    }, '{"kind":"fix_deployed","fix_id":"fix-' .. n .. '"}')
end

function response(status, headers, body)
    if status == 201 then
        return
    end
    non201 = non201 + 1
    statuses[status] = (statuses[status] or 0) + 1
    -- Globals, read by done() through thread:get(), which copies only plain
    -- values: the count, a "status:count,..." string and the first refusal.
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
            io.write("WRK_REFUSAL thread=", t:get("id"), " ", first:gsub("\n", " "), "\n")
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
end
