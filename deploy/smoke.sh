#!/usr/bin/env bash
# The post-deployment checks of the runbook's section 10.1, in the order of its table:
# health, 401 on a wrong key, a new dialogue, its continuation (memory), the profile.
# Usage: deploy/smoke.sh URL API_KEY      e.g. deploy/smoke.sh https://bot.example.com "$API_KEY"
# Exits non-zero on the first failed check. Needs curl and python3.
set -euo pipefail

URL="${1:?usage: smoke.sh URL API_KEY}"
KEY="${2:?usage: smoke.sh URL API_KEY}"
URL="${URL%/}"
USER_ID="smoke$(date +%s)$RANDOM"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

# request METHOD PATH [BODY] [KEY] -> status code; body in $TMP/body
request() {
  local method="$1" path="$2" body="${3:-}" key="${4:-$KEY}"
  local args=(-sS -o "$TMP/body" -w '%{http_code}' -X "$method" "$URL$path" --max-time 180
              -H "Authorization: Bearer $key")
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  curl "${args[@]}" || echo "000"
}

# json EXPR -> evaluates EXPR on the last body (bound to `d`), prints the result
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/body"; }

message() {
  printf '{"request_id":"%s","channel":"whatsapp","session_id":"BOT_SMOKE","user_id":"%s","message":{"text":"%s","timestamp_ms":%s000}}' \
    "$USER_ID-$1" "$USER_ID" "$2" "$(date +%s)"
}

status=$(request GET /health)
[ "$status" = 200 ] || fail "GET /health -> $status"
[ "$(json 'd["status"]')" = ok ] || fail "health status is not ok: $(cat "$TMP/body")"
ok "1/5 health: model $(json 'd["model"]')"

status=$(request POST /api/v1/process "$(message 0 test)" "wrong-key-$RANDOM")
[ "$status" = 401 ] || fail "wrong key -> $status, expected 401"
[ "$(json 'd["error"]["code"]')" = UNAUTHORIZED ] || fail "401 body: $(cat "$TMP/body")"
ok "2/5 wrong key -> 401 UNAUTHORIZED"

status=$(request POST /api/v1/process "$(message 1 'Привет, расскажи о вашей CRM')")
[ "$status" = 200 ] || fail "new dialogue -> $status: $(cat "$TMP/body")"
[ -n "$(json 'd["answer"].strip()')" ] || fail "empty answer"
[ "$(json 'd["meta"]["turn"]')" = 1 ] || fail "a new dialogue should be turn 1: $(cat "$TMP/body")"
ok "3/5 new dialogue answered in $(json 'd["meta"]["processing_ms"]') ms"

status=$(request POST /api/v1/process "$(message 2 'Сколько стоит?')")
[ "$status" = 200 ] || fail "continuation -> $status: $(cat "$TMP/body")"
[ "$(json 'd["meta"]["turn"]')" = 2 ] || fail "continuation is not turn 2 (memory lost?): $(cat "$TMP/body")"
ok "4/5 continuation remembered (turn 2)"

status=$(request GET "/api/v1/users/$USER_ID/profile")
[ "$status" = 200 ] || fail "profile -> $status: $(cat "$TMP/body")"
[ "$(json 'd["profiles"][0]["session_id"]')" = BOT_SMOKE ] || fail "profile body: $(cat "$TMP/body")"
ok "5/5 profile stored"

echo "all smoke checks passed"
