#!/usr/bin/env bash
# Puts a copy made by deploy/backup.sh back in place of the live database.
#
# Usage: sudo deploy/restore.sh [--no-service] BACKUP_FILE [DB_PATH]
#   DB_PATH       default: $DB_PATH, else the DB_PATH line of $ENV_FILE
#                 (/etc/crm-sales-bot.env)
#   --no-service  leave the systemd unit alone (it is stopped already, or there is
#                 no systemd here); the same as RESTORE_NO_SERVICE=1
#   SERVICE       the unit to stop and start (default crm-sales-bot)
#
# Steps:
#   1. the backup must pass PRAGMA integrity_check;
#   2. stop the service (nothing may hold the database open);
#   3. copy the backup next to the database, owned like its directory;
#   4. move the live database and its -wal/-shm aside as *.before-restore-<time>:
#      a -wal file left by the old database must never be replayed onto the
#      restored one, and nothing is deleted;
#   5. rename the copy into place and start the service.
# If a step fails after the service was stopped, the moved files go back and the
# service is started again.
set -euo pipefail
umask 027

usage() { echo "usage: $0 [--no-service] BACKUP_FILE [DB_PATH]" >&2; }
die() { echo "restore: $*" >&2; exit 1; }

no_service="${RESTORE_NO_SERVICE:-0}"
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --no-service) no_service=1; shift ;;
esac
if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then usage; exit 2; fi

backup="$1"
db="${2:-${DB_PATH:-}}"
env_file="${ENV_FILE:-/etc/crm-sales-bot.env}"
service="${SERVICE:-crm-sales-bot}"
python="${PYTHON:-python3}"
if [ -z "${SQLITE3+set}" ]; then SQLITE3="$(command -v sqlite3 || true)"; fi

if [ -z "$db" ] && [ -r "$env_file" ]; then
  db="$(sed -n 's/^[[:space:]]*DB_PATH[[:space:]]*=[[:space:]]*//p' "$env_file" | tail -n 1)"
  db="${db%\"}" db="${db#\"}" db="${db%\'}" db="${db#\'}"
fi
[ -n "$db" ] || { usage; die "no DB_PATH (argument, environment or $env_file)"; }
[ -f "$backup" ] || die "$backup does not exist"
[ "$(realpath -m -- "$backup")" != "$(realpath -m -- "$db")" ] || die "the backup is the database itself"

integrity() {
  if [ -n "$SQLITE3" ]; then
    "$SQLITE3" -readonly -bail "$1" 'PRAGMA integrity_check;'
  else
    "$python" -c '
import sqlite3, sys
from pathlib import Path
conn = sqlite3.connect(Path(sys.argv[1]).resolve().as_uri() + "?mode=ro", uri=True)
print("\n".join(row[0] for row in conn.execute("PRAGMA integrity_check")))
' "$1"
  fi
}

# 1. A damaged backup is refused before anything is touched.
check="$(integrity "$backup" 2>&1)" || die "$backup is not a readable SQLite database: ${check##*$'\n'}"
[ "$check" = ok ] || die "$backup fails PRAGMA integrity_check: $check"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dir="$(dirname -- "$db")"
incoming="$db.restoring-$stamp"
stopped=0 finished=0
moved=()

finish() {
  rm -f -- "$incoming"
  if [ "$finished" = 1 ]; then return; fi
  for file in "${moved[@]}"; do
    mv -f -- "$file.before-restore-$stamp" "$file" || echo "restore: could not move $file back" >&2
  done
  if [ "$stopped" = 1 ]; then
    echo "restore: failed; the previous database is back in place, starting $service" >&2
    systemctl start "$service" || true
  fi
}
trap finish EXIT

# 2. Stop the service.
if [ "$no_service" != 1 ]; then
  systemctl stop "$service"
  stopped=1
  if systemctl is-active --quiet "$service"; then die "$service is still running"; fi
fi

# 3. The copy, on the same file system so that step 5 is a rename.
mkdir -p -- "$dir"
cp -- "$backup" "$incoming"
if [ "$(id -u)" = 0 ]; then chown --reference="$dir" -- "$incoming"; fi

# 4. The live files step aside; -wal/-shm leave the live path with them.
for file in "$db" "$db-wal" "$db-shm" "$db-journal"; do
  if [ -e "$file" ]; then
    mv -- "$file" "$file.before-restore-$stamp"
    moved+=("$file")
  fi
done

# 5. In place; start again.
mv -- "$incoming" "$db"
finished=1
echo "restored $backup -> $db"
for file in "${moved[@]}"; do echo "previous: $file.before-restore-$stamp"; done
if [ "$stopped" = 1 ]; then
  systemctl start "$service"
  echo "started $service; check: curl -s http://127.0.0.1:8000/ready"
fi
