-- bench/holds.lua -- wrk script for bench/holds: fixes metered through
-- credit holds, each one POST /api/v1/holds (201) and then
-- POST /api/v1/holds/{id}/settle (200), closed loop.
--
-- Environment:
--   BENCH_KEYS_FILE  API keys, one per line (required); a hold is settled
--                    with the key that took it
--   BENCH_TAG        one per wrk run: keeps Idempotency-Keys unique across runs
--
-- wrk does not say which connection an answer is for, so bench/holds runs
-- one connection per thread (-t = -c, for POST /api/v1/usage alike): a
-- thread's requests and answers then strictly alternate, and each hold
-- taken is settled by the thread's next request, with the same key. Each
-- thread walks the keys round robin from its own starting point.
-- done() prints one line that bench/holds parses:
--   HOLDS requests=N duration_us=N created=N settled=N fixes_per_s=F
--       rps=F p50_us=N p99_us=N bad=N statuses=<status>:<count>,...
--       connect=N read=N write=N timeout=N
-- (on one line; "bad" counts answers other than 201 to a create and 200 to
-- a settle).

local threads = {}

function setup(thread)
    thread:set("id", #threads + 1)
    table.insert(threads, thread)
end

local keys = {}
local tag = os.getenv("BENCH_TAG") or "run"
local counter = 0
local to_settle, key = nil, nil -- the hold just taken, and its key
created, settled, bad = 0, 0, 0
statuses = ""
local st = {}

function init(args)
    local path = os.getenv("BENCH_KEYS_FILE")
    assert(path, "BENCH_KEYS_FILE is not set")
    for line in io.lines(path) do
        if line ~= "" then
            table.insert(keys, line)
        end
    end
    assert(#keys > 0, "no API keys in " .. path)
end

function request()
    if to_settle then
        local path = "/api/v1/holds/" .. to_settle .. "/settle"
        to_settle = nil
        return wrk.format("POST", path, {["Authorization"] = "Bearer " .. key}, nil)
    end
    counter = counter + 1
    key = keys[(id * 7 + counter) % #keys + 1]
    local n = tag .. "-" .. id .. "-" .. counter
    return wrk.format("POST", "/api/v1/holds", {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = "hold-" .. n,
    }, '{"kind":"fix_deployed","fix_id":"fix-' .. n .. '"}')
end

function response(status, headers, body)
    local hold = body and body:match('^{"id":"([0-9a-f%-]+)","object":"hold"')
    if status == 201 and hold then
        to_settle = hold
        created = created + 1
    elseif status == 200 and body:find('"usage_event":', 1, true) then
        settled = settled + 1
    else
        bad = bad + 1
        st[status] = (st[status] or 0) + 1
        local parts = {}
        for s, n in pairs(st) do
            table.insert(parts, s .. ":" .. n)
        end
        statuses = table.concat(parts, ",")
        if bad == 1 then
            first_bad = status .. " " .. (body or ""):sub(1, 300)
        end
    end
end

function done(summary, latency, requests)
    local c, s, b = 0, 0, 0
    local merged = {}
    for _, t in ipairs(threads) do
        c = c + t:get("created")
        s = s + t:get("settled")
        b = b + t:get("bad")
        for code, n in (t:get("statuses") or ""):gmatch("(%d+):(%d+)") do
            merged[code] = (merged[code] or 0) + tonumber(n)
        end
        local first = t:get("first_bad")
        if first then
            io.write("HOLDS_BAD thread=", t:get("id"), " ", (first:gsub("\n", " ")), "\n")
        end
    end
    local parts = {}
    for code, n in pairs(merged) do
        table.insert(parts, code .. ":" .. n)
    end
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        "HOLDS requests=%d duration_us=%d created=%d settled=%d fixes_per_s=%.1f rps=%.1f" ..
        " p50_us=%d p99_us=%d bad=%d statuses=%s connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, c, s, s / secs, summary.requests / secs,
        latency:percentile(50), latency:percentile(99), b,
        #parts > 0 and table.concat(parts, ",") or "-",
        e.connect, e.read, e.write, e.timeout))
end
