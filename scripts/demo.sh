#!/usr/bin/env bash
# `make demo`: generate the demo group, validate, train, score, start the service and print a
# working request, then run a real campaign: POST /campaigns, play it with the simulator's
# true dynamics, POST /outcomes, GET the results and write the manager report with its
# "Campaign results". Ctrl-C stops the service.
# The campaign is a replay of one that ran in the past: the export ends some weeks before
# today, the campaign starts the morning after it (the first service runs on that day's clock,
# outcomes.clock_shift_days set back), and by today every event of its weeks has happened, so
# they are posted to a service on the real clock under the usual rule (no event later than the
# clock plus 5 minutes). The clock only ever goes back, never forward. DEMO_DETACH=1 leaves it running in the background and returns; its PID and the file
# it logs to ($DEMO_DIR/service.log unless DEMO_LOG says otherwise) are printed.
# A busy port is refused up front: the demo never shows the answer of another process.
set -euo pipefail
BIN=${BIN:-.venv/bin}
DEMO_DIR=${DEMO_DIR:-demo}
PATIENTS=${DEMO_PATIENTS:-20000}
SEED=${DEMO_SEED:-7}
PORT=${PORT:-3000}
CAMPAIGN_CLINIC=${DEMO_CAMPAIGN_CLINIC:-dental-1}
CAMPAIGN=${DEMO_CAMPAIGN:-winback-$(date +%Y%m%d-%H%M)}
URL="http://127.0.0.1:$PORT"
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
refuse_busy_port() {
  if port_busy "$PORT"; then
    echo "port $PORT on 127.0.0.1 is already in use (another service?): stop it or run PORT=<free port> make demo" >&2
    exit 1
  fi
}
refuse_busy_port
LOG=${DEMO_LOG:-$DEMO_DIR/service.log}
# The export's last day: far enough back for the play (PlayConfig.days after the start) to be over.
PAST_DAYS=${DEMO_PAST_DAYS:-$("$BIN/python" -c "from features.simulator.campaign_play import PlayConfig; print(PlayConfig().days + 7)")}
END=$("$BIN/python" -c "import datetime as d, sys; print(d.date.today() - d.timedelta(days=int(sys.argv[1])))" "$PAST_DAYS")
CAMPAIGN_DAY=$("$BIN/python" -c "import datetime as d, sys; print(d.date.fromisoformat(sys.argv[1]) + d.timedelta(days=1))" "$END")
BACK=$((1 - PAST_DAYS))  # days the campaign's service sets its clock back: to $CAMPAIGN_DAY
CLOCK_ENV=""

# The demo world is generated anew with the same patient ids: outcomes a previous demo posted
# (sends, bookings) would hold its patients off this run's lists. Moved aside, never deleted.
STORE="$REACTIVATE_MODELS_DIR/outcomes.db"
if [ -z "${REACTIVATE_OUTCOMES__STORE_URL:-}" ] && [ -f "$STORE" ]; then
  KEPT="$STORE.before-demo-$(date +%Y%m%d-%H%M%S)"
  mv "$STORE" "$KEPT"
  for extra in "$STORE-wal" "$STORE-shm"; do [ -f "$extra" ] && mv "$extra" "$KEPT${extra#"$STORE"}"; done
  echo "the previous outcome store is kept as $KEPT (this demo starts a new world)"
fi

step "1/9 demo group (aesthetics-1, dental-1, physio-1): $PATIENTS patients, seed $SEED, history to $END -> $DEMO_DIR/"
"$BIN/reactivate" demo-data --patients "$PATIENTS" --seed "$SEED" --end "$END" --out "$DEMO_DIR"
step "2/9 validate the export against the data contract"
"$BIN/reactivate" validate "$DEMO_DIR"
step "3/9 train (return + channel models, baselines, MLflow registry in $REACTIVATE_MODELS_DIR/)"
"$BIN/reactivate" train "$DEMO_DIR" --truth "$DEMO_DIR/truth"
step "4/9 score every patient with the champion (and check drift)"
"$BIN/reactivate" score "$DEMO_DIR"
step "5/9 start the service on 127.0.0.1:$PORT, its clock on the campaign's day $CAMPAIGN_DAY (the morning after the export; REACTIVATE_OUTCOMES__CLOCK_SHIFT_DAYS=$BACK)"
TOKEN=$("$BIN/reactivate" token add --clinic aesthetics-1 --clinic dental-1 --clinic physio-1 --tokens "$TOKENS" --label "make demo")
serve() {
  if [ -n "${DEMO_DETACH:-}" ]; then
    mkdir -p "$(dirname "$LOG")"
    nohup env $CLOCK_ENV "$BIN/reactivate" serve --host 127.0.0.1 --port "$PORT" --tokens "$TOKENS" >>"$LOG" 2>&1 &
  else
    env $CLOCK_ENV "$BIN/reactivate" serve --host 127.0.0.1 --port "$PORT" --tokens "$TOKENS" &
  fi
  PID=$!
}
wait_ready() {
  for _ in $(seq 1 300); do
    # Our process must still be alive when the port answers, or the answer is someone else's.
    kill -0 "$PID" 2>/dev/null || break
    curl -fs "$URL/readyz" >/dev/null 2>&1 && kill -0 "$PID" 2>/dev/null && return 0
    sleep 1
  done
  echo "the service did not start (PID $PID is gone or never became ready)" >&2
  [ -n "${DEMO_DETACH:-}" ] && { echo "its log, $LOG:" >&2; tail -n 20 "$LOG" >&2; }
  kill "$PID" 2>/dev/null || true
  exit 1
}
json() { "$BIN/python" -c "import json, sys; $1" ; }
refuse_busy_port  # taken while the demo trained
CLOCK_ENV="REACTIVATE_OUTCOMES__CLOCK_SHIFT_DAYS=$BACK"
serve
if [ -z "${DEMO_DETACH:-}" ]; then trap 'kill $PID 2>/dev/null || true' INT TERM EXIT; fi
wait_ready
REQUEST="curl -s -X POST $URL/rank -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' -d '{\"clinic_id\": \"dental-1\", \"segments\": [\"lapsing\", \"inactive\"], \"channels\": [\"sms\", \"email\"], \"limit\": 3}'"
step "the service answers; try it:"
echo "$REQUEST"
echo
ANSWER=$(eval "$REQUEST" | "$BIN/python" -m json.tool)
# Show the start of the answer only; no pipe into head, which would break the pipe under pipefail.
printf '%s\n' "$ANSWER" | sed -n '1,40p'
[ "$(printf '%s\n' "$ANSWER" | wc -l)" -le 40 ] || echo "    ... (answer cut here)"

step "6/9 start a campaign on $CAMPAIGN_CLINIC: POST /campaigns (the /rank list, 20% held out at random)"
BODY="{\"clinic_id\": \"$CAMPAIGN_CLINIC\", \"campaign_id\": \"$CAMPAIGN\", \"name\": \"Winter win-back\", \"segments\": [\"lapsing\", \"inactive\"], \"limit\": 2000, \"holdout_share\": 0.2, \"seed\": $SEED, \"explain\": false}"
echo "curl -s -X POST $URL/campaigns -H 'Authorization: Bearer \$TOKEN' -H 'Content-Type: application/json' -d '$BODY'"
curl -fsS -X POST "$URL/campaigns" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d "$BODY" -o "$DEMO_DIR/campaign.json"
json "a = json.load(open('$DEMO_DIR/campaign.json')); t = a['treatment']
print(f\"campaign {a['campaign_id']} started {a['started_at']} (seed {a['seed']}, model {a['model_version']}): {len(t)} to contact, {a['holdout_count']} held out (never listed)\")
print('first of the treatment arm:', json.dumps(t[0]))"

step "7/9 play it with the simulator: $CAMPAIGN_CLINIC's true dynamics over the following weeks"
"$BIN/reactivate" demo-play "$DEMO_DIR" --clinic "$CAMPAIGN_CLINIC" --campaign "$CAMPAIGN" --seed "$SEED" --out "$DEMO_DIR/outcomes.parquet"
# Read on the calling thread: Arrow's reader threads can abort the interpreter at exit
# (exit 134, "terminate called without an active exception", apache/arrow#34314).
"$BIN/python" - "$DEMO_DIR/outcomes.parquet" <<'PY'
import sys, pandas as pd, pyarrow.parquet as pq
events = pq.read_table(sys.argv[1], columns=["at"], use_threads=False).to_pandas()
if events["at"].max() > pd.Timestamp.now():
    sys.exit("the play runs past today: set DEMO_PAST_DAYS higher")
print(f"the campaign's weeks ran {events['at'].min():%Y-%m-%d} to {events['at'].max():%Y-%m-%d}: all before today")
PY
echo "the service restarts on the real clock to take in what came back"
kill "$PID"; wait "$PID" 2>/dev/null || true
while curl -fs "$URL/readyz" >/dev/null 2>&1; do sleep 1; done  # the old one has let go of the port
CLOCK_ENV=""
serve
wait_ready

step "8/9 post what came back: POST /outcomes in batches of 10,000"
"$BIN/python" scripts/post_outcomes.py "$DEMO_DIR/outcomes.parquet" --url "$URL" --token "$TOKEN" \
  --clinic "$CAMPAIGN_CLINIC" --answer "$DEMO_DIR/outcomes_answer.json"
echo "curl -s '$URL/campaigns/$CAMPAIGN/results?clinic_id=$CAMPAIGN_CLINIC' -H 'Authorization: Bearer \$TOKEN'"
curl -fsS "$URL/campaigns/$CAMPAIGN/results?clinic_id=$CAMPAIGN_CLINIC" -H "Authorization: Bearer $TOKEN" \
  -o "$DEMO_DIR/campaign_results.json"
json "r = json.load(open('$DEMO_DIR/campaign_results.json')); o, v = r['overall'], r['versus_holdout']
print('overall:', json.dumps({k: o[k] for k in ('contacted', 'delivered', 'responded', 'booked', 'attended', 'opted_out', 'conversion_rate', 'revenue', 'cost', 'roi')}))
print('versus holdout:', json.dumps({k: v[k] for k in ('treatment', 'holdout', 'incremental_bookings', 'incremental_bookings_ci95', 'enough_data')}))"

step "9/9 manager report (with the campaign's results)"
"$BIN/reactivate" report --out "$DEMO_DIR/report.html" --export "$DEMO_DIR"
"$BIN/reactivate" results "$DEMO_DIR" --clinic "$CAMPAIGN_CLINIC" --campaign "$CAMPAIGN" --posted-only | sed -n '1,3p'

printf '\nmanager report: %s\nAPI docs: %s/ (OpenAPI at /docs.json)\n' "$DEMO_DIR/report.html" "$URL"
if [ -n "${DEMO_DETACH:-}" ]; then
  echo "service running in the background, PID $PID (stop: kill $PID); it logs to $LOG"
else
  echo "service running; Ctrl-C stops it"
  wait "$PID"
fi
