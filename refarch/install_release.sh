# install_release DIR PYTHON: turns the release bundle unzipped in DIR (sample_service/, wheelhouse/,
# requirements.lock) into DIR/venv with PYTHON, offline: only the bundle's own wheels, each checked against
# the lock's hashes. No index, no pip configuration file, no proxy: nothing is fetched from anywhere.
install_release() {
  local dir=$1 python=$2
  "$python" -m venv "$dir/venv"
  # --isolated ignores PIP_* variables; PIP_CONFIG_FILE=/dev/null skips every pip.conf, the image's too.
  PIP_CONFIG_FILE=/dev/null "$dir/venv/bin/pip" --isolated install --no-index --find-links "$dir/wheelhouse" \
    --require-hashes --only-binary=:all: --no-cache-dir --no-input --disable-pip-version-check \
    -r "$dir/requirements.lock"
}
