# progressd.sh: report progress to progressd from a shell script (bash).
#
#   source /path/to/progressd.sh
#   export PROGRESSD_URL=http://head-node:8080    # default http://localhost:8080
#   export PROGRESSD_TOKEN=...                     # the write token, if the server has one
#   progress_create "$JOBID" "My job" [MAXAGE_SECONDS]
#   progress_update "$JOBID" "$RANK" "$i" "$N" ["step $i"] [OK: 1, or 0 when failed]
#
# Values go through curl --data-urlencode, so spaces, '&', '+', '%' and any
# UTF-8 arrive as written. The token goes to curl on its standard input, so
# it never shows in `ps`. Each call waits at most 5 s per try (3 retries on
# a timeout or a 503), and a failed report never stops the job: it prints a
# warning and returns 0. Set PROGRESSD_STRICT=1 to get curl's exit status
# instead (for scripts that want to stop on a failed report).

# Sends one POST of form fields ("name=value" arguments) to an endpoint.
_progressd_post() {
  local endpoint=$1
  shift
  local args=() field status=0
  for field in "$@"; do
    args+=(--data-urlencode "$field")
  done
  # The curl config on stdin carries the token as a header, if any. The
  # `||` keeps a failure from ending a caller that runs under `set -e`.
  if [ -n "${PROGRESSD_TOKEN:-}" ]; then
    printf 'header = "Authorization: Bearer %s"\n' "$PROGRESSD_TOKEN"
  fi | curl -fsS -m 5 --retry 3 --config - -o /dev/null "${args[@]}" \
    "${PROGRESSD_URL:-http://localhost:8080}/progress/$endpoint" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "progressd: $endpoint failed (curl exit $status)" >&2
    [ -n "${PROGRESSD_STRICT:-}" ] && return "$status"
  fi
  return 0
}

# progress_create JOBID [DESC] [MAXAGE]
progress_create() {
  local fields=("jobid=$1")
  [ $# -ge 2 ] && fields+=("desc=$2")
  [ $# -ge 3 ] && fields+=("maxage=$3")
  _progressd_post create "${fields[@]}"
}

# progress_update JOBID WORKID CURRENT [TOTAL] [DESC] [OK]
# An empty TOTAL or DESC keeps the worker's stored one.
progress_update() {
  local fields=("jobid=$1" "workid=$2" "current=$3")
  [ -n "${4:-}" ] && fields+=("total=$4")
  [ -n "${5:-}" ] && fields+=("desc=$5")
  [ -n "${6:-}" ] && fields+=("ok=$6")
  _progressd_post update "${fields[@]}"
}
