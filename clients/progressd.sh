# progressd.sh: report progress to progressd from a shell script (bash).
#
#   source /path/to/progressd.sh
#   export PROGRESSD_URL=http://head-node:8080    # default http://localhost:8080
#   export PROGRESSD_TOKEN=...                     # the write token, if the server has one
#   progress_create "$JOBID" "My job" [MAXAGE_SECONDS] [--workers N | --workids a,b,c]
#   progress_update "$JOBID" "$RANK" "$i" "$N" ["step $i"] [OK: 1, or 0 when failed]
#   progress_update_many "$JOBID" [FILE]   # many workers in one request: below
#
# Values go through curl --data-urlencode, so spaces, '&', '+', '%' and any
# UTF-8 arrive as written. The token goes to curl on its standard input, so
# it never shows in `ps`. Each call waits at most 5 s per try, with 3
# retries a second apart on what may pass (no answer: a refused connection,
# a timeout; or a 5xx); a refusal (4xx) is not retried. A failed report
# never stops the job: it prints the server's one-line reason (or curl's
# error) on stderr and returns 0. Set PROGRESSD_STRICT=1 to get a status
# instead, 22 for an HTTP error as with curl --fail, else curl's (for
# scripts that want to stop on a failed report).
#
# A driver that reports many workers at once (a node's agent for its ranks,
# a workflow manager) sends them as a batch: one request, one update per
# line in update's fields with values URL-encoded as in a URL, at most
# 1,000 lines, stored all together or not at all (a bad line stores none):
#   printf 'workid=%s&current=%s&total=%s\n' 0 5 10 1 7 10 2 10 10 > batch.txt
#   progress_update_many "$JOBID" batch.txt    # or: ... | progress_update_many "$JOBID"

# POSTs to ENDPOINT (its path under /progress/, with any query string) the
# body that curl's further arguments give. A refusal (4xx) is not tried
# again: the server's one-line reason goes to stderr. A network error or a
# 5xx is tried again, up to 3 times, a second apart.
_progressd_send() {
  local endpoint=$1 answer out code status try reason='' word=failed
  shift
  if ! answer=$(mktemp); then
    echo "progressd: ${endpoint%%\?*} failed (no temporary file)" >&2
    [ -n "${PROGRESSD_STRICT:-}" ] && return 1
    return 0
  fi
  for try in 1 2 3 4; do
    # The curl config on stdin carries the token as a header, if any. Out
    # comes curl's own error, if any, then the HTTP status (000 for none).
    # The `||` keeps a failure from ending a caller under `set -e`.
    status=0
    out=$(
      if [ -n "${PROGRESSD_TOKEN:-}" ]; then
        printf 'header = "Authorization: Bearer %s"\n' "$PROGRESSD_TOKEN"
      fi | curl -sS -m 5 --config - -o "$answer" -w '%{http_code}' "$@" \
        "${PROGRESSD_URL:-http://localhost:8080}/progress/$endpoint" 2>&1
    ) || status=$?
    code=${out: -3}
    case $status:$code in
      0:2??) break ;;
      0:5??) status=22 ;; # as curl --fail says it
      0:*) status=22 && break ;;
      6:* | 7:* | 28:* | 52:* | 55:* | 56:*) ;; # no answer: worth a retry
      *) break ;;
    esac
    [ "$try" -lt 4 ] && sleep 1
  done
  [ "$status" -eq 22 ] && IFS= read -r reason <"$answer"
  rm -f "$answer"
  if [ "$status" -ne 0 ]; then
    case $code in 4??) word=refused ;; esac
    if [ "$status" -eq 22 ]; then
      echo "progressd: ${endpoint%%\?*} $word ($code): $reason" >&2
    else
      printf '%s' "${out%???}" >&2 # curl's own error, if any
      echo "progressd: ${endpoint%%\?*} failed (curl exit $status)" >&2
    fi
    [ -n "${PROGRESSD_STRICT:-}" ] && return "$status"
  fi
  return 0
}

# Sends one POST of form fields ("name=value" arguments) to an endpoint.
_progressd_post() {
  local endpoint=$1 args=() field
  shift
  for field in "$@"; do
    args+=(--data-urlencode "$field")
  done
  _progressd_send "$endpoint" "${args[@]}"
}

# TEXT form-encoded as progressd's pages, browsers and the Python client
# write it: letters, digits and * - . _ as they are, a space as +, every
# other byte as %XX. A front that shards by the jobid (nginx hashes it as
# written, before decoding) then sends every request about a job to the
# same server.
_progressd_encode() {
  local LC_ALL=C text=$1 out='' c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case $c in
      [a-zA-Z0-9*._-]) out+=$c ;;
      ' ') out+=+ ;;
      *)
        printf -v c '%%%02X' "'$c"
        out+=$c
        ;;
    esac
  done
  printf '%s' "$out"
}

# progress_create JOBID [DESC] [MAXAGE] [--workers N | --workids A,B,C]
#                 [--notify 1 | --notify finished,failed,stale,expired]
# A roster (the options may come anywhere after JOBID) names the workers
# to expect, each shown "not started" until it reports: --workers N the
# workids 0 to N-1 (report with the rank as WORKID), --workids these.
# --notify asks the server to announce the job's events to its
# --notify-url (all of them with 1).
progress_create() {
  # The jobid goes in the query string, where a front that shards the jobs
  # by it (deploy/nginx-sharded.conf) sees it.
  local job=$1 fields=() positional=()
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --workers | --workids | --notify)
        fields+=("${1#--}=${2:-}")
        shift 2 || shift
        ;;
      *)
        positional+=("$1")
        shift
        ;;
    esac
  done
  [ ${#positional[@]} -ge 1 ] && fields+=("desc=${positional[0]}")
  [ ${#positional[@]} -ge 2 ] && fields+=("maxage=${positional[1]}")
  _progressd_post "create?jobid=$(_progressd_encode "$job")" "${fields[@]}"
}

# progress_update JOBID WORKID CURRENT [TOTAL] [DESC] [OK]
# An empty TOTAL or DESC keeps the worker's stored one.
progress_update() {
  local fields=("workid=$2" "current=$3")
  [ -n "${4:-}" ] && fields+=("total=$4")
  [ -n "${5:-}" ] && fields+=("desc=$5")
  [ -n "${6:-}" ] && fields+=("ok=$6")
  _progressd_post "update?jobid=$(_progressd_encode "$1")" "${fields[@]}"
}

# progress_update_many JOBID [FILE]
# A batch: FILE, or standard input, holds one update per line (above).
progress_update_many() {
  local query file=${2:--} spooled='' status=0
  query="update?jobid=$(_progressd_encode "$1")"
  # curl reads the token's config on its standard input, so a batch that
  # comes from there goes through a file first.
  if [ "$file" = - ]; then
    if ! spooled=$(mktemp); then
      echo "progressd: update failed (no temporary file)" >&2
      [ -n "${PROGRESSD_STRICT:-}" ] && return 1
      return 0
    fi
    cat >"$spooled"
    file=$spooled
  fi
  _progressd_send "$query" --data-binary "@$file" || status=$?
  [ -n "$spooled" ] && rm -f "$spooled"
  return "$status"
}
