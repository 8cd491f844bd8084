# stack.sh -- start and stop a throwaway tollgate stack (PostgreSQL cluster,
# tollgate-fcgi workers, nginx) in one state directory, on loopback only.
# Sourced by scripts/dev, t/integration/run and bench/; needs bash.
#
# Functions take the state directory as their first argument; everything the
# stack writes (data, sockets, logs, pid files, rendered configs) lives there.
# Nothing outside it is touched except Debian packages installed by stack_deps.

STACK_SRC=${STACK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

stack_log() { printf '%s\n' "dev: $*" >&2; }
stack_die() { printf '%s\n' "dev: error: $*" >&2; exit 1; }

# Debian packages the build, the stack and the tests need.
STACK_PACKAGES="build-essential autoconf automake pkg-config libfcgi-dev libpq-dev
 libjansson-dev libssl-dev libcurl4-openssl-dev libinih-dev libsystemd-dev
 libcriterion-dev postgresql-15 postgresql-contrib nginx-light curl wrk python3
 python3-aiosmtpd python3-yaml python3-jsonschema jq
 prometheus"
# node and npm run the pinned Redocly CLI (make lint-openapi, t/openapi/lint).
# They are installed by command, not by package: a host may have them from
# elsewhere (e.g. NodeSource's nodejs, which bundles npm and conflicts with
# Debian's npm package).
STACK_COMMANDS_NODE="node npm"
STACK_PACKAGES_NODE="nodejs npm"

# stack_deps: install whatever of STACK_PACKAGES is missing (root only).
# A policy-rc.d keeps the packages' own services (nginx, the main
# PostgreSQL cluster) from being started by the installation.
stack_deps() {
    local missing=() p
    for p in $STACK_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    for p in $STACK_COMMANDS_NODE; do
        if ! command -v "$p" >/dev/null 2>&1; then
            missing+=($STACK_PACKAGES_NODE)
            break
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        stack_die "missing packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
    fi
    stack_log "installing ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2 || rc=$?
    [ -n "$made_policy" ] && rm -f "$policy"
    [ $rc -eq 0 ] || stack_die "apt-get install failed"
}

# stack_build BUILD_DIR [configure args...]: configure (once) and build.
stack_build() {
    local build=$1; shift
    [ -x "$STACK_SRC/configure" ] || (cd "$STACK_SRC" && autoreconf -fi >&2) ||
        stack_die "autoreconf failed"
    mkdir -p "$build"
    if [ ! -f "$build/Makefile" ]; then
        (cd "$build" && "$STACK_SRC/configure" -q "$@" >&2) || stack_die "configure failed"
    fi
    make -C "$build" -j"$(nproc)" -s >&2 || stack_die "build failed"
}

# stack_free_port: print a TCP port nobody listens on, on 127.0.0.1.
stack_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# As root, PostgreSQL runs as the "postgres" system user (initdb refuses
# root); otherwise as the caller.
stack_pg_run() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# stack_pg_start DIR: create (once) and start a cluster with its socket in
# DIR/pg, listening on no TCP address; STACK_PG_OPTIONS ("-c name=value"...)
# is added to (and overrides) the server's options. Writes DIR/pg.env (PGHOST, PGPORT...).
stack_pg_start() {
    local dir=$1 data=$1/pg port
    [ -x "$PG_BIN/initdb" ] || stack_die "PostgreSQL server binaries not found (postgresql-15)"
    mkdir -p "$data"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$data"
        runuser -u postgres -- test -w "$data" ||
            stack_die "the postgres user cannot reach $data: choose a TOLLGATE_DEV_DIR it can traverse"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        stack_pg_run "$PG_BIN/initdb" -D "$data" -A trust -U tollgate --nosync -E UTF8 \
            --locale=C >"$dir/initdb.log" 2>&1 || stack_die "initdb failed: see $dir/initdb.log"
    fi
    port=$(cat "$dir/pg.port" 2>/dev/null || stack_free_port)
    echo "$port" >"$dir/pg.port"
    stack_pg_run "$PG_BIN/pg_ctl" -D "$data" -w -t 30 -l "$data/postgresql.log" \
        -o "-p $port -k $data -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 ${STACK_PG_OPTIONS:-}" \
        start >/dev/null || stack_die "PostgreSQL did not start: see $data/postgresql.log"
    cat >"$dir/pg.env" <<ENV
export PGHOST=$data PGPORT=$port PGUSER=tollgate PGDATABASE=tollgate
ENV
    PGHOST=$data PGPORT=$port PGUSER=tollgate psql -qAtX -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'tollgate'" | grep -q 1 ||
        PGHOST=$data PGPORT=$port PGUSER=tollgate createdb tollgate ||
        stack_die "createdb failed"
}

stack_pg_stop() {
    local data=$1/pg
    [ -f "$data/postmaster.pid" ] || return 0
    stack_pg_run "$PG_BIN/pg_ctl" -D "$data" -w -m fast stop >/dev/null 2>&1 || true
}

# stack_config DIR: write DIR/tollgate.conf for this stack (and the Stripe
# test key the emulator accepts and the GitHub webhook secret, in files only
# their owner can read). E-mail goes to the SMTP sink when it runs
# (DIR/smtp.port, stack_smtp_start).
stack_config() {
    local dir=$1 port stripe_port smtp_lines=
    port=$(cat "$dir/pg.port")
    stripe_port=$(cat "$dir/stripe.port")
    (umask 077 && echo "sk_test_tollgate_dev_stack" >"$dir/stripe-secret-key" &&
        echo "${EMULATOR_WEBHOOK_SECRET:-whsec_tollgate_emulator_secret}" \
            >"$dir/stripe-webhook-secret" &&
        echo "${STACK_GITHUB_WEBHOOK_SECRET:-tollgate_dev_github_webhook_secret}" \
            >"$dir/github-webhook-secret")
    # The token signing key is made once per stack, so tokens outlive restarts.
    [ -s "$dir/token-signing-key" ] || (umask 077 &&
        python3 -c 'import secrets; print(secrets.token_hex(32))' >"$dir/token-signing-key")
    if [ -f "$dir/smtp.port" ]; then
        smtp_lines="smtp_url = smtp://127.0.0.1:$(cat "$dir/smtp.port")
smtp_from = tollgate <billing@tollgate.test>"
    fi
    cat >"$dir/tollgate.conf" <<CONF
# Written by scripts/stack.sh for the development stack in $dir.
environment = development
database = host=$dir/pg port=$port user=tollgate dbname=tollgate connect_timeout=2
fcgi_socket = $dir/fcgi.sock
metrics_path = $dir/metrics.counters
workers = ${TOLLGATE_WORKERS:-4}
sql_dir = $STACK_SRC/sql
disposable_domains_file = $STACK_SRC/data/disposable-domains.txt
stripe_api_base = http://127.0.0.1:$stripe_port
stripe_secret_key_file = $dir/stripe-secret-key
stripe_webhook_secret_file = $dir/stripe-webhook-secret
stripe_price_pro = price_tollgate_pro_monthly
github_webhook_secret_file = $dir/github-webhook-secret
token_signing_key_file = $dir/token-signing-key
# Webhooks to the product may go to a receiver on loopback over http
# (tollgatectl webhooks add http://127.0.0.1:PORT/...); never in production.
outbound_allow_http = 1
$smtp_lines
CONF
}

# stack_worker_start DIR BUILD: start tollgate-worker in the background under
# a small supervisor that starts it again a second after it dies, as
# Restart= does for tollgate-worker.service under systemd. The supervisor's
# pid is in DIR/tollgate-worker.pid (TERM to it stops both), the worker's
# own in DIR/tollgate-worker.child.pid.
stack_worker_start() {
    local dir=$1 build=$2 i
    rm -f "$dir/tollgate-worker.child.pid"
    # shellcheck disable=SC2016 # expanded by the supervisor's bash
    TOLLGATE_CONFIG=$dir/tollgate.conf setsid bash -c '
        dir=$1 bin=$2 child=
        trap "[ -n \"\$child\" ] && kill -TERM \$child 2>/dev/null; wait \$child; exit 0" TERM INT
        while :; do
            "$bin" </dev/null &
            child=$!
            echo "$child" >"$dir/tollgate-worker.child.pid"
            wait "$child"
            echo "dev: tollgate-worker $child exited (status $?); starting it again in 1 s" >&2
            sleep 1 &
            wait $!
        done' stack-supervise "$dir" "$build/tollgate-worker" \
        </dev/null >>"$dir/tollgate-worker.log" 2>&1 &
    echo $! >"$dir/tollgate-worker.pid"
    for i in $(seq 1 50); do
        [ -s "$dir/tollgate-worker.child.pid" ] && break
        sleep 0.02
    done
    sleep 0.2
    if ! kill -0 "$(cat "$dir/tollgate-worker.child.pid" 2>/dev/null)" 2>/dev/null; then
        stack_stop_pid "$dir/tollgate-worker.pid"
        stack_die "tollgate-worker exited: see $dir/tollgate-worker.log"
    fi
}

# stack_alive DIR: true if any process of the stack in DIR still runs
# (nginx, the FastCGI master, tollgate-worker, the emulator, the SMTP sink,
# PostgreSQL), by their pid files.
stack_alive() {
    local dir=$1 f pid
    for f in nginx/nginx.pid tollgate-fcgi.pid tollgate-worker.pid stripe-emulator.pid \
        smtp.pid pg/postmaster.pid; do
        pid=$(head -n 1 "$dir/$f" 2>/dev/null) || continue
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && return 0
    done
    return 1
}

# stack_stop_pid PIDFILE: TERM, wait up to 10 s, then KILL.
stack_stop_pid() {
    local pidf=$1 pid i
    [ -f "$pidf" ] || return 0
    pid=$(cat "$pidf")
    kill -TERM "$pid" 2>/dev/null || { rm -f "$pidf"; return 0; }
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidf"
}

# stack_migrate DIR BUILD: apply the migrations.
stack_migrate() {
    TOLLGATE_CONFIG=$1/tollgate.conf "$2/tollgatectl" migrate >&2 || stack_die "migrate failed"
}

# stack_fcgi_start DIR BUILD: start the FastCGI master in the background.
stack_fcgi_start() {
    local dir=$1 build=$2 i
    rm -f "$dir/fcgi.sock"
    TOLLGATE_CONFIG=$dir/tollgate.conf setsid "$build/tollgate-fcgi" \
        </dev/null >>"$dir/tollgate-fcgi.log" 2>&1 &
    echo $! >"$dir/tollgate-fcgi.pid"
    for i in $(seq 1 100); do
        [ -S "$dir/fcgi.sock" ] && return 0
        kill -0 "$(cat "$dir/tollgate-fcgi.pid")" 2>/dev/null ||
            stack_die "tollgate-fcgi exited: see $dir/tollgate-fcgi.log"
        sleep 0.1
    done
    stack_die "tollgate-fcgi did not open its socket: see $dir/tollgate-fcgi.log"
}

stack_fcgi_stop() {
    stack_stop_pid "$1/tollgate-fcgi.pid"
}

# stack_nginx_start DIR PORT: render nginx/dev.conf.in and start nginx.
stack_nginx_start() {
    local dir=$1 port=$2 user_line=
    mkdir -p "$dir/nginx/snippets" "$dir/nginx/tmp"
    cp "$STACK_SRC"/nginx/tollgate-*.conf \
        "$dir/nginx/snippets/"
    [ "$(id -u)" -eq 0 ] && user_line="user root;"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@USER_LINE@|$user_line|" \
        -e "s|@SIGNUP_RATE@|${TOLLGATE_SIGNUP_RATE:-10r/m}|" \
        -e "s|@API_RATE@|${TOLLGATE_API_RATE:-50r/s}|" \
        "$STACK_SRC/nginx/dev.conf.in" >"$dir/nginx/nginx.conf"
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -t -q 2>"$dir/nginx/test.log" ||
        stack_die "nginx configuration invalid: $(cat "$dir/nginx/test.log")"
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" 2>>"$dir/nginx/error.log" ||
        stack_die "nginx did not start: see $dir/nginx/error.log"
    echo "$port" >"$dir/http.port"
}

stack_nginx_stop() {
    local pidf=$1/nginx/nginx.pid pid i
    [ -f "$pidf" ] || return 0
    pid=$(cat "$pidf")
    kill -QUIT "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidf"
}

# stack_wait_health URL: wait up to 15 s for GET URL/health to answer 200.
stack_wait_health() {
    local url=$1 i
    for i in $(seq 1 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && return 0
        sleep 0.1
    done
    stack_die "$url/health did not answer 200"
}

# stack_up DIR BUILD PORT: the whole stack; prints nothing on stdout.
stack_up() {
    local dir=$1 build=$2 port=$3
    mkdir -p "$dir"
    stack_pg_start "$dir"
    EMULATOR_WEBHOOK_URL=${EMULATOR_WEBHOOK_URL:-http://127.0.0.1:$port/webhooks/stripe} \
        stack_stripe_start "$dir"
    stack_smtp_start "$dir"
    stack_config "$dir"
    stack_migrate "$dir" "$build"
    stack_fcgi_start "$dir" "$build"
    stack_worker_start "$dir" "$build"
    stack_nginx_start "$dir" "$port"
    stack_wait_health "http://127.0.0.1:$port"
}

# stack_down DIR: stop everything stack_up started, by pid; keep the data.
stack_down() {
    stack_nginx_stop "$1"
    stack_fcgi_stop "$1"
    stack_stop_pid "$1/tollgate-worker.pid"
    rm -f "$1/tollgate-worker.child.pid"
    stack_stripe_stop "$1"
    stack_smtp_stop "$1"
    stack_pg_stop "$1"
}

# ---- Stripe emulator ----
# The Stripe emulator (t/stripe-emulator/emulator.py) as Stripe for the stack
# and the tests. Environment passed through: STRIPE_SHARED, EMULATOR_PRICES,
# EMULATOR_WEBHOOK_URL, EMULATOR_WEBHOOK_SECRET (see t/stripe-emulator/README.md).

# stack_stripe_start DIR: start the emulator on a free port in the background;
# log in DIR/stripe-emulator.log, pid in DIR/stripe-emulator.pid, port in
# DIR/stripe.port. Returns once GET /_emulator/health answers 200.
stack_stripe_start() {
    local dir=$1 port pid i
    mkdir -p "$dir"
    # Keep the port across restarts: tollgate's configuration names it.
    port=$(cat "$dir/stripe.port" 2>/dev/null || stack_free_port)
    PYTHONDONTWRITEBYTECODE=1 setsid python3 "$STACK_SRC/t/stripe-emulator/emulator.py" --host 127.0.0.1 \
        --port "$port" --log "$dir/stripe-emulator.log" --state "$dir/stripe-emulator.state" \
        </dev/null >>"$dir/stripe-emulator.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/stripe-emulator.pid"
    echo "$port" >"$dir/stripe.port"
    for i in $(seq 1 150); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' \
            "http://127.0.0.1:$port/_emulator/health")" = 200 ] && return 0
        kill -0 "$pid" 2>/dev/null ||
            stack_die "the Stripe emulator exited: see $dir/stripe-emulator.log"
        sleep 0.1
    done
    stack_die "the Stripe emulator did not answer on port $port: see $dir/stripe-emulator.log"
}

# stack_stripe_stop DIR: stop the emulator started by stack_stripe_start.
stack_stripe_stop() {
    stack_stop_pid "$1/stripe-emulator.pid"
}

# ---- SMTP sink ----
# A real SMTP server for the stack's outgoing e-mail: aiosmtpd from Debian
# (python3-aiosmtpd, run by Debian's own python3) with its Mailbox handler,
# which stores every message it accepts in the Maildir DIR/maildir (one file
# a message under DIR/maildir/new). Loopback only, no TLS, no AUTH.
STACK_SMTP_PYTHON=${STACK_SMTP_PYTHON:-/usr/bin/python3}

# stack_smtp_start DIR: start the sink on a free port (kept in DIR/smtp.port
# across restarts); log in DIR/smtp.log, pid in DIR/smtp.pid. Returns once
# the port accepts connections.
stack_smtp_start() {
    local dir=$1 port pid i
    # aiosmtpd's Maildir only makes tmp/ new/ cur/ in a directory it creates.
    mkdir -p "$dir/maildir/tmp" "$dir/maildir/new" "$dir/maildir/cur"
    "$STACK_SMTP_PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
        stack_die "aiosmtpd not found for $STACK_SMTP_PYTHON (Debian: python3-aiosmtpd)"
    port=$(cat "$dir/smtp.port" 2>/dev/null || stack_free_port)
    PYTHONDONTWRITEBYTECODE=1 setsid "$STACK_SMTP_PYTHON" -m aiosmtpd -n \
        -c aiosmtpd.handlers.Mailbox -l "127.0.0.1:$port" "$dir/maildir" \
        </dev/null >>"$dir/smtp.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/smtp.pid"
    echo "$port" >"$dir/smtp.port"
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || stack_die "the SMTP sink exited: see $dir/smtp.log"
        sleep 0.1
    done
    stack_die "the SMTP sink did not listen on port $port: see $dir/smtp.log"
}

# stack_smtp_stop DIR: stop the sink started by stack_smtp_start.
stack_smtp_stop() {
    stack_stop_pid "$1/smtp.pid"
}
