#!/bin/sh
# Run once by the postgres image when it creates its database: lets the
# Compose network's replica (profile `scale`) stream from this primary.
# Local development only, like the rest of docker-compose.yml (trust).
set -e
echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"
