#!/bin/sh
# Run once by the postgres image's entrypoint, when it makes the data folder:
# include Whistle's durable settings (deploy/postgres/whistle.conf, mounted at
# /etc/postgresql/whistle.conf) from postgresql.conf. The server the
# entrypoint starts afterwards, and every later start, reads them.
echo "include '/etc/postgresql/whistle.conf'" >> "$PGDATA/postgresql.conf"
