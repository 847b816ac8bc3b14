#!/usr/bin/env bash
# Loads the bot's model into Ollama (into VRAM) before the first customer needs it.
#
# Usage: deploy/warmup.sh
#
# Run by crm-sales-bot.service as `ExecStartPost=-` (a failure is logged and does
# not fail the service). The request is the one the service makes, minus the
# prompt: same model, same keep_alive and, above all, the same num_ctx — Ollama
# reloads a model whose runner was started with another context size, so a
# warm-up with Ollama's default num_ctx would not spare the first customer the load.
#
# Values come from the service's own configuration (settings.yaml with the same
# environment overrides: OLLAMA_BASE_URL, OLLAMA_MODEL, SETTINGS_PATH) when the
# project's .venv is there, else from the environment with these defaults:
#   OLLAMA_BASE_URL       http://127.0.0.1:11434
#   OLLAMA_MODEL          (required without .venv)
#   WARMUP_KEEP_ALIVE     llm.keep_alive, else 30m   (a number = seconds, -1 = forever)
#   WARMUP_NUM_CTX        llm.num_ctx, else 8192
#   WARMUP_WAIT_SECONDS   how long to wait for Ollama to accept connections (60)
#   WARMUP_TIMEOUT        seconds allowed for the model load itself (150)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${SALESBOT_PYTHON:-$ROOT/.venv/bin/python}"

say() { echo "warmup: $*" >&2; }

base="" model="" keep_alive="" num_ctx=""
if [ -x "$PYTHON" ]; then
  # One line: base_url model keep_alive num_ctx, resolved exactly as the service does.
  if resolved="$(cd "$ROOT" && "$PYTHON" -c '
from core.settings import load_settings
llm = load_settings().llm
print(llm.base_url, llm.model, llm.keep_alive, llm.num_ctx)
' 2>/dev/null)"; then
    read -r base model keep_alive num_ctx <<<"$resolved"
  else
    say "could not read the service settings with $PYTHON; using the environment"
  fi
fi
base="${base:-${OLLAMA_BASE_URL:-http://127.0.0.1:11434}}"
model="${model:-${OLLAMA_MODEL:-}}"
keep_alive="${WARMUP_KEEP_ALIVE:-${keep_alive:-30m}}"
num_ctx="${WARMUP_NUM_CTX:-${num_ctx:-8192}}"
wait_s="${WARMUP_WAIT_SECONDS:-60}"
timeout_s="${WARMUP_TIMEOUT:-150}"
base="${base%/}"

if [ -z "$model" ]; then
  say "no model: set OLLAMA_MODEL (or install the project's .venv)"
  exit 2
fi
# The values go into JSON below: accept only what model names and durations look like.
if ! [[ $model =~ ^[A-Za-z0-9._:/@-]+$ ]]; then
  say "refusing an unusual model name: $model"
  exit 2
fi
if ! [[ $num_ctx =~ ^[0-9]+$ ]]; then
  say "WARMUP_NUM_CTX must be a number: $num_ctx"
  exit 2
fi
if [[ $keep_alive =~ ^-?[0-9]+$ ]]; then
  keep_alive_json="$keep_alive" # Ollama reads a bare number as seconds
elif [[ $keep_alive =~ ^[0-9.]+(ns|us|ms|s|m|h)([0-9.]+(ns|us|ms|s|m|h))*$ ]]; then
  keep_alive_json="\"$keep_alive\""
else
  say "keep_alive must be a number of seconds or a duration like 30m: $keep_alive"
  exit 2
fi

# Ollama may still be starting (After=ollama.service only orders the start).
deadline=$((SECONDS + wait_s))
until curl -fsS -o /dev/null --max-time 3 "$base/api/version" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "Ollama at $base did not answer within ${wait_s}s"
    exit 1
  fi
  sleep 1
done

# An empty messages list makes Ollama load the model and return without generating.
body="{\"model\":\"$model\",\"messages\":[],\"stream\":false,\"keep_alive\":$keep_alive_json,\"options\":{\"num_ctx\":$num_ctx}}"
started=$SECONDS
if ! curl -fsS -o /dev/null --max-time "$timeout_s" -X POST "$base/api/chat" \
  -H 'Content-Type: application/json' --data-binary "$body"; then
  say "loading $model failed (is it pulled? ollama pull $model)"
  exit 1
fi
say "$model loaded in $((SECONDS - started))s (num_ctx $num_ctx, keep_alive $keep_alive)"
