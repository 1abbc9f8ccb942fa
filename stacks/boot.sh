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
@{service_unit}
