#!/usr/bin/env bash
# Start the database servers the backend tests use, where this machine has them.
# Tests against a server that does not answer are skipped with a reason, never silently.
set -u
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start 2>/dev/null || true
fi
if command -v mariadbd >/dev/null 2>&1 && ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 2>/dev/null || true
fi
for _ in $(seq 1 30); do
  pg_ok=1; my_ok=1
  command -v pg_isready >/dev/null 2>&1 && { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || pg_ok=0; }
  command -v mariadb-admin >/dev/null 2>&1 && { mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 || my_ok=0; }
  [ "$pg_ok" = 1 ] && [ "$my_ok" = 1 ] && break
  sleep 1
done
exit 0
