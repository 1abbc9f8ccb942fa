#!/bin/bash
# Boots the sample service on Debian 12. Idempotent: a second run with the same release changes
# nothing, and each release installs into its own directory, so a half-finished boot is never "current".
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"

# Instances are cattle: nobody logs in, so no SSH daemon runs (the NSG admits no port 22 either).
systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true

@{boot_retry}
@{boot_fetch}
@{install_release}
# Every download of this boot, retries included, ends by this deadline (the boot budget's share for them).
DOWNLOAD_DEADLINE=$((SECONDS + @{download_seconds}))

if [ ! -f "$DIR/.installed" ]; then
  # Nothing is installed from a package mirror or PyPI: the image's python3 and the release bundle (the
  # service, every wheel it needs and their hashes) are all a boot uses. The Azure Monitor Agent is a VM
  # extension, which the platform installs.
  rm -rf "$DIR" && mkdir -p "$DIR"
  # The bundle is a private blob: read it with the instance's managed identity. The token comes from the
  # metadata service, lives in this shell only, and is never written or logged. A new instance's identity
  # and its fresh role assignment take minutes to reach the metadata service and storage (a 400 or 403
  # meanwhile): `retry` tries again until the deadline.
  TOKEN=$(retry $((DOWNLOAD_DEADLINE - SECONDS)) 'managed identity token' fetch \
    'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F&client_id=@{client_id}' \
    - 'Metadata: true' | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  export BEARER=$TOKEN
  retry $((DOWNLOAD_DEADLINE - SECONDS)) 'release bundle download' fetch '@{bundle_url}' "$DIR/bundle.zip" \
    'x-ms-version: 2023-11-03'
  unset TOKEN BEARER
  python3 -m zipfile -e "$DIR/bundle.zip" "$DIR"
  install_release "$DIR" python3
  touch "$DIR/.installed"
fi
@{service_unit}
# Deletions (scale-in, repair, surge upgrades) are announced as Terminate scheduled events: this watcher
# takes the service out of the gateway (SIGUSR1), waits for the gateway to notice, stops the service, so
# it drains within its grace, then approves the event. Host Reboot and Redeploy events get the same leave
# and wait before approval (the reboot stops the service); a cancelled event restarts the service.
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
# The service's logs leave the instance without a syslog daemon (Debian 12 images may have none, and no
# boot installs one): this exporter copies the service's journal to one file a day, which the Azure Monitor
# Agent (a VM extension) collects under the data collection rule's text log source. It runs as its own
# system user, reading the journal through the systemd-journal group, so code running as the service can
# neither signal nor trace it. No DynamicUser=: it would move LogsDirectory= under /var/log/private, which
# the agent cannot read. Its files are world-readable (UMask=0022), whichever user the agent reads as. It
# needs no network (PrivateNetwork=, only AF_UNIX sockets) and no capability (an empty bounding set).
id -u @{log_export_user} >/dev/null 2>&1 ||
  useradd --system --no-create-home --shell /usr/sbin/nologin @{log_export_user}
cat > /usr/local/lib/sample-service/log_export.py <<'PY'
@{log_export}
PY
cat > /etc/systemd/system/sample-service-log-export.service <<'UNIT'
[Unit]
Description=Copies the sample service's journal to the files the Azure Monitor Agent collects
After=systemd-journald.service

[Service]
ExecStart=/usr/bin/python3 /usr/local/lib/sample-service/log_export.py
User=@{log_export_user}
SupplementaryGroups=systemd-journal
UMask=0022
LogsDirectory=@{logs_directory_name}
LogsDirectoryMode=0755
StateDirectory=sample-service-logs
NoNewPrivileges=yes
CapabilityBoundingSet=
PrivateNetwork=yes
RestrictAddressFamilies=AF_UNIX
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable sample-service-log-export
systemctl restart sample-service-log-export
