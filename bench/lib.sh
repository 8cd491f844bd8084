# bench/lib.sh -- what bench/run and bench/instructions share (sourced;
# needs bash, BENCH, SRC and BUILD set, and die() and sql() defined).

BENCH_CFLAGS="-std=c11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
 -Wmissing-prototypes -Wvla"
# build_tools: bare-debit and print-statement into $BUILD/bench.
build_tools() {
    local deplibs
    mkdir -p "$BUILD/bench"
    # shellcheck disable=SC2046,SC2086
    cc $BENCH_CFLAGS $(pkg-config --cflags fcgi libpq libcrypto) -o "$BUILD/bench/bare-debit" \
        "$BENCH/bare-debit.c" $(pkg-config --libs fcgi libpq libcrypto) ||
        die "cannot build bench/bare-debit.c (needs libfcgi-dev libpq-dev libssl-dev)"
    # The libraries libtollgate.a needs, as the build links its programs.
    deplibs=$(make -s -C "$BUILD" --no-print-directory -f Makefile \
        -f <(printf 'bench-print-%%:\n\t@echo $(%s)\n' '$*') bench-print-DEP_LIBS) ||
        die "cannot read DEP_LIBS from $BUILD/Makefile"
    # shellcheck disable=SC2046,SC2086
    cc $BENCH_CFLAGS -I"$SRC/src" $(pkg-config --cflags libpq jansson) -o "$BUILD/bench/print-statement" \
        "$BENCH/print-statement.c" "$BUILD/libtollgate.a" $deplibs ||
        die "cannot build bench/print-statement.c against $BUILD/libtollgate.a"
}

# bench_bare_schema HISTORY: the schema "bare" of bench/bare-debit.c -- the
# same customers, keys and balances as tollgate's, and HISTORY past ledger
# rows each, as tollgate's usage history has.
bench_bare_schema() { # HISTORY: the bare tables, filled from tollgate's customers
    sql <<SQL
CREATE SCHEMA bare;
CREATE TABLE bare.customers (
    id      uuid PRIMARY KEY,
    balance bigint NOT NULL CHECK (balance >= 0)
);
CREATE TABLE bare.api_keys (
    key_hash    bytea PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES bare.customers
);
CREATE TABLE bare.ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id   uuid NOT NULL REFERENCES bare.customers,
    amount        bigint NOT NULL,
    balance_after bigint NOT NULL,
    reference     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bare.customers SELECT id, credit_balance FROM customers;
INSERT INTO bare.api_keys SELECT key_hash, customer_id FROM api_keys WHERE revoked_at IS NULL;
INSERT INTO bare.ledger (customer_id, amount, balance_after, reference)
SELECT c.id, -1, c.balance, 'history-' || g FROM bare.customers c CROSS JOIN generate_series(1, $1) g;
SQL
}
