#!/bin/bash
# Boots the sample service. Idempotent: a second run with the same release changes nothing,
# and each release installs into its own directory, so a half-finished boot is never "current".
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"

if [ ! -f "$DIR/.installed" ]; then
  dnf install -y python3.11 unzip
  rm -rf "$DIR" && mkdir -p "$DIR"
  aws s3 cp '@{bundle_url}' "$DIR/bundle.zip" --only-show-errors
  unzip -q "$DIR/bundle.zip" -d "$DIR/sample_service"
  python3.11 -m venv "$DIR/venv"
  # Every package is pinned to an exact version by the project's lock file.
  "$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"
  touch "$DIR/.installed"
fi
ln -sfn "$DIR" "$ROOT/current"
id sample-service >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin sample-service

cat > /etc/sample-service.env <<'ENV'
@{environment}
ENV

cat > /etc/systemd/system/sample-service.service <<'UNIT'
[Unit]
Description=Stateless sample service
After=network-online.target
Wants=network-online.target

[Service]
User=sample-service
EnvironmentFile=/etc/sample-service.env
WorkingDirectory=/opt/sample-service/current
ExecStart=/opt/sample-service/current/venv/bin/python -m sample_service
Restart=always
RestartSec=2
# SIGTERM starts a graceful shutdown; systemd waits out the grace period before it kills.
KillSignal=SIGTERM
TimeoutStopSec=@{stop_timeout}
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable sample-service
systemctl restart sample-service
