#!/usr/bin/env bash
# Start the local PostgreSQL cluster (if stopped) and create the role the tests use:
#   postgresql://takasago:takasago@127.0.0.1:5432/postgres   (override: TAKASAGO_TEST_PG_URL)
# For tests only: the role is a superuser so each test module can create its own database.
set -euo pipefail
version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
if [ -z "$version" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q -h 127.0.0.1 -p 5432" && break
  sleep 1
done
su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'takasago'\"" | grep -q 1 ||
  su postgres -c "psql -q -c \"CREATE ROLE takasago LOGIN SUPERUSER PASSWORD 'takasago'\""
