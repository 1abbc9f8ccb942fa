#!/bin/bash
# Boots the sample service on Debian 12. Idempotent: a second run with the same release changes
# nothing, and each release installs into its own directory, so a half-finished boot is never "current".
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"

# Instances are cattle: nobody logs in, so no SSH daemon runs (the NSG admits no port 22 either).
systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true

if [ ! -f "$DIR/.installed" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3-venv unzip curl rsyslog
  rm -rf "$DIR" && mkdir -p "$DIR"
  # The bundle is a private blob: read it with the instance's managed identity. The token comes from the
  # metadata service, lives in this shell only, and is never written or logged.
  # A new instance's identity and its fresh role assignment take minutes to reach the metadata service
  # and storage (a 400 or 403 meanwhile): retry every error, every @{retry_delay}s, for at most @{retry_seconds}s.
  RETRY=(--retry 1000 --retry-all-errors --retry-delay @{retry_delay} --retry-max-time @{retry_seconds})
  TOKEN=$(curl -sSf "${RETRY[@@]}" -H Metadata:true \
    'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=@{client_id}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  curl -sSf "${RETRY[@@]}" -H "Authorization: Bearer $TOKEN" -H 'x-ms-version: 2023-11-03' \
    -o "$DIR/bundle.zip" '@{bundle_url}'
  unset TOKEN
  unzip -q "$DIR/bundle.zip" -d "$DIR/sample_service"
  python3 -m venv "$DIR/venv"
  # Every package is pinned to an exact version by the project's lock file.
  "$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"
  touch "$DIR/.installed"
fi
# The Azure Monitor Agent collects syslog: journald forwards the service's journal to rsyslog.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nForwardToSyslog=yes\n' > /etc/systemd/journald.conf.d/forward-to-syslog.conf
systemctl restart systemd-journald

@{service_unit}
# Deletions (scale-in, repair, surge upgrades) are announced as Terminate scheduled events: this watcher
# takes the service out of the gateway (SIGUSR1), waits for the gateway to notice, stops the service, so
# it drains within its grace, then approves the event.
mkdir -p /usr/local/lib/sample-service
cat > /usr/local/lib/sample-service/terminate_watch.py <<'PY'
@{terminate_watch}
PY
cat > /etc/systemd/system/sample-service-terminate-watch.service <<'UNIT'
[Unit]
Description=Drains the sample service before the platform deletes this instance
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/python3 /usr/local/lib/sample-service/terminate_watch.py
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable sample-service-terminate-watch
systemctl restart sample-service-terminate-watch
