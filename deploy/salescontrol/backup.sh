#!/usr/bin/env bash
# A consistent backup of SalesControl's core server: the database, then the audio.
#
# Usage: deploy/salescontrol/backup.sh [BACKUP_DIR]
#        deploy/salescontrol/backup.sh --check BACKUP     verify a backup, change nothing
#   DATABASE_URL            the service's database } default: their lines in $ENV_FILE
#   SALESCONTROL_AUDIO_DIR  the service's audio    } (/etc/salescontrol/salescontrol.env)
#   BACKUP_DIR              default /var/backups/salescontrol
#   BACKUP_KEEP             newest backups kept (default 7); older ones are deleted
#   PG_BINDIR               directory of pg_dump, pg_restore and psql (default: PATH)
#
# A backup is a directory BACKUP_DIR/<UTC time>/ holding
#   database.dump  pg_dump -Fc of DATABASE_URL;
#   SHA256SUMS     its checksum;
#   audio/         the audio directory without .incoming/ and cache/ (the
#                  dashboard's cuts of dialogues, made again when played).
#                  Incremental: a chunk that the previous backup holds is a hard
#                  link to its copy there (a stored chunk never changes), so every
#                  backup is complete on its own but takes only the new chunks' space.
#
# Consistency: the dump is taken first and the audio copied after it. The server
# renames a chunk's file into place before the chunk's row becomes `stored`, so
# the file of every row stored in the dump's snapshot is on disk before the dump
# starts, and the copy made afterwards holds it. Chunks uploaded meanwhile are in
# audio/ without a row. A row still `receiving` in the dump is settled by the
# service when it starts on the restored database: stored if its file is whole,
# else dropped. A chunk past the retention period has no file by design: the
# service deletes it and marks the row `purged_at` (salescontrol/ingest/retention.py).
# The purge must not delete a file between the dump and the copy, so the backup
# holds the advisory lock PURGE_LOCK (shared) from before the dump until the copy
# is made: a purge batch under way is waited for (its marks are then in the
# snapshot), and the purge rounds meanwhile are put off. Before the backup gets
# its final name it passes --check: the dump matches its checksum, its table of
# contents reads, and every stored chunk row of the dump that is not purged has
# its file in audio/ with the row's size.
# Prints the new backup's path on stdout.
#
# restore.sh sources this file for its functions (and its own die); main runs
# only when the file is executed.
set -euo pipefail
export LC_ALL=C # sort, comm and glob order must agree
umask 077       # recordings of customers: personal data

ENV_FILE="${ENV_FILE:-/etc/salescontrol/salescontrol.env}"
DUMP=database.dump
SUMS=SHA256SUMS
# salescontrol.ingest.retention.PURGE_LOCK (ASCII "sc:purge"); a purge batch tries
# it exclusively.
PURGE_LOCK=$((0x73633A7075726765))
PURGE_WAIT=5min # longest wait for a purge batch under way (it takes seconds)
TEMPS=() # removed on exit: remove_temps is in the EXIT trap of both scripts

die() {
  echo "backup: $*" >&2
  exit 1
}

remove_temps() {
  if [ "${#TEMPS[@]}" -gt 0 ]; then rm -rf -- "${TEMPS[@]}"; fi
}

# A setting: the environment's value, else the last NAME= line of $ENV_FILE.
config_value() {
  local name="$1" value="${!1:-}"
  if [ -z "$value" ] && [ -r "$ENV_FILE" ]; then
    value="$(sed -n "s/^[[:space:]]*${name}[[:space:]]*=[[:space:]]*//p" "$ENV_FILE" | tail -n 1)"
    value="${value%\"}" value="${value#\"}" value="${value%\'}" value="${value#\'}"
  fi
  printf '%s' "$value"
}

pg_tool() {
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/$1" ] || die "$PG_BINDIR/$1 does not exist"
    printf '%s' "$PG_BINDIR/$1"
  else
    command -v "$1" || die "$1 is not installed (Debian: apt install postgresql-client)"
  fi
}

# Sets PG_URL for libpq's tools from the service's URL: without SQLAlchemy's
# driver suffix (postgresql+asyncpg://), and without the password, which goes to
# PGPASSWORD so that it never shows in the process list.
pg_connect() {
  local rest user password
  [[ $1 =~ ^postgres(ql)?(\+[A-Za-z0-9_]+)?://(.*)$ ]] ||
    die "DATABASE_URL must be a postgresql:// URL"
  rest="${BASH_REMATCH[3]}"
  if [[ $rest =~ ^([^@/?]*)@(.*)$ ]]; then
    user="${BASH_REMATCH[1]}" rest="${BASH_REMATCH[2]}"
    if [[ $user == *:* ]]; then
      password="${user#*:}" user="${user%%:*}"
      # Percent-decoded, as libpq would read it from the URL.
      if [ -n "$password" ]; then
        PGPASSWORD="$(printf '%b' "${password//%/\\x}")"
        export PGPASSWORD
      fi
    fi
    rest="$user@$rest"
  fi
  PG_URL="postgresql://$rest"
}

# "path<TAB>size" of every file under an audio directory (without .incoming/ and
# cache/), sorted.
audio_files() {
  (cd "$1" && find . \( -path ./.incoming -o -path ./cache \) -prune -o -type f -printf '%P\t%s\n') |
    sort
}

# "path<TAB>size" of every chunk row of a dump that must have its file, sorted: not
# `receiving` and not purged (the restore's query after pg_restore says the same).
# A dump older than the purge (no purged_at column) has no purged rows.
dump_chunks() {
  "$PG_RESTORE" --data-only --table=audio_chunks --file=- "$1" | awk -F '\t' '
    /^COPY [^ ]*audio_chunks \(/ {
      names = $0
      sub(/^[^(]*\(/, "", names)
      sub(/\) FROM stdin;$/, "", names)
      n = split(names, name, ", ")
      for (i = 1; i <= n; i++) column[name[i]] = i
      if (!(("path" in column) && ("size_bytes" in column) && ("state" in column))) exit 3
      purged = ("purged_at" in column) ? column["purged_at"] : 0
      copying = 1
      next
    }
    copying && $0 == "\\." { copying = 0; next }
    copying && $(column["state"]) != "receiving" && !(purged && $purged != "\\N") {
      print $(column["path"]) "\t" $(column["size_bytes"])
    }
  ' | sort
}

# Every chunk of ROWS ("path<TAB>size" lines, sorted) must have its whole file
# in AUDIO_DIR; dies naming the first ones that do not.
require_files() {
  local rows="$1" audio="$2" what="$3" missing
  missing="$(comm -23 "$rows" <(audio_files "$audio"))"
  if [ -n "$missing" ]; then
    die "$(printf '%s\n' "$missing" | wc -l) chunk(s) of $what lack their file" \
      "(or its size) in $audio, e.g.: $(printf '%s\n' "$missing" | head -n 3 | cut -f 1 | xargs)"
  fi
}

# Verifies a backup without changing it; dies if it is damaged or incomplete.
# NAME (default: the directory) is what the report calls it.
check_backup() {
  local dir="${1%/}" name="${2:-${1%/}}" contents rows
  if [ ! -f "$dir/$DUMP" ] || [ ! -f "$dir/$SUMS" ] || [ ! -d "$dir/audio" ]; then
    die "$dir is not a backup ($DUMP, $SUMS and audio/ expected)"
  fi
  (cd "$dir" && sha256sum --check --strict --quiet "$SUMS" >/dev/null 2>&1) ||
    die "$dir/$DUMP does not match $SUMS: the backup is damaged"
  PG_RESTORE="$(pg_tool pg_restore)"
  contents="$("$PG_RESTORE" --list "$dir/$DUMP" 2>/dev/null)" ||
    die "$dir/$DUMP is not a readable pg_dump archive"
  grep -q ' TABLE DATA [^ ]* audio_chunks ' <<<"$contents" ||
    die "$dir/$DUMP is not a dump of SalesControl's database (no audio_chunks)"
  rows="$(mktemp)"
  TEMPS+=("$rows")
  dump_chunks "$dir/$DUMP" >"$rows" || die "cannot read the chunks of $dir/$DUMP"
  require_files "$rows" "$dir/audio" "$dir/$DUMP"
  echo "backup ok: $name: $(wc -l <"$rows") stored chunk(s), each with its file" >&2
}

# Copies the audio directory SOURCE to TARGET (new), hard-linking what PREVIOUS
# (the last backup's audio/, optional) holds already.
copy_audio() {
  local source="$1" target="$2" previous="${3:-}" entry gone
  if [ -n "$previous" ]; then
    cp -al -- "$previous" "$target" || die "cannot link $previous into $target"
    rm -rf -- "$target/cache" # held by backups made before cache/ was left out
  else
    mkdir -- "$target"
  fi
  # Top-level entries only: a glob skips .incoming/, and cache/ is left out: the
  # files of both come and go at any time (cp fails on one that vanishes).
  # -u copies what the target lacks (or holds older); --remove-destination
  # replaces a linked file instead of writing through the link into the
  # previous backup.
  shopt -s nullglob
  for entry in "$source"/*; do
    if [ "$entry" = "$source/cache" ]; then continue; fi
    cp -a -u --remove-destination -- "$entry" "$target/" || die "copying $entry failed"
  done
  shopt -u nullglob
  # What was deleted from the audio directory must not live on in the backups.
  gone="$(comm -13 <(audio_files "$source" | cut -f 1) <(audio_files "$target" | cut -f 1))"
  if [ -n "$gone" ]; then
    (cd "$target" && printf '%s\n' "$gone" | xargs -d '\n' rm -f --)
  fi
  find "$target" -mindepth 1 -type d -empty -delete
}

# Holds PURGE_LOCK, shared, on a psql session of its own until release_purge_lock
# (or until this script ends: the session ends with its input). psql takes the
# lock from its command line and then reads its input, which stays silent; so
# nothing is ever written to a psql that has failed (that would be SIGPIPE).
hold_purge_lock() {
  local answer reason errors
  errors="$(mktemp)"
  TEMPS+=("$errors")
  # Without fd 9, main's flock: a session left waiting must not hold it.
  coproc PURGE_LOCK_SESSION {
    "$PSQL" -X -q -At -v ON_ERROR_STOP=1 --dbname="$PG_URL" \
      -c "SET lock_timeout = '$PURGE_WAIT'" \
      -c "SELECT 'held' FROM pg_advisory_lock_shared($PURGE_LOCK)" -f - 2>"$errors" 9>&-
  }
  # Once the coproc has ended bash drops its variables and closes its pipes: a
  # psql that failed at once leaves them empty, and the read fails.
  PURGE_LOCK_PID="${PURGE_LOCK_SESSION_PID:-}" PURGE_LOCK_INPUT="${PURGE_LOCK_SESSION[1]:-}"
  read -r answer 2>/dev/null <&"${PURGE_LOCK_SESSION[0]:-}" || answer=""
  if [ "$answer" != held ]; then
    reason="$(head -n 1 "$errors")"
    die "cannot hold off the audio purge: ${reason:-psql ended}"
  fi
}

# Ends the session and with it the lock. How the session ended does not matter
# here: check_backup, not the lock, vouches for the copy (the lock only keeps
# the purge from failing the check).
release_purge_lock() {
  exec {PURGE_LOCK_INPUT}>&-
  wait "$PURGE_LOCK_PID" || true
}

usage() {
  echo "usage: $0 [BACKUP_DIR]   or   $0 --check BACKUP" >&2
  echo "  (env: DATABASE_URL, SALESCONTROL_AUDIO_DIR, BACKUP_DIR, BACKUP_KEEP, PG_BINDIR)" >&2
}

main() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --check)
      [ "$#" -eq 2 ] || { usage; exit 2; }
      trap remove_temps EXIT
      check_backup "$2"
      return
      ;;
  esac
  [ "$#" -le 1 ] || { usage; exit 2; }

  local dest="${1:-${BACKUP_DIR:-/var/backups/salescontrol}}" keep="${BACKUP_KEEP:-7}"
  local url audio stamp final backups previous="" excess i
  url="$(config_value DATABASE_URL)"
  audio="$(config_value SALESCONTROL_AUDIO_DIR)"
  [ -n "$url" ] || { usage; die "no DATABASE_URL (environment or $ENV_FILE)"; }
  [ -n "$audio" ] || { usage; die "no SALESCONTROL_AUDIO_DIR (environment or $ENV_FILE)"; }
  [ -d "$audio" ] || die "the audio directory $audio does not exist"
  [[ $keep =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a positive number: $keep"
  pg_connect "$url"
  PG_DUMP="$(pg_tool pg_dump)"
  PSQL="$(pg_tool psql)"
  mkdir -p -- "$dest"

  # One backup at a time (a slow run must not overlap with the next timer tick).
  exec 9>"$dest/.backup.lock"
  flock -n 9 || die "another backup into $dest is running"

  shopt -s nullglob
  backups=("$dest"/[0-9]*T[0-9]*Z)
  shopt -u nullglob
  if [ "${#backups[@]}" -gt 0 ]; then previous="${backups[-1]}/audio"; fi

  stamp="$(date -u +%Y%m%dT%H%M%S.%3NZ)"
  final="$dest/$stamp"
  # Built under a hidden name; removed on any failure.
  TEMPS+=("$dest/.$stamp.partial")
  trap remove_temps EXIT
  PARTIAL="$dest/.$stamp.partial"
  mkdir -- "$PARTIAL"

  # 0. No audio purge from here until the copy is made (see the top of this file).
  hold_purge_lock
  # 1. The database: one snapshot, taken while the service keeps writing.
  "$PG_DUMP" --format=custom --file="$PARTIAL/$DUMP" --dbname="$PG_URL" ||
    die "pg_dump of the database failed"
  (cd "$PARTIAL" && sha256sum "$DUMP" >"$SUMS")
  # 2. The audio, after the dump (see the top of this file for why).
  copy_audio "$audio" "$PARTIAL/audio" "$previous"
  release_purge_lock
  # 3. Checked, then final.
  check_backup "$PARTIAL" "$final"
  mv -- "$PARTIAL" "$final"
  echo "$final"

  # Rotation: the names sort by time, so everything before the newest $keep goes.
  shopt -s nullglob
  backups=("$dest"/[0-9]*T[0-9]*Z)
  shopt -u nullglob
  excess=$((${#backups[@]} - keep))
  for ((i = 0; i < excess; i++)); do
    rm -rf -- "${backups[i]}"
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
