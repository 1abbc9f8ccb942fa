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

@{boot_retry}
@{boot_fetch}
@{install_release}
# Every download of this boot, retries included (a 403 while a new IAM grant propagates, a 5xx, a reset),
# ends by this deadline: the boot budget's share for them, so autohealing judges a finished boot.
DOWNLOAD_DEADLINE=$((SECONDS + @{download_seconds}))

if [ ! -f "$DIR/.installed" ]; then
  # Nothing is installed from a package mirror or PyPI: the image's python3 and the release bundle (the
  # service, every wheel it needs and their hashes) are all a boot uses. The Ops Agent is a VM extension,
  # installed by VM Extension Manager's policy (fleet.py), not by this script.
  rm -rf "$DIR" && mkdir -p "$DIR"
  # The bundle is a private object: fetch it with the instance's own short-lived token, which never
  # appears in a process listing or a log.
  TOKEN=$(retry $((DOWNLOAD_DEADLINE - SECONDS)) 'service account token' fetch \
    "$METADATA/instance/service-accounts/default/token" - 'Metadata-Flavor: Google' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
  export BEARER=$TOKEN
  retry $((DOWNLOAD_DEADLINE - SECONDS)) 'release bundle download' fetch '@{bundle_url}' "$DIR/bundle.zip"
  unset TOKEN BEARER
  python3 -m zipfile -e "$DIR/bundle.zip" "$DIR"
  install_release "$DIR" python3
  touch "$DIR/.installed"
fi
mkdir -p /etc/sample-service
# Memorystore's own CA: the service verifies the cache's TLS certificate against it.
cat > '@{cache_ca_file}' <<'PEM'
@{cache_ca}
PEM

@{service_unit}
