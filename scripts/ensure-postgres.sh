#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at DANCU_TEST_PG_URL's host (default 127.0.0.1:5432, user postgres,
# trust auth): use a running one, start an installed cluster, or install Debian's server and start it.
set -euo pipefail
HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}
ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null || (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }
if ready; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "installing postgresql (Debian package)…"
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
VERSION=$(ls /etc/postgresql | sort -V | tail -1)
CONF=/etc/postgresql/$VERSION/main
# Local test server only: trust on loopback so the suite can create and drop its own databases.
if ! grep -q "dancu-test" "$CONF/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust # dancu-test\nhost all all ::1/128 trust # dancu-test\nlocal all all trust # dancu-test' "$CONF/pg_hba.conf"
fi
pg_ctlcluster --skip-systemctl-redirect "$VERSION" main start || pg_ctlcluster "$VERSION" main start
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not start" >&2
exit 1
