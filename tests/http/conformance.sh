#!/usr/bin/env bash
# The HTTP conformance check (issue 19): start the example server (examples/http/rust), fetch its
# /openapi.json, check it with an external validator (openapi-spec-validator) and run an external
# fuzzer against it (schemathesis, bounded examples per operation): no 500, no answer outside the
# document (status, media type, schema). Then stop the server (SIGTERM: a graceful shutdown).
#
#   tests/http/conformance.sh [SERVER_BINARY]
#
# Environment: VENV (default .venv, where `make deps` installs both tools), EXAMPLES (default 25
# per operation), SEED (default 19: a fixed seed, so a failure reproduces; set another to explore).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
host=$(rustc -vV | sed -n 's/^host: //p')
bin=${1:-$root/target/$host/debug/http-example}
venv=${VENV:-$root/.venv}
examples=${EXAMPLES:-25}
seed=${SEED:-19}

[[ -x $bin ]] || { echo "no server binary at $bin (cargo build -p omnitron-example-http)"; exit 1; }
[[ -x $venv/bin/schemathesis && -x $venv/bin/openapi-spec-validator ]] \
  || { echo "schemathesis or openapi-spec-validator missing from $venv (make deps)"; exit 1; }

work=$(mktemp -d /tmp/omnitron-http-conformance.XXXXXX)
# The server verifies bearer tokens with this secret; the fuzzer sends a valid one (an hour long),
# so the routes requiring auth are exercised past their 401.
export HTTP_EXAMPLE_JWT_SECRET="conformance-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$bin" 0 > "$work/server.out" 2> "$work/server.err" &
pid=$!
stop() {
  kill -TERM "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}
trap 'stop; rm -rf "$work"' EXIT

# The server prints its address once it listens (bounded wait: 20 s).
base=
for _ in $(seq 200); do
  base=$(sed -n 's/^listening on //p' "$work/server.out" | head -1)
  [[ -n $base ]] && break
  kill -0 "$pid" 2> /dev/null || { echo "the server exited:"; cat "$work/server.err"; exit 1; }
  sleep 0.1
done
[[ -n $base ]] || { echo "the server did not say where it listens"; exit 1; }
echo "== server at $base"

"$venv/bin/python" - "$base/openapi.json" "$work/openapi.json" << 'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    assert r.status == 200, r.status
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    open(sys.argv[2], "wb").write(r.read())
PY
echo "== openapi-spec-validator $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))')"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

token=$("$venv/bin/python" - << 'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "conformance", "exp": int(time.time()) + 3600}).encode())
key = os.environ["HTTP_EXAMPLE_JWT_SECRET"].encode()
sig = b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)

echo "== schemathesis run ($examples examples per operation, seed $seed)"
# Run from the scratch directory: nothing (hypothesis database, reports) lands in the repository.
(
  cd "$work"
  "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "$examples" --seed "$seed" --workers 1 --request-timeout 10 \
    --header "Authorization: Bearer $token" \
    --generation-database none --no-color
)

# A graceful stop: the server drains and exits 0.
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
trap 'rm -rf "$work"' EXIT
[[ $status -eq 0 ]] || { echo "the server exited with $status on SIGTERM:"; cat "$work/server.err"; exit 1; }
echo "== http conformance: the document is valid and the fuzzer found nothing"
