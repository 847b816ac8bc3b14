#!/usr/bin/env bash
# Online backup of the bot's SQLite database (conversation checkpoints,
# user_profiles, idempotency records) while the service keeps answering.
#
# Usage: deploy/backup.sh [DB_PATH [BACKUP_DIR]]
#   DB_PATH      default: $DB_PATH (crm-sales-bot-backup.service reads /etc/crm-sales-bot.env)
#   BACKUP_DIR   default: $BACKUP_DIR, else /var/backups/crm-sales-bot
#   BACKUP_KEEP  newest copies kept in BACKUP_DIR (default 14); older ones are deleted
#   SQLITE3      the sqlite3 CLI (default: the one on PATH); empty = use python3's sqlite3
#   PYTHON       interpreter for the fallback (default python3)
#
# The copy is made online (the CLI's `VACUUM INTO`, or the backup API of
# python3's sqlite3 in one step): a consistent snapshot that includes what is still
# in the -wal file, taken under a read transaction that does not block the
# service's writers. The copy is switched to journal_mode=DELETE (a single
# self-contained file), must pass PRAGMA integrity_check, and only then gets its
# final name. Prints the path of the new copy on stdout.
set -euo pipefail
export LC_ALL=C # glob order = timestamp order below
umask 077       # the copies hold customers' phones and profiles

usage() { echo "usage: $0 [DB_PATH [BACKUP_DIR]]   (env: DB_PATH, BACKUP_DIR, BACKUP_KEEP)" >&2; }
die() { echo "backup: $*" >&2; exit 1; }

case "${1:-}" in -h | --help) usage; exit 0 ;; esac
[ "$#" -le 2 ] || { usage; exit 2; }

db="${1:-${DB_PATH:-}}"
dest="${2:-${BACKUP_DIR:-/var/backups/crm-sales-bot}}"
keep="${BACKUP_KEEP:-14}"
busy_ms="${SQLITE_BUSY_TIMEOUT_MS:-5000}"
python="${PYTHON:-python3}"
if [ -z "${SQLITE3+set}" ]; then SQLITE3="$(command -v sqlite3 || true)"; fi

[ -n "$db" ] || { usage; die "no database: pass DB_PATH or set it in the environment"; }
# Opening a missing file would create an empty database and back that up.
[ -f "$db" ] || die "$db does not exist"
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a positive number: $keep"
[[ $busy_ms =~ ^[0-9]+$ ]] || die "SQLITE_BUSY_TIMEOUT_MS must be a number: $busy_ms"
mkdir -p "$dest"

# One backup at a time (a slow run must not overlap with the next timer tick).
if command -v flock >/dev/null; then
  exec 9>"$dest/.backup.lock"
  flock -n 9 || die "another backup into $dest is running"
fi

name="$(basename "$db")"
name="${name%.*}"
stamp="$(date -u +%Y%m%dT%H%M%S.%3NZ)"
final="$dest/$name-$stamp.db"
partial="$dest/.$name-$stamp.db.partial"
trap 'rm -f "$partial" "$partial-journal"' EXIT

if [ -n "$SQLITE3" ]; then
  # The CLI's dot-command argument is quoted with '...': a quote in the path would end it.
  [[ $partial != *"'"* ]] || die "the backup path must not contain a single quote: $partial"
  # VACUUM INTO, not .backup: the CLI's .backup copies a few pages per step and
  # starts over whenever another process writes, so under a busy service it may
  # never finish; VACUUM INTO reads one snapshot in a single read transaction.
  "$SQLITE3" -bail -cmd ".timeout $busy_ms" "$db" "VACUUM INTO '$partial'" ||
    die "sqlite3 VACUUM INTO of $db failed"
  "$SQLITE3" -bail "$partial" 'PRAGMA journal_mode=DELETE;' >/dev/null
  check="$("$SQLITE3" -bail "$partial" 'PRAGMA integrity_check;')"
else
  check="$("$python" - "$db" "$partial" "$busy_ms" <<'PY'
import sqlite3
import sys
from pathlib import Path

source_path, target_path, busy_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
# mode=rw: never create the source; as_uri() escapes any odd characters in the path.
source_uri = Path(source_path).resolve().as_uri() + "?mode=rw"
source = sqlite3.connect(source_uri, uri=True, timeout=busy_ms / 1000)
target = sqlite3.connect(target_path)
with target:
    source.backup(target)
source.close()
target.execute("PRAGMA journal_mode=DELETE")
print("\n".join(row[0] for row in target.execute("PRAGMA integrity_check")))
target.close()
PY
  )" || die "python3 backup of $db failed"
fi
[ "$check" = ok ] || die "the copy of $db fails PRAGMA integrity_check: $check"

mv -- "$partial" "$final"
echo "$final"

# Rotation: the names sort by time, so everything before the newest $keep goes.
shopt -s nullglob
copies=("$dest/$name"-[0-9]*T[0-9]*Z.db)
excess=$((${#copies[@]} - keep))
for ((i = 0; i < excess; i++)); do
  rm -f -- "${copies[i]}"
done
