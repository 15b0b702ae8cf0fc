#!/usr/bin/env bash
# Shopdesk benchmark: generates the dataset into its own database, starts the
# release server, warms up, then measures each page with wrk at 1, 16 and 64
# connections, and the same SQL with pgbench -M prepared as the database
# ceiling. Then measures the order form's and the record pages' sizes and a
# bulk action on 500 and on about 100,000 orders (undone afterwards), and the
# download of every order as CSV and as XLSX (time, size, the server's peak
# memory while it runs). Prints tables and writes BENCHMARKS.md.
#
#   bench/run.sh                      # 100k customers, 10k products, 1M orders
#   USERS=10000 ORDERS=100000 SECONDS_PER_RUN=5 bench/run.sh   # a quick run
#   ONLY="product_buyers customer_page" REUSE=1 OUT=/tmp/b.md bench/run.sh   # some pages
#   ONLY="orders_csv orders_xlsx" REUSE=1 OUT=/tmp/b.md bench/run.sh   # only the downloads
#   MODE=instances bench/run.sh       # two instances behind nginx, one read replica
#   MODE=import bench/run.sh          # only the 100k-row customer import (own scratch database)
#   BIN=/tmp/shopdesk-before ONLY=search REUSE=1 EXTRAS=0 OUT=/tmp/a.md bench/run.sh   # another binary, pages only
#   MODE=jobs bench/run.sh            # a 100k-order bulk action as a job (bench/jobs.sh)
#
# Needs: cargo, PostgreSQL at $PGHOST:$PGPORT (user postgres), wrk, pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
# MODE=instances: two instances behind nginx with a read replica (see bench/instances.sh).
if [ "${MODE:-}" = instances ]; then exec bench/instances.sh; fi
# The jobs benchmark has its own database and steps.
if [ "${MODE:-}" = jobs ]; then exec bench/jobs.sh; fi

USERS=${USERS:-100000}
PRODUCTS=${PRODUCTS:-10000}
ORDERS=${ORDERS:-1000000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONCURRENCY=${CONCURRENCY:-"1 16 64"}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
BENCH_DB=${BENCH_DB:-shopdesk_bench}
PORT=${BENCH_PORT:-8099}
REUSE=${REUSE:-0}
OUT=${OUT:-BENCHMARKS.md}
export PGHOST PGPORT PGUSER=postgres
export DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$BENCH_DB"

# A 100,000-row customer import with the command line, into its own scratch
# database (IMPORT_DB, created and dropped here): a dry run, then the commit,
# each timed with its peak memory. Prints the rows for BENCHMARKS.md's
# "Import" section.
if [ "${MODE:-}" = import ]; then
  IMPORT_DB=${IMPORT_DB:-shopdesk_bench_import}
  IMPORT_ROWS=${IMPORT_ROWS:-100000}
  BIN=${BIN:-target/release/shopdesk}
  [ "$BIN" != target/release/shopdesk ] || cargo build --release --quiet
  export DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$IMPORT_DB"
  dropdb --if-exists --force "$IMPORT_DB"
  createdb "$IMPORT_DB"
  $BIN migrate >/dev/null
  # Half the rows update customers that exist, half are new.
  psql -d "$IMPORT_DB" -qc "INSERT INTO users (name, email) SELECT 'Customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, $IMPORT_ROWS / 2) i"
  CSV=$(mktemp --suffix=.csv)
  { echo "Full name,E-mail"; seq 1 "$IMPORT_ROWS" | awk '{ printf "Imported %d,C%d@Example.com\n", $1, $1 }'; } >"$CSV"
  measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -n 1; }
  read -r DRY_S DRY_KB < <(measure $BIN import customers "$CSV" --dry-run)
  read -r COMMIT_S COMMIT_KB < <(measure $BIN import customers "$CSV")
  IMPORTED=$(psql -d "$IMPORT_DB" -Atc "SELECT count(*) FROM users WHERE name LIKE 'Imported %'")
  echo "| step | rows | seconds | peak RSS MB |"
  echo "|---|---:|---:|---:|"
  echo "| dry run (\`--dry-run\`) | $IMPORT_ROWS | $DRY_S | $((DRY_KB / 1024)) |"
  echo "| commit (dry run + one transaction) | $IMPORT_ROWS | $COMMIT_S | $((COMMIT_KB / 1024)) |"
  echo "rows imported: $IMPORTED; CSV $(du -h "$CSV" | cut -f1)"
  rm -f "$CSV"
  dropdb --if-exists --force "$IMPORT_DB"
  exit 0
fi

command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }
command -v pgbench >/dev/null || { echo "bench: pgbench is needed (apt-get install postgresql-client)"; exit 1; }

# BIN=/path/to/shopdesk measures that binary instead (e.g. one built from an
# earlier commit, to compare before and after back to back on the same data).
if [ -z "${BIN:-}" ]; then
  echo "== Building the release binary"
  cargo build --release --quiet
  BIN=target/release/shopdesk
fi

if [ "$REUSE" != 1 ] || ! psql -d "$BENCH_DB" -Atc 'SELECT 1' >/dev/null 2>&1; then
  echo "== Generating $USERS customers, $PRODUCTS products, $ORDERS orders into $BENCH_DB"
  dropdb --if-exists --force "$BENCH_DB"
  createdb "$BENCH_DB"
  $BIN migrate
  $BIN generate --users "$USERS" --products "$PRODUCTS" --orders "$ORDERS" 2>&1 | grep -v WARN | tail -n 1
fi
psql -d "$BENCH_DB" -qc "DELETE FROM staff WHERE email = 'bench@shopdesk.local'" >/dev/null
echo "bench-password-1" | $BIN create-staff --email bench@shopdesk.local --name Benchmark --role admin >/dev/null
STAFF_ID=$(psql -d "$BENCH_DB" -Atc "SELECT id FROM staff WHERE email = 'bench@shopdesk.local'")

# The dashboard's top lists of the preset periods are worked out by the
# server's refresher when their days changed (a year's take seconds of both
# cores at this size). Working them out here, before the server starts, keeps
# that work out of the measured runs: left to the refresher, it ran during
# the first pages' runs and showed as p99 spikes of up to a second on pages
# that have nothing to do with it.
echo "== Bringing the dashboard's top lists up to date"
psql -d "$BENCH_DB" -qAt -c "
  WITH t AS (SELECT (now() AT TIME ZONE shop_time_zone())::DATE AS d)
  SELECT count(*) FROM t,
         LATERAL (VALUES (d - 6), (d - 29), (d - 89), (date_trunc('month', d)::DATE),
                         (date_trunc('quarter', d)::DATE), (date_trunc('year', d)::DATE)) v(f),
         LATERAL period_leaders_of(v.f, t.d, 25, true)" >/dev/null

echo "== Starting the server on port $PORT"
METRICS_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
ROCKET_PORT=$PORT ROCKET_SECRET_KEY="$(head -c 32 /dev/urandom | base64)" ROCKET_LOG_LEVEL=critical \
  ROCKET_METRICS_TOKEN="$METRICS_TOKEN" RUST_LOG=error $BIN serve --no-demo >/tmp/shopdesk-bench-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

JAR=$(mktemp)
TOKEN=$(curl -s -c "$JAR" -b "$JAR" "http://127.0.0.1:$PORT/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -n 1 | sed 's/.*value="//;s/"$//')
curl -s -c "$JAR" -b "$JAR" -o /dev/null -d "csrf=$TOKEN&email=bench@shopdesk.local&password=bench-password-1" "http://127.0.0.1:$PORT/sign-in"
COOKIE=$(awk '$6 ~ /^shopdesk_/ {printf "%s=%s; ", $6, $7}' "$JAR")

# Pages and the data they look at.
# A page 90% of the way through the customers, reached by its keyset cursor.
DEEP_ID=$(psql -d "$BENCH_DB" -Atc "SELECT id FROM users ORDER BY created_at DESC, id DESC OFFSET (SELECT count(*) * 9 / 10 FROM users) LIMIT 1")
DEEP_VALUE=$(psql -d "$BENCH_DB" -Atc "SELECT created_at::text FROM users WHERE id = $DEEP_ID")
CUSTOMER=$(psql -d "$BENCH_DB" -Atc "SELECT user_id FROM customer_stats ORDER BY order_count DESC LIMIT 1")
# The best-selling product, and a page of the busiest customer's products 100 rows in.
BEST=$(psql -d "$BENCH_DB" -Atc "SELECT product_id FROM product_stats ORDER BY units_sold DESC, product_id LIMIT 1")
read -r BOUGHT_UNITS BOUGHT_ID <<<"$(psql -d "$BENCH_DB" -AtF ' ' -c "SELECT units, product_id FROM customer_products WHERE user_id = $CUSTOMER ORDER BY units DESC, product_id DESC OFFSET 100 LIMIT 1")"
ORDER=$(psql -d "$BENCH_DB" -Atc "SELECT max(id) / 2 FROM orders")
# The shop's today, and the first days of the dashboard's periods and of
# the periods before them (of equal length).
read -r TODAY FROM30 PREV_FROM30 FROM90 PREV_FROM90 FROM365 PREV_FROM365 <<<"$(psql -d "$BENCH_DB" -AtF ' ' -c "
  SELECT t, t - 29, t - 59, t - 89, t - 179, t - 364, t - 729 FROM (SELECT (now() AT TIME ZONE shop_time_zone())::DATE AS t) d")"
urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
declare -A URLS=(
  [dashboard]="/"
  [dashboard_90d]="/?period=90d"
  [dashboard_1y]="/?period=custom&from=$FROM365&to=$TODAY"
  [reports_90d]="/reports?period=90d"
  [users_first]="/users"
  [users_deep]="/users?sort=joined&dir=desc&after=$(urlencode "$DEEP_VALUE~$DEEP_ID")"
  [orders_by_customer]="/orders?user_id=$CUSTOMER"
  [order_detail]="/orders/$ORDER"
  [reports]="/reports"
  [search]="/users?q=nguyen"
  [search_rare]="/users?q=nguyen.5"
  [order_new]="/orders/new"
  [picker_email]="/pickers/customers?q=nguyen.512"
  [picker_broad]="/pickers/customers?q=nguyen"
  [picker_products]="/pickers/products?q=blue%20mug"
  [product_buyers]="/products/$BEST?sort=spend&dir=desc"
  [customer_page]="/users/$CUSTOMER"
  [customer_products]="/users/$CUSTOMER?sort=units&dir=desc&after=$(urlencode "$BOUGHT_UNITS~$BOUGHT_ID")"
  [orders_by_product]="/orders?product_id=$BEST"
  [invoice]="/orders/$ORDER/invoice"
  [packing_slip]="/orders/$ORDER/packing-slip"
)
PAGES="dashboard dashboard_90d dashboard_1y users_first users_deep orders_by_customer order_detail reports reports_90d search search_rare order_new picker_email picker_broad picker_products product_buyers customer_page customer_products orders_by_product invoice packing_slip"
# Downloads of every order, timed once each.
declare -A EXPORT_URLS=(
  [orders_csv]="/orders.csv"
  [orders_xlsx]="/orders.xlsx"
)
EXPORTS="orders_csv orders_xlsx"
if [ -n "${ONLY:-}" ]; then
  PAGES="" EXPORTS=""
  for name in $ONLY; do
    if [ -n "${EXPORT_URLS[$name]:-}" ]; then EXPORTS="$EXPORTS $name"; else PAGES="$PAGES $name"; fi
  done
fi
for page in $PAGES; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT${URLS[$page]}")
  [ "$code" = 200 ] || { echo "bench: ${URLS[$page]} answered $code"; exit 1; }
done

echo "== Warming up"
for page in $PAGES; do
  wrk -t1 -c4 -d2s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT${URLS[$page]}" >/dev/null
done

# wrk prints latency percentiles like "50%  1.23ms"; normalise to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v } else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 } else print v }'; }
peak_rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER/status"; }
# The pool's totals so far: connections handed out, seconds waited for them,
# waits over 100 ms.
pool_waits() {
  curl -s -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics" | awk '
    $1 == "shopdesk_db_pool_acquired" { a = $2 } $1 == "shopdesk_db_pool_wait_seconds" { w = $2 }
    $1 == "shopdesk_db_pool_slow_waits" { s = $2 } END { printf "%d %.6f %d\n", a, w, s }'
}

RESULTS=$(mktemp)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== Load average: $LOAD"
printf '%-20s %5s %10s %9s %9s %11s %7s %8s %9s %5s\n' page conns "req/s" "p50 ms" "p99 ms" "db tps" ratio "RSS MB" "wait ms" slow | tee -a "$RESULTS"
for page in $PAGES; do
  for c in $CONCURRENCY; do
    threads=$(( c < 2 ? 1 : 2 ))
    read -r acquired0 waited0 slow0 <<<"$(pool_waits)"
    out=$(wrk -t$threads -c"$c" -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT${URLS[$page]}")
    # The mean wait for a pooled connection during the run, and the waits over 100 ms.
    read -r acquired1 waited1 slow1 <<<"$(pool_waits)"
    wait_ms=$(awk -v a="$((acquired1 - acquired0))" -v w0="$waited0" -v w1="$waited1" 'BEGIN { if (a > 0) printf "%.3f", (w1 - w0) * 1000 / a; else print "-" }')
    slow=$((slow1 - slow0))
    rps=$(echo "$out" | awk '/Requests\/sec/ { printf "%.0f", $2 }')
    p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
    p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
    non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
    [ -z "$non2xx" ] || echo "bench: $page had $non2xx non-2xx answers" >&2
    # Custom plans, like the list queries, which Shopdesk plans with their values every time.
    tps=$(PGOPTIONS="-c plan_cache_mode=force_custom_plan" pgbench -n -M prepared -c "$c" -j $threads -T "$SECONDS_PER_RUN" -D staff="$STAFF_ID" -D customer="$CUSTOMER" \
      -D order="$ORDER" -D deep_at="$DEEP_VALUE" -D deep_id="$DEEP_ID" -D best="$BEST" \
      -D bought_units="$BOUGHT_UNITS" -D bought_id="$BOUGHT_ID" -D today="$TODAY" -D from30="$FROM30" \
      -D prev_from30="$PREV_FROM30" -D from90="$FROM90" -D prev_from90="$PREV_FROM90" -D from365="$FROM365" \
      -D prev_from365="$PREV_FROM365" -f "bench/sql/$page.sql" "$BENCH_DB" 2>/dev/null \
      | awk '/^tps/ { printf "%.0f", $3 }')
    ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }')
    printf '%-20s %5s %10s %9s %9s %11s %7s %8s %9s %5s\n' "$page" "$c" "$rps" "$p50" "$p99" "$tps" "$ratio" "$(peak_rss_mb)" "$wait_ms" "$slow" | tee -a "$RESULTS"
  done
done

FORMS=$(mktemp) RECORDS=$(mktemp) BULK=$(mktemp) DOWNLOADS=$(mktemp)
# EXTRAS=0 measures only the pages: no order form sizes, record pages or
# bulk actions (which change 100,000 orders and undo them).
if [ -n "${PAGES// /}" ] && [ "${EXTRAS:-1}" = 1 ]; then
# The order form at this size: bytes of HTML for a new order, one preselected
# customer, and editing the largest order.
BIGGEST=$(psql -d "$BENCH_DB" -Atc "SELECT id FROM orders ORDER BY item_count DESC, id LIMIT 1")
for form in "/orders/new" "/orders/new?user_id=$CUSTOMER" "/orders/$BIGGEST/edit"; do
  curl -s -o /dev/null -w "%{size_download} %{time_total}\n" -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$form" \
    | awk -v f="$form" '{ printf "%s %d %.1f\n", f, $1, $2 * 1000 }' >>"$FORMS"
done
echo "== Order form: path, HTML bytes, ms"
cat "$FORMS"

# The pages of the customer with the most orders and of the best-selling
# product: bytes of HTML and the time to serve them once, with all their
# orders and buyers behind them.
for record in "/users/$CUSTOMER" "/products/$BEST" "/orders?product_id=$BEST&status=active"; do
  curl -s -o /dev/null -w "%{size_download} %{time_total}\n" -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$record" \
    | awk -v f="$record" '{ printf "%s %d %.1f\n", f, $1, $2 * 1000 }' >>"$RECORDS"
done
CUSTOMER_ORDERS=$(psql -d "$BENCH_DB" -Atc "SELECT order_count FROM customer_stats WHERE user_id = $CUSTOMER")
BEST_BUYERS=$(psql -d "$BENCH_DB" -Atc "SELECT customer_count FROM product_stats WHERE product_id = $BEST")
echo "== Record pages ($CUSTOMER_ORDERS orders of customer $CUSTOMER, $BEST_BUYERS buyers of product $BEST): path, HTML bytes, ms"
cat "$RECORDS"

# Bulk actions through the confirmation page, as a person would: review, then
# confirm. Mark paid a day's worth of unpaid orders (about 500), then every
# unpaid order since a date chosen so that about 100,000 match. Each is undone
# afterwards so that the dataset stays as generated.
bulk() { # label, confirmation page path
  local review apply form
  review=$(curl -s -o /tmp/shopdesk-bench-review.html -w '%{time_total}' -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$2")
  form=$(python3 - /tmp/shopdesk-bench-review.html <<'PY'
import html, re, sys, urllib.parse
page = open(sys.argv[1]).read()
form = page[page.index('<form method="post" action="/orders/bulk"'):]
form = form[:form.index("</form>")]
fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
print(urllib.parse.urlencode([(k, html.unescape(v)) for k, v in fields]))
PY
)
  local count=${form#*confirmed=}; count=${count%%&*}
  apply=$(curl -s -o /dev/null -w '%{time_total} %{http_code}' -H "Cookie: $COOKIE" --data "$form" "http://127.0.0.1:$PORT/orders/bulk")
  [ "${apply#* }" = 303 ] || { echo "bench: bulk $1 answered ${apply#* }"; exit 1; }
  awk -v l="$1" -v n="$count" -v r="$review" -v a="${apply% *}" 'BEGIN { printf "%s %d %.0f %.0f\n", l, n, r * 1000, a * 1000 }' | tee -a "$BULK"
}
undo_bulk() { # put the orders the bench marked paid back to pending
  psql -d "$BENCH_DB" -qc "UPDATE orders SET status = 'pending' WHERE id IN (
    SELECT entity_id FROM audit_log WHERE entity = 'order' AND staff_id = $STAFF_ID AND action = 'update'
       AND before ->> 'status' = 'pending' AND after ->> 'status' = 'paid' AND at >= '$BULK_START')" >/dev/null
}
BULK_START=$(psql -d "$BENCH_DB" -Atc "SELECT now()")
DAY=$(psql -d "$BENCH_DB" -Atc "SELECT d FROM (SELECT (placed_at AT TIME ZONE shop_time_zone())::DATE AS d, count(*) AS n FROM orders WHERE status = 'pending' GROUP BY 1) c ORDER BY abs(n - 500), d DESC LIMIT 1")
SINCE=$(psql -d "$BENCH_DB" -Atc "SELECT (placed_at AT TIME ZONE shop_time_zone())::DATE FROM orders WHERE status = 'pending' ORDER BY placed_at DESC OFFSET 99999 LIMIT 1")
echo "== Bulk actions: label, orders, review ms, apply ms"
bulk "mark_paid_one_day" "/orders/bulk?action=paid&scope=all&filters.status=pending&filters.from=$DAY&filters.to=$DAY"
undo_bulk
bulk "mark_paid_100k" "/orders/bulk?action=paid&scope=all&filters.status=pending&filters.from=$SINCE"
undo_bulk

fi

# Downloads: the time to the last byte, the file's size, and the server's
# resident memory before and at its peak while the download was prepared
# and sent (sampled every 50 ms).
download() { # label, path
  local sampler result before peak
  ( while kill -0 "$SERVER" 2>/dev/null; do awk '/VmRSS/ { print $2 }' "/proc/$SERVER/status"; sleep 0.05; done ) >/tmp/shopdesk-bench-rss.txt &
  sampler=$!
  sleep 0.2
  result=$(curl -s -o /tmp/shopdesk-bench-download -w '%{time_total} %{http_code} %{size_download}' -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$2")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  read -r seconds code bytes <<<"$result"
  [ "$code" = 200 ] || { echo "bench: $2 answered $code"; exit 1; }
  before=$(head -n 1 /tmp/shopdesk-bench-rss.txt)
  peak=$(sort -n /tmp/shopdesk-bench-rss.txt | tail -n 1)
  awk -v l="$1" -v s="$seconds" -v b="$bytes" -v r0="$before" -v r1="$peak" \
    'BEGIN { printf "%s %.1f %.1f %.1f %.1f\n", l, s, b / 1048576, r0 / 1024, r1 / 1024 }' | tee -a "$DOWNLOADS"
  rm -f /tmp/shopdesk-bench-download /tmp/shopdesk-bench-rss.txt
}
if [ -n "${EXPORTS// /}" ]; then
  echo "== Downloads: label, seconds, MB, server RSS MB before, peak RSS MB"
  for name in $EXPORTS; do download "$name" "${EXPORT_URLS[$name]}"; done
fi

CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
PGV=$(psql -d "$BENCH_DB" -Atc 'SHOW server_version')
ROWS=$(psql -d "$BENCH_DB" -AtF ' ' -c "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM products), (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items)")
{
  echo "# Shopdesk benchmarks"
  echo
  echo "Measured by \`bench/run.sh\` (the command: \`bench/run.sh\`, ${SECONDS_PER_RUN} s per run) on $(date -u +%Y-%m-%d)."
  echo
  echo "- Machine: $(nproc) cores ($CPU), $MEM; server, PostgreSQL $PGV, wrk and pgbench all on the same machine."
  read -r u p o l <<<"$ROWS"
  echo "- Data: $u customers, $p products, $o orders with $l lines (\`shopdesk generate\`)."
  echo "- Each page is requested signed in, so every request also checks its session in the database."
  echo "- *db tps* is \`pgbench -M prepared\` running the same SQL statements the page runs, at the same concurrency, with \`plan_cache_mode=force_custom_plan\` because Shopdesk plans its list queries with their actual values each time: the database ceiling. *ratio* is page req/s over that ceiling. *RSS* is the server's peak resident memory so far."
  echo
  echo "- *wait ms* is the mean time a request waited for a pooled connection during the run (a page takes one, for its session check and its statements; the pool holds `max_connections`, 8 by default), *slow* the waits over 100 ms (from \`/metrics\`). Load average when the runs began: $LOAD."
  echo
  echo "| page | URL | conns | req/s | p50 ms | p99 ms | db tps | ratio | peak RSS MB | wait ms | slow |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  tail -n +2 "$RESULTS" | while read -r page c rps p50 p99 tps ratio rss wait slow; do
    echo "| $page | \`${URLS[$page]%%&after=*}\` | $c | $rps | $p50 | $p99 | $tps | $ratio | $rss | $wait | $slow |"
  done
  if [ -s "$FORMS" ]; then
  echo
  echo "## The order form"
  echo
  echo "HTML size of the order form with $u customers and $p products (customers and products are chosen through search pickers, so the page never lists them), and the time to serve it once."
  echo
  echo "| page | HTML bytes | ms |"
  echo "|---|---:|---:|"
  while read -r path bytes ms; do echo "| \`$path\` | $bytes | $ms |"; done <"$FORMS"
  fi
  if [ -s "$RECORDS" ]; then
  echo
  echo "## Record pages"
  echo
  echo "The customer with the most orders ($CUSTOMER_ORDERS of them) and the best-selling product (bought by $BEST_BUYERS customers): HTML size and the time to serve each once. They show a page of rows and read kept figures, so neither grows with the orders behind it."
  echo
  echo "| page | HTML bytes | ms |"
  echo "|---|---:|---:|"
  while read -r path bytes ms; do echo "| \`$path\` | $bytes | $ms |"; done <"$RECORDS"
  fi
  if [ -s "$BULK" ]; then
  echo
  echo "## Bulk actions"
  echo
  echo "Marking unpaid orders paid through the confirmation page: *review* is the page that counts them and shows a sample, *apply* is the confirmed change in one transaction (row locks, version check, stock rules, one audit row per order, report figures). Undone after each run."
  echo
  echo "| action | orders | review ms | apply ms |"
  echo "|---|---:|---:|---:|"
  while read -r label n review apply; do echo "| $label | $n | $review | $apply |"; done <"$BULK"
  fi
  if [ -s "$DOWNLOADS" ]; then
  echo
  echo "## Downloads"
  echo
  echo "Every order ($o of them) as CSV and as Excel (XLSX), sorted as the orders list: the time until the last byte arrived, the file's size, and the server's resident memory before the download and at its peak while it was prepared and sent. Both run the query to the end into a temporary file (the XLSX sheet in constant-memory mode, then compressed) before sending it with its length; the pooled connection is held only while the query runs."
  echo
  echo "| download | URL | seconds | MB | RSS before MB | peak RSS MB |"
  echo "|---|---|---:|---:|---:|---:|"
  while read -r label seconds mb before peak; do echo "| $label | \`${EXPORT_URLS[$label]}\` | $seconds | $mb | $before | $peak |"; done <"$DOWNLOADS"
  fi
} >"$OUT"
echo "== Wrote $OUT"
