# install_release DIR PYTHON: turns the release bundle unzipped in DIR (sample_service/, wheelhouse/,
# requirements.lock) into DIR/venv with PYTHON, offline: only the bundle's own wheels, each checked against
# the lock's hashes. No index, no pip configuration file, no proxy: nothing is fetched from anywhere.
install_release() {
  local dir=$1 python=$2 pip digest
  # Debian's python3 has no ensurepip without its python3-venv package (which would need apt and a mirror):
  # the venv gets no pip of its own, and pip runs from its wheel in the wheelhouse (a wheel is a zip that
  # Python imports from), once that wheel is the lock's.
  "$python" -m venv --without-pip "$dir/venv"
  pip=$(compgen -G "$dir/wheelhouse/pip-*.whl")
  digest=$(sha256sum "$pip" | cut -d ' ' -f 1)
  if ! grep -q -- "--hash=sha256:$digest" "$dir/requirements.lock"; then
    echo "boot: $pip is not the pip requirements.lock pins" >&2
    return 1
  fi
  # --isolated ignores PIP_* variables; PIP_CONFIG_FILE=/dev/null skips every pip.conf, the image's too.
  PIP_CONFIG_FILE=/dev/null "$dir/venv/bin/python" "$pip/pip" --isolated install --no-index \
    --find-links "$dir/wheelhouse" --require-hashes --only-binary=:all: --no-cache-dir --no-input \
    --disable-pip-version-check -r "$dir/requirements.lock"
}
