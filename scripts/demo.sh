#!/usr/bin/env bash
# `make demo`: generate the demo clinic, validate, train, score, write the reports, then start
# the service and print a working request. Ctrl-C stops the service.
# DEMO_DETACH=1 leaves the service running in the background and returns (its PID is printed).
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
"$BIN/reactivate" serve --host 127.0.0.1 --port "$PORT" --tokens "$TOKENS" &
PID=$!
if [ -z "${DEMO_DETACH:-}" ]; then trap 'kill $PID 2>/dev/null || true' INT TERM EXIT; fi
for _ in $(seq 1 180); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { echo "the service stopped; see the messages above" >&2; exit 1; }
  sleep 1
done
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
  echo "service running in the background, PID $PID (stop: kill $PID)"
else
  echo "service running; Ctrl-C stops it"
  wait "$PID"
fi
