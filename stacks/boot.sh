#!/bin/bash
# Boots the sample service. Idempotent: a second run with the same release changes nothing,
# and each release installs into its own directory, so a half-finished boot is never "current".
set -euo pipefail
RELEASE='@{release}'
ROOT=/opt/sample-service
DIR="$ROOT/releases/$RELEASE"

@{boot_retry}
@{install_release}
# Every download of this boot, retries included (a 403 while the instance role propagates, a 5xx, a reset),
# ends by this deadline: the boot budget's share for them, so the health check judges a finished boot.
DOWNLOAD_DEADLINE=$((SECONDS + @{download_seconds}))

if [ ! -f "$DIR/.installed" ]; then
  # Nothing comes from PyPI or any host outside AWS: the OS packages from the Amazon Linux 2023 repository
  # (an S3 bucket, through the VPC's S3 gateway endpoint) and the release bundle (the service, every wheel
  # it needs and their hashes) from the CDK asset bucket, the same way.
  retry $((DOWNLOAD_DEADLINE - SECONDS)) 'OS packages' dnf install -y -q --repo amazonlinux python3.11 rsyslog amazon-cloudwatch-agent
  rm -rf "$DIR" && mkdir -p "$DIR"
  retry $((DOWNLOAD_DEADLINE - SECONDS)) 'release bundle download' aws s3 cp '@{bundle_url}' "$DIR/bundle.zip" --region '@{region}' --only-show-errors
  python3 -m zipfile -e "$DIR/bundle.zip" "$DIR"
  install_release "$DIR" python3.11
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
