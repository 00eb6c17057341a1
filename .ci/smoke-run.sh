#!/usr/bin/env bash
# `make run` with DATABASE_URL / REDIS_URL unset; wait for acme's admin, log in, stop cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
unset DATABASE_URL REDIS_URL
log=.local/smoke-run.log
mkdir -p .local
setsid make run >"$log" 2>&1 &
run_pid=$!
stop() {
  kill -INT -- "-$run_pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$run_pid" 2>/dev/null || return 0; sleep 1; done
  kill -KILL -- "-$run_pid" 2>/dev/null || true
}
trap stop EXIT

url=http://acme.localhost:8000/admin/login/
for attempt in $(seq 1 900); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --resolve acme.localhost:8000:127.0.0.1 "$url" || true)
  [ "$code" = 200 ] && break
  if ! kill -0 "$run_pid" 2>/dev/null; then echo "[smoke] make run died"; tail -50 "$log"; exit 1; fi
  sleep 1
done
[ "$code" = 200 ] || { echo "[smoke] $url never answered 200 (last $code)"; tail -50 "$log"; exit 1; }

jar=$(mktemp)
curl -s -c "$jar" -b "$jar" --resolve acme.localhost:8000:127.0.0.1 "$url" -o /tmp/smoke-login.html
token=$(sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p' /tmp/smoke-login.html | head -1)
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" \
  --resolve acme.localhost:8000:127.0.0.1 -H "Referer: $url" \
  --data-urlencode "csrfmiddlewaretoken=$token" --data-urlencode username=admin \
  --data-urlencode password=admin --data-urlencode next=/admin/ "$url?next=/admin/")
case "$code" in
  "302 http://acme.localhost:8000/admin/") echo "[smoke] logged in to acme's admin as admin" ;;
  *) echo "[smoke] login failed: $code"; tail -50 "$log"; exit 1 ;;
esac
home=$(curl -s -o /dev/null -w '%{http_code}' -b "$jar" --resolve acme.localhost:8000:127.0.0.1 \
  http://acme.localhost:8000/admin/)
[ "$home" = 200 ] || { echo "[smoke] admin home answered $home"; exit 1; }
echo "[smoke] ok"
