#!/bin/bash
# Boots the sample service (runs as the startup script on every boot). Idempotent: a second run with the
# same release changes nothing, and each release installs into its own directory, so a half-finished
# boot is never "current". Secrets never pass through here: the service reads the cache AUTH string
# from Secret Manager itself, with the instance's service account.
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"
METADATA=http://metadata.google.internal/computeMetadata/v1
# Every download retries every error (a 403 while a new IAM grant propagates, a 5xx, a reset), with a delay,
# for a bounded time that leaves the install inside the boot budget autohealing allows.
RETRY=(--retry 30 --retry-all-errors --retry-delay 5 --retry-max-time '@{retry_seconds}')

if [ ! -f "$DIR/.installed" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3-venv unzip curl
  rm -rf "$DIR" && mkdir -p "$DIR"
  # The bundle is a private object: fetch it with the instance's own short-lived token, sent on stdin
  # so it never appears in a process listing (a doubled at-sign is one at-sign in this template).
  TOKEN=$(curl -sf "${RETRY[@@]}" -H 'Metadata-Flavor: Google' "$METADATA/instance/service-accounts/default/token" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  printf 'Authorization: Bearer %s\n' "$TOKEN" \
    | curl -sf "${RETRY[@@]}" -H @@- -o "$DIR/bundle.zip" '@{bundle_url}'
  unset TOKEN
  unzip -q "$DIR/bundle.zip" -d "$DIR/sample_service"
  # The Ops Agent ships the service's journal (its JSON logs) to Cloud Logging; major version pinned.
  if ! dpkg -s google-cloud-ops-agent >/dev/null 2>&1; then
    curl -sSf "${RETRY[@@]}" -o "$DIR/add-ops-agent-repo.sh" https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh
    bash "$DIR/add-ops-agent-repo.sh" --also-install --version='@{ops_agent_version}'
  fi
  python3 -m venv "$DIR/venv"
  # Every package is pinned to an exact version by the project's lock file.
  "$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"
  touch "$DIR/.installed"
fi
mkdir -p /etc/sample-service
# Memorystore's own CA: the service verifies the cache's TLS certificate against it.
cat > '@{cache_ca_file}' <<'PEM'
@{cache_ca}
PEM

cat > /etc/google-cloud-ops-agent/config.yaml <<'OPS'
logging:
  receivers:
    journal:
      type: systemd_journald
  service:
    pipelines:
      journal:
        receivers: [journal]
OPS
systemctl restart google-cloud-ops-agent

@{service_unit}
