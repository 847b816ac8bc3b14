#!/usr/bin/env bash
# Puts a backup made by deploy/salescontrol/backup.sh back in place: the database
# and the audio directory.
#
# Usage: sudo deploy/salescontrol/restore.sh [--no-service] BACKUP
#   BACKUP        a directory BACKUP_DIR/<UTC time>/ that backup.sh made
#   DATABASE_URL            the database to restore into } default: their lines in
#   SALESCONTROL_AUDIO_DIR  the audio directory          } $ENV_FILE
#                                                (/etc/salescontrol/salescontrol.env)
#   --no-service  leave the systemd unit alone (it is stopped already, or there is
#                 no systemd here); the same as RESTORE_NO_SERVICE=1
#   SERVICE       the unit to stop and start (default salescontrol-ingest)
#   PG_BINDIR     directory of pg_dump, pg_restore and psql (default: PATH)
#
# Steps:
#   1. check the backup (backup.sh --check): a damaged or incomplete backup is
#      refused before anything is touched;
#   2. stop the service;
#   3. dump the current database to <audio dir>.before-restore-<time>.dump, if it
#      can be read (a damaged database cannot; the restore goes on);
#   4. copy the backup's audio to <audio dir>.restoring-<time>, on the audio's
#      file system, so that step 6 is a rename;
#   5. restore the database: pg_restore --clean --single-transaction, all or nothing;
#   6. move the audio directory aside to <audio dir>.before-restore-<time> and the
#      copy into its place;
#   7. check that every stored chunk of the restored database has its whole file
#      (but a purged one: past the retention period a chunk's row stays, marked
#      purged_at, and its file is gone by design);
#   8. start the service. At start it settles the chunks that were being uploaded
#      when the backup was taken (stored if their file is whole, else dropped).
# If step 4 or 5 fails, the database and the audio are as they were and the
# service is started again; if step 6 or 7 fails, the service stays stopped.
# Nothing is deleted: the previous audio directory and database dump stay beside
# the audio directory until you remove them.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here="$(cd "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=backup.sh
. "$here/backup.sh"
die() {
  echo "restore: $*" >&2
  exit 1
}

usage() { echo "usage: $0 [--no-service] BACKUP" >&2; }

no_service="${RESTORE_NO_SERVICE:-0}"
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --no-service) no_service=1; shift ;;
esac
if [ "$#" -ne 1 ]; then usage; exit 2; fi

backup="${1%/}"
service="${SERVICE:-salescontrol-ingest}"
url="$(config_value DATABASE_URL)"
audio="$(config_value SALESCONTROL_AUDIO_DIR)"
[ -n "$url" ] || { usage; die "no DATABASE_URL (environment or $ENV_FILE)"; }
[ -n "$audio" ] || { usage; die "no SALESCONTROL_AUDIO_DIR (environment or $ENV_FILE)"; }
audio="${audio%/}"
pg_connect "$url"
PG_DUMP="$(pg_tool pg_dump)"
PG_RESTORE="$(pg_tool pg_restore)"
PSQL="$(pg_tool psql)"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
staging="$audio.restoring-$stamp"
aside="$audio.before-restore-$stamp"
stopped=0 changed=0
trap finish EXIT

finish() {
  local status=$?
  remove_temps
  if [ "$status" = 0 ]; then return; fi
  if [ "$changed" = 1 ]; then
    echo "restore: the database is restored but a later step failed (above); $service" \
      "stays stopped. The previous audio and database: $aside, $aside.dump" >&2
    return
  fi
  rm -rf -- "$staging"
  if [ "$stopped" = 1 ]; then
    echo "restore: failed; the database and the audio are as they were, starting $service" >&2
    systemctl start "$service" || true
  fi
}

# 1. Refused before anything is touched.
check_backup "$backup"

# 2.
if [ "$no_service" != 1 ]; then
  systemctl stop "$service"
  stopped=1
  if systemctl is-active --quiet "$service"; then die "$service is still running"; fi
fi

# 3.
mkdir -p -- "$(dirname -- "$audio")"
if "$PG_DUMP" --format=custom --file="$aside.dump" --dbname="$PG_URL"; then
  echo "previous database: $aside.dump"
else
  rm -f -- "$aside.dump"
  echo "restore: the current database could not be dumped; restoring over it" >&2
fi

# 4.
cp -a -- "$backup/audio" "$staging"
if [ "$(id -u)" = 0 ] && [ -d "$audio" ]; then chown -R --reference="$audio" -- "$staging"; fi

# 5. One transaction: a failure leaves the database as it was.
"$PG_RESTORE" --clean --if-exists --no-owner --no-privileges --single-transaction \
  --dbname="$PG_URL" "$backup/$DUMP"
changed=1

# 6.
if [ -e "$audio" ]; then
  mv -- "$audio" "$aside"
  echo "previous audio: $aside"
fi
mv -- "$staging" "$audio"

# 7. The rows that must have their file, as backup.sh's dump_chunks reads them.
rows="$(mktemp)"
TEMPS+=("$rows")
"$PSQL" -X -q -v ON_ERROR_STOP=1 -At -F $'\t' --dbname="$PG_URL" \
  -c "SELECT path, size_bytes FROM audio_chunks WHERE state <> 'receiving' AND purged_at IS NULL" |
  sort >"$rows"
require_files "$rows" "$audio" "the restored database"
echo "restored $backup: $(wc -l <"$rows") stored chunk(s), each with its file"

# 8.
if [ "$stopped" = 1 ]; then
  systemctl start "$service"
  echo "started $service; check: curl -s http://127.0.0.1:8100/ready"
fi
