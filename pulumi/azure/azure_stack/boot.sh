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
# The Azure Monitor Agent collects syslog: journald forwards the service's journal to rsyslog.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nForwardToSyslog=yes\n' > /etc/systemd/journald.conf.d/forward-to-syslog.conf
systemctl restart systemd-journald

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
# The Azure Monitor Agent reads syslog from rsyslog (or syslog-ng), which Debian 12 no longer installs by
# default. An image without it gets it from the image's own Debian mirror (the one destination outside
# Azure: README, "Boot destinations"), only now that the service and its watcher run, in a transient unit
# the boot does not wait for, each apt-get cut off after 120 s: a mirror or NAT outage costs logs, never
# the service. The agent writes its rsyslog output (/etc/rsyslog.d/10-azuremonitoragent-omfwd.conf) when
# it is installed ("Syslog troubleshooting on Azure Monitor Agent for Linux"), and rsyslog reads it when
# it starts; if the agent was installed first, the file is missing and the unit's journal says so.
if ! command -v rsyslogd >/dev/null; then
  systemd-run --no-block --unit=rsyslog-install --setenv=DEBIAN_FRONTEND=noninteractive /bin/bash -c \
    'set -e; timeout 120 apt-get -q -o Acquire::http::Timeout=10 -o Acquire::Retries=0 update; \
    timeout 120 apt-get -q -o Acquire::http::Timeout=10 -o Acquire::Retries=0 install -y rsyslog; \
    systemctl restart rsyslog; test -f /etc/rsyslog.d/10-azuremonitoragent-omfwd.conf \
    || echo "rsyslog-install: no Azure Monitor Agent output in /etc/rsyslog.d: logs stay here (README)" >&2' \
    || echo 'boot: rsyslog install not started; service logs stay on this instance' >&2
fi
