#!/bin/bash
# Boots the sample service. Idempotent: a second run with the same release changes nothing,
# and each release installs into its own directory, so a half-finished boot is never "current".
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"

if [ ! -f "$DIR/.installed" ]; then
  dnf install -y python3.11 unzip rsyslog amazon-cloudwatch-agent
  rm -rf "$DIR" && mkdir -p "$DIR"
  aws s3 cp '@{bundle_url}' "$DIR/bundle.zip" --only-show-errors
  unzip -q "$DIR/bundle.zip" -d "$DIR/sample_service"
  python3.11 -m venv "$DIR/venv"
  # Every package is pinned to an exact version by the project's lock file.
  "$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"
  touch "$DIR/.installed"
fi
# The service logs to its journal; journald forwards it to rsyslog (/var/log/messages), and the CloudWatch
# agent ships that file to the stack's log group, so the logs outlive the instance.
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nForwardToSyslog=yes\n' > /etc/systemd/journald.conf.d/forward-to-syslog.conf
systemctl restart systemd-journald
systemctl enable --now rsyslog
cat > /opt/aws/amazon-cloudwatch-agent/etc/sample-service.json <<'AGENT'
{"logs": {"logs_collected": {"files": {"collect_list": [
  {"file_path": "/var/log/messages", "log_group_name": "@{service_log_group}", "log_stream_name": "{instance_id}"}
]}}}}
AGENT
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/sample-service.json

@{service_unit}
