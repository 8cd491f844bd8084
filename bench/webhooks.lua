-- bench/webhooks.lua -- wrk script for bench/webhooks: POST pre-signed
-- Stripe events to /webhooks/stripe.
--
--   * the events come from the file named by $BENCH_EVENTS_FILE, one per
--     line, "<Stripe-Signature>\t<body>" (bench/webhook_events.py); thread k
--     of $BENCH_THREADS takes lines k, k + threads, ... so no two threads
--     send the same event;
--   * a thread that has sent all of its events starts again from its first:
--     those deliveries are duplicates (still 200, "duplicate": true), counted
--     apart so the report can say how many deliveries were new events;
--   * $BENCH_DELAY_MS (default 0) is the pause each connection takes before
--     its next request (wrk's delay()): with C connections, about
--     C * 1000 / delay events/s at most -- the bounded-rate phase.
--
-- Any answer other than 200 is counted per status. done() prints one line
-- that bench/webhooks parses:
--   WRK requests=N duration_us=N rps=F p50_us=N p99_us=N non200=N
--       statuses=<status>:<count>,... sent=N repeats=N connect=N read=N
--       write=N timeout=N

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

-- Thread state. Globals (not locals) where done() reads them with thread:get().
local events = {}
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "") or 0
sent = 0
repeats = 0
non200 = 0
local statuses = {}

function init(args)
    local path = os.getenv("BENCH_EVENTS_FILE")
    assert(path, "BENCH_EVENTS_FILE is not set")
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local n = 0
    for line in io.lines(path) do
        if n % nthreads == id - 1 then
            local tab = line:find("\t", 1, true)
            assert(tab, "no tab in a line of " .. path)
            table.insert(events, {line:sub(1, tab - 1), line:sub(tab + 1)})
        end
        n = n + 1
    end
    assert(#events > 0, "no events for thread " .. id .. " in " .. path)
    wrk.method = "POST"
    wrk.path = "/webhooks/stripe"
end

function request()
    sent = sent + 1
    if sent > #events then
        repeats = repeats + 1
    end
    local e = events[(sent - 1) % #events + 1]
    return wrk.format(nil, nil, {
        ["Content-Type"] = "application/json",
        ["Stripe-Signature"] = e[1],
    }, e[2])
end

if delay_ms > 0 then
    function delay()
        return delay_ms
    end
end

function response(status, headers, body)
    if status == 200 then
        return
    end
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
    local parts = {}
    for s, n in pairs(statuses) do
        table.insert(parts, s .. ":" .. n)
    end
    status_summary = table.concat(parts, ",")
    if non200 == 1 then
        first_refusal = status .. " " .. (body or ""):sub(1, 300)
    end
end

function done(summary, latency, requests)
    local non, total_sent, total_repeats = 0, 0, 0
    local merged = {}
    for _, t in ipairs(threads) do
        non = non + (t:get("non200") or 0)
        total_sent = total_sent + (t:get("sent") or 0)
        total_repeats = total_repeats + (t:get("repeats") or 0)
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
        "WRK requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non200=%d statuses=%s" ..
        " sent=%d repeats=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(99), non,
        #parts > 0 and table.concat(parts, ",") or "-", total_sent, total_repeats,
        e.connect, e.read, e.write, e.timeout))
end
