#!/usr/bin/env bash
# The jobs benchmark (`MODE=jobs bench/run.sh`, or run directly): a bulk
# action on every order (about 100,000) confirmed in the browser flow, run as
# a job end to end (enqueue → done), then the same again with the server
# killed (SIGKILL) halfway and started again, checking that the job finished
# exactly once: every order changed once, no batch half-applied. Uses its own
# database, never the main benchmark's. Appends its table to $OUT.
#
#   MODE=jobs bench/run.sh
#   BIN=target/debug/shopdesk ORDERS=100000 bench/jobs.sh    # without a release build
set -euo pipefail
cd "$(dirname "$0")/.."

ORDERS=${ORDERS:-100000}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
JOBS_DB=${JOBS_DB:-shopdesk_jobs_bench}
PORT=${BENCH_PORT:-8098}
OUT=${OUT:-BENCHMARKS.md}
BIN=${BIN:-target/release/shopdesk}
export PGHOST PGPORT PGUSER=postgres
export DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$JOBS_DB"
# A silent worker is taken over after 5 s (the default is 60).
export ROCKET_JOBS="{workers=1,batch_rows=1000,threshold_rows=10000,poll_seconds=0.2,stale_seconds=5}"

if [ "$BIN" = target/release/shopdesk ]; then
  echo "== Building the release binary"
  cargo build --release --quiet
fi

if [ "${REUSE:-0}" != 1 ] || ! psql -d "$JOBS_DB" -Atc 'SELECT 1' >/dev/null 2>&1; then
  echo "== Generating $ORDERS orders into $JOBS_DB"
  dropdb --if-exists --force "$JOBS_DB"
  createdb "$JOBS_DB"
  $BIN migrate
  $BIN generate --users 20000 --products 2000 --orders "$ORDERS" 2>&1 | grep -v WARN | tail -n 1
fi
psql -d "$JOBS_DB" -qc "DELETE FROM staff WHERE email = 'bench@shopdesk.local'" >/dev/null
echo "bench-password-1" | $BIN create-staff --email bench@shopdesk.local --name Benchmark --role admin >/dev/null

SERVER=
start_server() {
  ROCKET_PORT=$PORT ROCKET_SECRET_KEY="$KEY" ROCKET_LOG_LEVEL=critical RUST_LOG=error \
    $BIN serve --no-demo >>/tmp/shopdesk-jobs-bench-server.log 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.2; done
  echo "bench: the server did not start"; exit 1
}
KEY="$(head -c 32 /dev/urandom | base64)"
trap 'kill $SERVER 2>/dev/null || true' EXIT
start_server

JAR=$(mktemp)
TOKEN=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:$PORT/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')
curl -s -c "$JAR" -b "$JAR" -o /dev/null -d "csrf=$TOKEN&email=bench@shopdesk.local&password=bench-password-1" "http://127.0.0.1:$PORT/sign-in"

# Reviews and confirms `action` on every order; prints the job's id.
enqueue() {
  local review fields
  review=$(curl -s -b "$JAR" "http://127.0.0.1:$PORT/orders/bulk?action=$1&scope=all")
  fields=$(echo "$review" | python3 -c '
import html, re, sys, urllib.parse
page = sys.stdin.read()
form = page[page.index("<form method=\"post\" action=\"/orders/bulk\""):]
form = form[:form.index("</form>")]
pairs = re.findall(r"type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\"", form)
print(urllib.parse.urlencode([(n, html.unescape(v)) for n, v in pairs]))')
  curl -s -b "$JAR" -o /dev/null -w '%{redirect_url}' -d "$fields" "http://127.0.0.1:$PORT/orders/bulk" | sed 's|.*/jobs/||'
}

# Waits for job $1 to end; prints its state.
wait_for() {
  local state
  while :; do
    state=$(psql -d "$JOBS_DB" -Atc "SELECT state FROM jobs WHERE id = $1")
    case "$state" in queued|running) sleep 0.2 ;; *) echo "$state"; return ;; esac
  done
}

row() {
  psql -d "$JOBS_DB" -Atc "SELECT total, changed, skipped, round(extract(epoch FROM finished_at - created_at)::NUMERIC, 1)
                             FROM jobs WHERE id = $1" | tr '|' ' '
}

RESULTS=$(mktemp)
echo "== Marking every order shipped as a job"
JOB=$(enqueue shipped)
[ -n "$JOB" ] || { echo "bench: no job was queued"; exit 1; }
STATE=$(wait_for "$JOB")
read -r total changed skipped seconds <<<"$(row "$JOB")"
echo "mark_shipped $STATE $total $changed $skipped $seconds no" >>"$RESULTS"

echo "== Marking every order paid as a job, killing the server halfway"
JOB=$(enqueue paid)
while [ "$(psql -d "$JOBS_DB" -Atc "SELECT done * 2 >= total FROM jobs WHERE id = $JOB")" != t ]; do sleep 0.1; done
kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
echo "   killed at $(psql -d "$JOBS_DB" -Atc "SELECT done || ' of ' || total FROM jobs WHERE id = $JOB")"
start_server
STATE=$(wait_for "$JOB")
read -r total changed skipped seconds <<<"$(row "$JOB")"
# Each order's change to paid is audited once, or the job is not exact.
TWICE=$(psql -d "$JOBS_DB" -Atc "SELECT count(*) FROM (SELECT entity_id FROM audit_log
          WHERE entity = 'order' AND action = 'update' AND after ->> 'status' = 'paid' AND before ->> 'status' <> 'paid'
            AND at >= (SELECT created_at FROM jobs WHERE id = $JOB)
          GROUP BY entity_id HAVING count(*) > 1) t")
echo "mark_paid_with_restart $STATE $total $changed $skipped $seconds yes_(${TWICE}_audited_twice)" >>"$RESULTS"

{
  echo
  echo "## Jobs"
  echo
  echo "A bulk action on every order ($ORDERS) confirmed through the review page and run as a job by the server's worker, in batches of 1,000 (each one transaction with the job's progress): seconds from enqueue to done. The second run kills the server (SIGKILL) halfway and starts it again; the job is resumed from its last committed batch, and *audited twice* counts orders whose change was applied more than once (must be 0)."
  echo
  echo "| job | state | targets | changed | skipped | seconds | restarted |"
  echo "|---|---|---:|---:|---:|---:|---|"
  while read -r label state total changed skipped seconds restarted; do
    echo "| $label | $state | $total | $changed | $skipped | $seconds | ${restarted//_/ } |"
  done <"$RESULTS"
} >>"$OUT"
cat "$RESULTS"
echo "== Appended to $OUT"
