# retry SECONDS WHAT COMMAND [ARG...]: runs COMMAND until it succeeds, waiting between attempts (2 s, doubling
# to at most 30 s), for at most SECONDS in all; then says on stderr what failed and returns 1, which stops a
# `set -e` boot (the health check and automatic repair take over). Every error is retried: a new instance's
# identity may not have its grants yet, and a cloud endpoint may answer 403 or 5xx for a while. Each attempt
# gets only the time left (`timeout`, then KILL 5 s later), so a hung download cannot outlive the deadline.
retry() {
  local budget=$1 what=$2 delay=2 attempt=1 left status
  shift 2
  local deadline=$((SECONDS + budget))
  # `timeout` runs a command, not a shell function (fetch): a child bash runs it, exported.
  if declare -F "$1" >/dev/null; then export -f "$1"; fi
  while :; do
    left=$((deadline - SECONDS))
    if ((left <= 0)); then
      echo "boot: $what has no time left of its ${budget}s; giving up" >&2
      return 1
    fi
    timeout -k 5 "$left" bash -c '"$@@"' retry "$@@" && return 0 || status=$?
    if ((status == 124 || status == 137)); then
      echo "boot: $what attempt $attempt cut off at its ${budget}s deadline; giving up" >&2
      return 1
    fi
    if ((SECONDS + delay > deadline)); then
      echo "boot: $what failed $attempt times in ${budget}s; giving up" >&2
      return 1
    fi
    echo "boot: $what failed (attempt $attempt); retrying in ${delay}s" >&2
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}
