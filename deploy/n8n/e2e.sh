#!/usr/bin/env bash
# End-to-end check of deploy/n8n/sales-bot.workflow.json with a real n8n. Run by hand
# (CI runs only the fast JSON test, tests/deploy/test_n8n_workflow.py).
#
# Installs a pinned n8n into its own folder, starts on 127.0.0.1 a throwaway Redis,
# the Ollama-protocol stub, `salesbot serve` and `n8n start` with the workflow imported
# and published, then posts messages to the workflow's webhook and checks what comes
# back: a new dialogue, its continuation, two messages merged by the buffer, a long
# answer split into parts, 503 -> fallback, 503 -> retry -> answer, 401 -> fallback,
# service down -> retries -> fallback.
#
# Usage: deploy/n8n/e2e.sh
# Env:   N8N_E2E_DIR   install folder (default deploy/n8n/.n8n-e2e, git-ignored)
#        E2E_KEEP=1    keep the temp folder with logs and responses after a pass
#        E2E_RESULTS   also write the results table (markdown) to this file
# Needs: node >= 20.19 with npm (registry access for the first install), redis-server,
#        curl, and the project's virtualenv (make setup). Exits non-zero on any failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
N8N_VERSION=2.8.4
XLSX_VERSION=0.18.5 # n8n's own xlsx points at a tarball outside the npm registry
N8N_DIR="${N8N_E2E_DIR:-$HERE/.n8n-e2e}"
N8N="$N8N_DIR/node_modules/.bin/n8n"
WORKFLOW="$HERE/sales-bot.workflow.json"
PY="$ROOT/.venv/bin/python"
SALESBOT="$ROOT/.venv/bin/salesbot"
API_KEY="e2e-key-$RANDOM$RANDOM"
SESSION=BOT_E2E
RUN="e2e$(date +%s)"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); } # since START_MS -> "12.3"
T0=$(now_ms)
log() { printf '[%6ss] %s\n' "$(since "$T0")" "$*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
for tool in node npm curl redis-server redis-cli setsid; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "n8n $N8N_VERSION needs node >= 20.19 (found $(node --version))"
if [ ! -x "$SALESBOT" ] || [ ! -x "$PY" ]; then die "no $SALESBOT: run 'make setup' in $ROOT first"; fi
[ -f "$WORKFLOW" ] || die "no $WORKFLOW"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/n8n-e2e.XXXXXX")"
PGIDS=() # process groups we started, stopped in reverse order
OK=0

stop_group() { # stop_group PGID: TERM, up to 15 s, then KILL
  local pgid="$1" i
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  for i in $(seq 150); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

cleanup() {
  local i
  for ((i = ${#PGIDS[@]} - 1; i >= 0; i--)); do stop_group "${PGIDS[i]}"; done
  if [ "$OK" = 1 ] && [ "${E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "logs and responses kept in $WORK" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in its own session (so cleanup can stop its children
# too), output to $WORK/NAME.log; sets STARTED to its process group id.
start() {
  local name="$1"
  shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  STARTED=$!
  PGIDS+=("$STARTED")
}

forget() { # forget PGID: stop it and drop it from the cleanup list
  local pgid="$1" kept=() p
  stop_group "$pgid"
  for p in "${PGIDS[@]}"; do [ "$p" = "$pgid" ] || kept+=("$p"); done
  PGIDS=("${kept[@]}")
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.25 s
wait_until() {
  local limit="$1" what="$2" deadline
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what: not within ${limit}s (logs: $WORK)"
    sleep 0.25
  done
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------- n8n install
installed_version() { node -p "require('$N8N_DIR/node_modules/n8n/package.json').version" 2>/dev/null || true; }
INSTALL_S=0
if [ "$(installed_version)" != "$N8N_VERSION" ]; then
  log "installing n8n $N8N_VERSION into $N8N_DIR (several minutes, ~2.3 GB)"
  mkdir -p "$N8N_DIR"
  cat >"$N8N_DIR/package.json" <<EOF
{
  "name": "salesbot-n8n-e2e",
  "private": true,
  "description": "n8n for deploy/n8n/e2e.sh; written by the script",
  "dependencies": { "n8n": "$N8N_VERSION" },
  "overrides": { "xlsx": "$XLSX_VERSION" }
}
EOF
  started=$(now_ms)
  (cd "$N8N_DIR" && npm install --no-audit --no-fund --loglevel=error) >"$WORK/npm-install.log" 2>&1 ||
    die "npm install failed, see $WORK/npm-install.log"
  INSTALL_S=$(since "$started")
  [ "$(installed_version)" = "$N8N_VERSION" ] || die "n8n $N8N_VERSION is not in $N8N_DIR after npm install"
fi
log "n8n $(installed_version) in $N8N_DIR"

# ---------------------------------------------------------------- Redis, stub, service
REDIS_PORT=$(free_port)
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK"
wait_until 10 "redis-server on $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
log "redis-server on 127.0.0.1:$REDIS_PORT"

STUB_PORT=$(free_port)
ANSWER_FILE="$WORK/stub-answer.txt" # while it exists, the stub answers with its text
start_stub() {
  start stub "$PY" -m tests.support.ollama_stub --port "$STUB_PORT" --answer-file "$ANSWER_FILE"
  STUB_PGID=$STARTED
  wait_until 10 "ollama stub on $STUB_PORT" curl -sf "http://127.0.0.1:$STUB_PORT/api/tags"
}
start_stub

SVC_PORT=$(free_port)
SVC_URL="http://127.0.0.1:$SVC_PORT"
start salesbot env API_KEY="$API_KEY" OLLAMA_BASE_URL="http://127.0.0.1:$STUB_PORT" \
  DB_PATH="$WORK/conversations.db" PORT="$SVC_PORT" HOST=127.0.0.1 LOG_LEVEL=WARNING \
  "$SALESBOT" serve
SVC_PGID=$STARTED
wait_until 120 "salesbot /ready" curl -sf "$SVC_URL/ready"
log "salesbot serve on $SVC_URL (Ollama stub on $STUB_PORT)"

# ---------------------------------------------------------------- n8n
N8N_PORT=$(free_port)
export N8N_USER_FOLDER="$WORK/n8n-home"
export N8N_ENCRYPTION_KEY="e2e-$RANDOM$RANDOM$RANDOM"
export N8N_PORT N8N_LISTEN_ADDRESS=127.0.0.1 N8N_HOST=127.0.0.1 N8N_PROTOCOL=http
N8N_RUNNERS_BROKER_PORT=$(free_port)
export N8N_RUNNERS_BROKER_PORT N8N_RUNNERS_BROKER_LISTEN_ADDRESS=127.0.0.1
export DO_NOT_TRACK=1 N8N_DIAGNOSTICS_ENABLED=false N8N_VERSION_NOTIFICATIONS_ENABLED=false
export N8N_TEMPLATES_ENABLED=false N8N_PERSONALIZATION_ENABLED=false N8N_HIRING_BANNER_ENABLED=false
export N8N_LOG_LEVEL=warn N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=true
export N8N_BLOCK_ENV_ACCESS_IN_NODE=false # the workflow reads $env.SALES_BOT_URL
export SALES_BOT_URL="$SVC_URL"
unset SALES_BOT_BUFFER_SECONDS # the workflow's default window, 5 s
WEBHOOK="http://127.0.0.1:$N8N_PORT/webhook/wipon-sales-bot"
WORKFLOW_ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORKFLOW")

credentials() { # credentials BEARER_KEY -> $WORK/credentials.json from the shipped template
  "$PY" - "$HERE/credentials.example.json" "$1" "$REDIS_PORT" >"$WORK/credentials.json" <<'EOF'
import json, sys
creds = json.load(open(sys.argv[1]))
for c in creds:
    if c["type"] == "httpHeaderAuth":
        c["data"]["value"] = "Bearer " + sys.argv[2]
    elif c["type"] == "redis":
        c["data"].update(host="127.0.0.1", port=int(sys.argv[3]))
json.dump(creds, sys.stdout)
EOF
}

n8n_cli() { "$N8N" "$@" >>"$WORK/n8n-cli.log" 2>&1 || die "n8n $1 failed, see $WORK/n8n-cli.log"; }

# The readiness probe doubles as a check of the input validation: {} -> 400 BAD_INPUT.
webhook_ready() {
  [ "$(curl -s -o "$WORK/probe.json" -w '%{http_code}' -X POST "$WEBHOOK" \
    -H 'Content-Type: application/json' -d '{}')" = 400 ] && grep -q BAD_INPUT "$WORK/probe.json"
}

start_n8n() {
  local started
  started=$(now_ms)
  start n8n "$N8N" start
  N8N_PGID=$STARTED
  wait_until 180 "n8n webhook $WEBHOOK" webhook_ready
  N8N_START_S=$(since "$started")
}

started=$(now_ms)
credentials "$API_KEY"
n8n_cli import:credentials --input "$WORK/credentials.json"
n8n_cli import:workflow --input "$WORKFLOW"
n8n_cli publish:workflow --id "$WORKFLOW_ID"
IMPORT_S=$(since "$started")
log "imported credentials and workflow $WORKFLOW_ID, published (${IMPORT_S}s)"
start_n8n
log "n8n start on 127.0.0.1:$N8N_PORT, webhook active after ${N8N_START_S}s"

# ---------------------------------------------------------------- cases
RESULTS=()
record() { # record CASE SECONDS DETAIL
  RESULTS+=("| $1 | $(printf '%.1f' "$2") | $3 |")
  log "ok   $1 ($(printf '%.1f' "$2") s): $3"
}

# post NAME USER TEXT: the webhook call, response in $WORK/NAME.json, time in $WORK/NAME.time
post() {
  local name="$1" user="$2" text="$3" body code
  body=$("$PY" -c 'import json,sys,time; print(json.dumps({"channel":"whatsapp","session_id":sys.argv[1],"user_id":sys.argv[2],"text":sys.argv[3],"timestamp_ms":int(time.time()*1000)}, ensure_ascii=False))' \
    "$SESSION" "$user" "$text")
  code=$(curl -sS -o "$WORK/$name.json" -w '%{http_code} %{time_total}' --max-time 300 -X POST "$WEBHOOK" \
    -H 'Content-Type: application/json' --data-binary "$body") || code="000 0"
  echo "${code#* }" >"$WORK/$name.time"
  [ "${code%% *}" = 200 ] || die "$name: webhook answered HTTP ${code%% *}: $(cat "$WORK/$name.json" 2>/dev/null)"
}

# expect NAME PYTHON-EXPR MESSAGE: the expression sees the response as `d`
expect() {
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$WORK/$1.json" "$2" || die "$1: $3 (response: $(cat "$WORK/$1.json"))"
}

# The part-splitting contract, on a success response.
expect_parts() {
  expect "$1" 'd.get("ok") is True and d["parts"] and all(0 < len(p) <= 200 and p == p.strip() for p in d["parts"])' \
    "parts must be 1..200 characters, trimmed"
}

took() { cat "$WORK/$1.time"; }
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/$1.json" "$2"; }

U1="${RUN}a" U2="${RUN}b" U3="${RUN}c" U4="${RUN}d" U5="${RUN}e" U6="${RUN}f" U7="${RUN}g"

record "invalid input → 400" 0 "\`{}\` → HTTP 400 \`BAD_INPUT\` (the readiness probe)"

post new "$U1" "Здравствуйте! Расскажите, что умеет Wipon"
expect_parts new
expect new 'd["meta"]["turn"] == 1 and d["batch_size"] == 1 and d["attempts"] == 1 and d["request_id"].startswith("n8n-")' \
  "a new dialogue must be turn 1 of one message"
record "new dialogue" "$(took new)" "turn 1, $(field new 'len(d["parts"])') part(s), request_id $(field new 'd["request_id"]')"

post cont "$U1" "Сколько стоит подписка?"
expect_parts cont
expect cont 'd["meta"]["turn"] == 2' "the continuation must be turn 2 (memory by session_id, user_id)"
[ "$(field cont 'd["request_id"]')" != "$(field new 'd["request_id"]')" ] || die "cont: request_id repeated"
record "continuation" "$(took cont)" "turn 2 of the same customer, new request_id"

# Two messages 1.5 s apart: the first execution yields, the second sends both as one turn.
post merge1 "$U2" "Добрый день" &
first=$!
sleep 1.5
post merge2 "$U2" "Нужна программа для магазина"
wait "$first" || die "merge1: the first message's webhook call failed"
expect merge1 'd.get("buffered") is True' "the first message must be buffered into the later one"
expect_parts merge2
expect merge2 'd["batch_size"] == 2 and d["text"] == "Добрый день\nНужна программа для магазина" and d["meta"]["turn"] == 1' \
  "both messages must reach the bot as one turn, joined by a newline"
record "two messages inside the window → one turn" "$(took merge2)" \
  "1st → \`buffered\` after $(printf '%.1f' "$(took merge1)") s; 2nd → batch of 2, text joined by \\n, turn 1"

cat >"$WORK/long-answer.txt" <<'EOF'
Wipon подходит для розничного магазина любого размера. Программа ведёт учёт товаров, остатков и продаж, а кассир пробивает чеки прямо с компьютера или планшета. К ней подключаются сканер штрихкодов, весы и фискальный регистратор, так что отдельная касса не нужна. Отчёты по выручке и по самым ходовым товарам владелец смотрит с телефона в любое время. Переход со старой программы обычно занимает один день, а наши специалисты помогают перенести справочник товаров. Сколько касс работает у вас в магазине?
EOF
cp "$WORK/long-answer.txt" "$ANSWER_FILE"
post long "$U3" "Расскажите подробно, как Wipon работает в магазине"
rm -f "$ANSWER_FILE"
expect_parts long
expect long 'len(d["parts"]) >= 3 and all(p[-1] in ".!?…" for p in d["parts"])' \
  "a long answer must be split into several parts, each ending a sentence"
"$PY" - "$WORK/long.json" "$WORK/long-answer.txt" <<'EOF' || die "long: the parts do not add up to the stub's answer"
import json, re, sys
d = json.load(open(sys.argv[1]))
answer = open(sys.argv[2], encoding="utf-8").read()
squash = lambda s: re.sub(r"\s+", "", s)
sys.exit(0 if squash("".join(d["parts"])) == squash(answer) and len(answer) > 400 else 1)
EOF
record "answer over 200 characters" "$(took long)" \
  "$(field long 'sum(map(len, d["parts"]))') characters → parts of $(field long '", ".join(str(len(p)) for p in d["parts"])') on sentence ends, text intact"

# 503: the LLM is gone; the service answers 503 at once; 3 attempts 5 s apart, then fallback.
forget "$STUB_PGID"
wait_until 10 "salesbot /ready → 503 without the stub" bash -c "! curl -sf '$SVC_URL/ready'"
post s503 "$U4" "Есть ли у вас интеграция с Kaspi?"
expect s503 'd.get("fallback") is True and d["status"] == 503 and d["error_code"] == "SERVICE_UNAVAILABLE" and d["attempts"] == 3 and d["text"]' \
  "503 must be retried, then end in the fallback branch with the customer's text"
record "service 503 → fallback" "$(took s503)" "3 attempts (2 retries × 5 s), then FALLBACK with status 503 SERVICE_UNAVAILABLE"

# 503 once, then the LLM is back before the retry: the same request_id answers.
post r503 "$U5" "Подскажите по тарифам" &
pending=$!
sleep 7 # the first attempt (after the 5 s window) fails; the retry comes 5 s later
start_stub
wait "$pending" || die "r503: the webhook call failed"
expect_parts r503
expect r503 'd["attempts"] == 2 and d["meta"]["turn"] == 1' "503 then recovery must succeed on the 2nd attempt"
record "service 503, then back → retry answers" "$(took r503)" "attempt 1: 503; attempt 2 (same request_id): answer, turn 1"

# 401: a wrong key in the credential (re-imported while n8n is stopped).
forget "$N8N_PGID"
credentials "wrong-$API_KEY"
n8n_cli import:credentials --input "$WORK/credentials.json"
start_n8n
log "n8n restarted with a wrong key in the credential (${N8N_START_S}s)"
post s401 "$U6" "Здравствуйте"
expect s401 'd.get("fallback") is True and d["status"] == 401 and d["error_code"] == "UNAUTHORIZED" and d["attempts"] == 1' \
  "401 must go to the fallback branch without retries"
record "service 401 → fallback" "$(took s401)" "no retry, FALLBACK with status 401 UNAUTHORIZED"

# The service is down: connection refused is retried like a 503, then fallback.
forget "$SVC_PGID"
post down "$U7" "Алло, вы тут?"
expect down 'd.get("fallback") is True and d["status"] is None and d["error_code"] == "CONNECTION" and d["attempts"] == 3' \
  "a refused connection must be retried, then end in the fallback branch"
record "service down (connection refused) → fallback" "$(took down)" "3 attempts, then FALLBACK with \`CONNECTION\`: $(field down 'd["reason"]')"

# Every flushed batch left the buffer: no list is left in Redis.
leftover=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'salesbot:buf:*' | wc -l)
[ "$leftover" = 0 ] || die "$leftover buffer list(s) left in Redis"

# ---------------------------------------------------------------- summary
{
  echo "n8n $(installed_version), node $(node --version), $(nproc) cores; buffer window 5 s (the default)"
  echo "npm install: $([ "$INSTALL_S" = 0 ] && echo "already installed" || echo "${INSTALL_S} s");" \
    "import + publish: ${IMPORT_S} s; n8n start → webhook live: ${N8N_START_S} s (last start)"
  echo
  echo "| case | time, s | result |"
  echo "|---|---|---|"
  printf '%s\n' "${RESULTS[@]}"
} >"$WORK/results.md"
echo
cat "$WORK/results.md"
if [ -n "${E2E_RESULTS:-}" ]; then cp "$WORK/results.md" "$E2E_RESULTS"; fi
OK=1
echo
echo "all n8n e2e cases passed in $(since "$T0") s"
