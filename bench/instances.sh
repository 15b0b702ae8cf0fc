#!/usr/bin/env bash
# MODE=instances of bench/run.sh: two release instances behind nginx, against
# a primary plus one streaming replica, all on this machine. The cluster on
# port 5432 need not allow replication: this makes a scratch primary of its
# own (initdb, port $PRIMARY_PORT) and a replica of it (pg_basebackup -R,
# port $REPLICA_PORT) under $WORK, and a small generated shop in them.
#
# It records req/s for the customer list, a search and the reports page on
# one instance alone and through nginx to both, then stops one instance
# while wrk runs through nginx and counts the answers that were not 2xx/3xx.
# Appends the section "Several instances" to $OUT (BENCHMARKS.md).
#
#   MODE=instances bench/run.sh
#   MODE=instances USERS=5000 ORDERS=50000 SECONDS_PER_RUN=3 OUT=/tmp/b.md bench/run.sh
#
# Needs: cargo, PostgreSQL's programs (initdb, pg_ctl, pg_basebackup), nginx, wrk.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-20000}
PRODUCTS=${PRODUCTS:-2000}
ORDERS=${ORDERS:-200000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
CONNECTIONS=${CONNECTIONS:-16}
PRIMARY_PORT=${PRIMARY_PORT:-5499}
REPLICA_PORT=${REPLICA_PORT:-5498}
WORK=${WORK:-/tmp/shopdesk-instances-bench}
OUT=${OUT:-BENCHMARKS.md}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
DB=shopdesk_scale
PRIMARY_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/$DB"
REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/$DB"

for tool in wrk nginx curl; do command -v $tool >/dev/null || { echo "bench: $tool is needed"; exit 1; }; done
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# BIN=/path/to/shopdesk runs an already built binary instead.
if [ -z "${BIN:-}" ]; then
  echo "== Building the release binary"
  cargo build --release --quiet
  BIN=$PWD/target/release/shopdesk
fi

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx/shopdesk-nginx.pid" ] && kill "$(cat "$WORK/nginx/shopdesk-nginx.pid")" 2>/dev/null || true
  as_postgres "$PGBIN/pg_ctl" -D "$WORK/replica" -m immediate stop >/dev/null 2>&1 || true
  as_postgres "$PGBIN/pg_ctl" -D "$WORK/primary" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== A scratch primary on $PRIMARY_PORT and its replica on $REPLICA_PORT under $WORK"
cleanup
rm -rf "$WORK"
mkdir -p "$WORK/nginx"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$WORK"
as_postgres "$PGBIN/initdb" -D "$WORK/primary" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c shared_buffers=256MB -c max_connections=100"
as_postgres "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w \
  -o "-p $PRIMARY_PORT $opts -c wal_level=replica -c max_wal_senders=4" start >/dev/null
export PGHOST=127.0.0.1 PGUSER=postgres
psql -p "$PRIMARY_PORT" -d postgres -qc "CREATE DATABASE $DB"
DATABASE_URL=$PRIMARY_URL $BIN migrate >/dev/null
echo "== Generating $USERS customers, $PRODUCTS products, $ORDERS orders"
DATABASE_URL=$PRIMARY_URL $BIN generate --users "$USERS" --products "$PRODUCTS" --orders "$ORDERS" 2>&1 | grep -v WARN | tail -n 1
psql -p "$PRIMARY_PORT" -d "$DB" -qc "VACUUM ANALYZE"
echo "bench-password-1" | DATABASE_URL=$PRIMARY_URL $BIN create-staff --email bench@shopdesk.local --name Benchmark --role admin >/dev/null
as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$WORK/replica" -R -X stream -c fast
as_postgres "$PGBIN/pg_ctl" -D "$WORK/replica" -l "$WORK/replica.log" -w -o "-p $REPLICA_PORT $opts" start >/dev/null

echo "== Two instances on 8001 and 8002, nginx on 8080"
SECRET=$(head -c 32 /dev/urandom | base64)
start_instance() { # port
  DATABASE_URL=$PRIMARY_URL ROCKET_PORT=$1 ROCKET_SECRET_KEY="$SECRET" ROCKET_LOG_LEVEL=critical RUST_LOG=error \
    ROCKET_DATABASES="{shop={replica_url=\"$REPLICA_URL\"}}" ROCKET_METRICS_TOKEN=bench-metrics-token-0123 \
    ROCKET_PROXY='{header="X-Forwarded-For",trusted=["127.0.0.1"]}' \
    "$BIN" serve --no-demo >"$WORK/instance-$1.log" 2>&1 &
  PIDS+=($!)
}
start_instance 8001
start_instance 8002
for port in 8001 8002; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
done
nginx -c "$PWD/deploy/nginx.conf" -p "$WORK/nginx/"
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:8080/healthz" >/dev/null && break; sleep 0.2; done

JAR=$WORK/cookies
TOKEN=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:8080/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')
curl -s -c "$JAR" -b "$JAR" -o /dev/null -d "csrf=$TOKEN&email=bench@shopdesk.local&password=bench-password-1" "http://127.0.0.1:8080/sign-in"
# The sign-in was a write: the session's first read learns its position.
curl -s -c "$JAR" -b "$JAR" -o /dev/null "http://127.0.0.1:8080/users"
sleep 2
COOKIE=$(awk '$6 ~ /^shopdesk_/ {printf "%s=%s; ", $6, $7}' "$JAR")

declare -A URLS=([users]="/users" [search]="/users?q=nguyen" [reports]="/reports")
PAGES="users search reports"
for page in $PAGES; do
  for port in 8001 8080; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$port${URLS[$page]}")
    [ "$code" = 200 ] || { echo "bench: ${URLS[$page]} on $port answered $code"; exit 1; }
  done
done

rps() { # port, path
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -H "Cookie: $COOKIE" "http://127.0.0.1:$1$2" |
    awk '/Requests\/sec/ { printf "%.0f", $2 } /Non-2xx/ { bad = $NF } END { if (bad) printf " (%s non-2xx/3xx)", bad }'
}
fallbacks() { # port
  curl -s -H "Authorization: Bearer bench-metrics-token-0123" "http://127.0.0.1:$1/metrics" |
    awk '/^shopdesk_replica_fallbacks_total/ { n += $2 } END { print n + 0 }'
}
replica_reads() {
  psql -p "$REPLICA_PORT" -d "$DB" -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shopdesk-replica'"
}

echo "== Warming up"
for page in $PAGES; do wrk -t1 -c4 -d2s -H "Cookie: $COOKIE" "http://127.0.0.1:8080${URLS[$page]}" >/dev/null; done

declare -A ONE TWO
for page in $PAGES; do
  ONE[$page]=$(rps 8001 "${URLS[$page]}")
  TWO[$page]=$(rps 8080 "${URLS[$page]}")
  printf '%-8s one instance %8s req/s   two behind nginx %8s req/s\n' "$page" "${ONE[$page]}" "${TWO[$page]}"
done
REPLICA_CONNECTIONS=$(replica_reads)
FALLBACKS=$(( $(fallbacks 8001) + $(fallbacks 8002) ))

echo "== Stopping the instance on 8002 while wrk runs through nginx"
STOP_SECONDS=$(( SECONDS_PER_RUN * 2 ))
wrk -t2 -c"$CONNECTIONS" -d"${STOP_SECONDS}s" -H "Cookie: $COOKIE" "http://127.0.0.1:8080/users" >"$WORK/stop.txt" &
WRK=$!
sleep "$SECONDS_PER_RUN"
kill -TERM "${PIDS[1]}"
wait "$WRK"
STOP_TOTAL=$(awk '/requests in/ { print $1 }' "$WORK/stop.txt")
STOP_BAD=$(awk '/Non-2xx/ { print $NF }' "$WORK/stop.txt")
STOP_ERRORS=$(awk '/Socket errors/ { print $0 }' "$WORK/stop.txt")
echo "$STOP_TOTAL requests, non-2xx/3xx: ${STOP_BAD:-0}, ${STOP_ERRORS:-no socket errors}"

CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
{
  echo
  echo "## Several instances"
  echo
  echo "\`MODE=instances bench/run.sh\`, $(date -u +%Y-%m-%d): two release instances on ports 8001 and 8002 behind nginx"
  echo "(\`deploy/nginx.conf\`), writing to a scratch primary and reading lists and searches from one streaming"
  echo "replica of it (both PostgreSQL $(psql -p "$PRIMARY_PORT" -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1), made by the script with initdb and pg_basebackup),"
  echo "$USERS customers, $PRODUCTS products, $ORDERS orders; wrk with $CONNECTIONS connections for ${SECONDS_PER_RUN} s per run."
  echo "Everything (both instances, nginx, both PostgreSQL servers and wrk) shares this machine's $(nproc) cores ($CPU),"
  echo "so a second instance cannot add capacity here: the point is that the mechanism works, not a speed-up."
  echo
  echo "| page | one instance, req/s | two instances behind nginx, req/s |"
  echo "|---|---:|---:|"
  for page in $PAGES; do echo "| \`${URLS[$page]}\` | ${ONE[$page]} | ${TWO[$page]} |"; done
  echo
  echo "- The list, the search and the reports read from the replica ($REPLICA_CONNECTIONS replica connections open after"
  echo "  the runs; $FALLBACKS reads fell back to the primary over all runs). On the replica, the reports' period leaders"
  echo "  are worked out without being kept (a standby takes no writes; see docs/SCALING.md)."
  echo "- Stopping the instance on 8002 (SIGTERM) ${SECONDS_PER_RUN} s into a ${STOP_SECONDS} s run of \`/users\` through nginx:"
  echo "  $STOP_TOTAL requests, ${STOP_BAD:-0} answered other than 2xx/3xx, ${STOP_ERRORS:-no socket errors}."
} >>"$OUT"
echo "== Appended \"Several instances\" to $OUT"
