#!/usr/bin/env bash
# `make demo`: generate the demo clinic, validate, train, score, write the reports, then start
# the service and print a working request. Ctrl-C stops the service.
# DEMO_DETACH=1 leaves the service running in the background and returns; its PID and the file
# it logs to ($DEMO_DIR/service.log unless DEMO_LOG says otherwise) are printed.
# A busy port is refused up front: the demo never shows the answer of another process.
set -euo pipefail
BIN=${BIN:-.venv/bin}
DEMO_DIR=${DEMO_DIR:-demo}
PATIENTS=${DEMO_PATIENTS:-20000}
SEED=${DEMO_SEED:-7}
PORT=${PORT:-3000}
export REACTIVATE_MODELS_DIR=${REACTIVATE_MODELS_DIR:-models}
export BENTOML_DO_NOT_TRACK=true MLFLOW_LOGGING_LEVEL=WARNING
TOKENS="$REACTIVATE_MODELS_DIR/tokens.json"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

port_busy() {
  "$BIN/python" - "$1" <<'PY'
import socket, sys
with socket.socket() as sock:
    sys.exit(0 if sock.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}
if port_busy "$PORT"; then
  echo "port $PORT on 127.0.0.1 is already in use (another service?): stop it or run PORT=<free port> make demo" >&2
  exit 1
fi
LOG=${DEMO_LOG:-$DEMO_DIR/service.log}

step "1/6 demo group (aesthetics-1, dental-1, physio-1): $PATIENTS patients, seed $SEED -> $DEMO_DIR/"
"$BIN/reactivate" demo-data --patients "$PATIENTS" --seed "$SEED" --out "$DEMO_DIR"
step "2/6 validate the export against the data contract"
"$BIN/reactivate" validate "$DEMO_DIR"
step "3/6 train (return + channel models, baselines, MLflow registry in $REACTIVATE_MODELS_DIR/)"
"$BIN/reactivate" train "$DEMO_DIR" --truth "$DEMO_DIR/truth"
step "4/6 score every patient with the champion (and check drift)"
"$BIN/reactivate" score "$DEMO_DIR"
step "5/6 manager report"
"$BIN/reactivate" report --out "$DEMO_DIR/report.html"
step "6/6 start the service on 127.0.0.1:$PORT"
TOKEN=$("$BIN/reactivate" token add --clinic aesthetics-1 --clinic dental-1 --clinic physio-1 --tokens "$TOKENS" --label "make demo")
if port_busy "$PORT"; then  # taken while the demo trained
  echo "port $PORT on 127.0.0.1 is already in use (another service?): stop it or run PORT=<free port> make demo" >&2
  exit 1
fi
if [ -n "${DEMO_DETACH:-}" ]; then
  mkdir -p "$(dirname "$LOG")"
  nohup "$BIN/reactivate" serve --host 127.0.0.1 --port "$PORT" --tokens "$TOKENS" >"$LOG" 2>&1 &
else
  "$BIN/reactivate" serve --host 127.0.0.1 --port "$PORT" --tokens "$TOKENS" &
fi
PID=$!
if [ -z "${DEMO_DETACH:-}" ]; then trap 'kill $PID 2>/dev/null || true' INT TERM EXIT; fi
READY=
for _ in $(seq 1 180); do
  # Our process must still be alive when the port answers, or the answer is someone else's.
  kill -0 "$PID" 2>/dev/null || break
  if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then READY=1; break; fi
  sleep 1
done
if [ -z "$READY" ] || ! kill -0 "$PID" 2>/dev/null; then
  echo "the service did not start (PID $PID is gone or never became ready)" >&2
  [ -n "${DEMO_DETACH:-}" ] && { echo "its log, $LOG:" >&2; tail -n 20 "$LOG" >&2; }
  kill "$PID" 2>/dev/null || true
  exit 1
fi
REQUEST="curl -s -X POST http://127.0.0.1:$PORT/rank -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' -d '{\"clinic_id\": \"dental-1\", \"segments\": [\"lapsing\", \"inactive\"], \"channels\": [\"sms\", \"email\"], \"limit\": 3}'"
step "the service answers; try it:"
echo "$REQUEST"
echo
ANSWER=$(eval "$REQUEST" | "$BIN/python" -m json.tool)
# Show the start of the answer only; no pipe into head, which would break the pipe under pipefail.
printf '%s\n' "$ANSWER" | sed -n '1,60p'
[ "$(printf '%s\n' "$ANSWER" | wc -l)" -le 60 ] || echo "    ... (answer cut here)"
printf '\nmanager report: %s\nAPI docs: http://127.0.0.1:%s/ (OpenAPI at /docs.json)\n' "$DEMO_DIR/report.html" "$PORT"
if [ -n "${DEMO_DETACH:-}" ]; then
  echo "service running in the background, PID $PID (stop: kill $PID); it logs to $LOG"
else
  echo "service running; Ctrl-C stops it"
  wait "$PID"
fi
