#!/bin/sh
# Entry point of the Compose replica (profile `scale`): on first start,
# copies the primary with pg_basebackup -R (which writes primary_conninfo
# and standby.signal), then runs PostgreSQL as a hot standby.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h db -U postgres -q; do sleep 1; done
  pg_basebackup -h db -U postgres -D "$PGDATA" -R -X stream -c fast
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
