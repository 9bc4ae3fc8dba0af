# Shared by test.sh and dev.sh (shellcheck lints deploy.sh; chromium renders the local inbox page): check what the machine must have, and make the venv.
# shellcheck shell=bash

PYTHON=${PYTHON:-}

_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "$PYTHON" python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      PYTHON=$candidate
      return 0
    fi
  done
  return 1
}

check_prereqs() {
  local missing=()
  find_python || missing+=("Python 3.11 or newer (apt-get install python3 python3-venv)")
  if ! command -v java >/dev/null 2>&1; then
    missing+=("Java 17 or newer, for the emulators (apt-get install openjdk-17-jre-headless)")
  elif ! java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); exit !(v[1] >= 17) }'; then
    missing+=("Java 17 or newer; found: $(java -version 2>&1 | head -n 1)")
  fi
  if ! command -v gcloud >/dev/null 2>&1; then
    missing+=("the gcloud CLI (https://cloud.google.com/sdk/docs/install)")
  else
    local sdk
    sdk=${CLOUDSDK_ROOT_DIR:-$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)}
    [ -x "$sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator" ] ||
      missing+=("the Firestore emulator (gcloud components install cloud-firestore-emulator, or apt-get install google-cloud-cli-firestore-emulator)")
    [ -x "$sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator" ] ||
      missing+=("the Pub/Sub emulator (gcloud components install pubsub-emulator, or apt-get install google-cloud-cli-pubsub-emulator)")
  fi
  [ -n "${REDIS_URL:-}" ] || command -v redis-server >/dev/null 2>&1 ||
    missing+=("redis-server (apt-get install redis-server), or REDIS_URL pointing at a Redis 7+")
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'Missing prerequisites:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

ensure_system_packages() {
  local want=()
  command -v shellcheck >/dev/null 2>&1 || want+=(shellcheck)
  command -v chromium >/dev/null 2>&1 || want+=(chromium)
  [ ${#want[@]} -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${want[*]} (apt-get)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}") >/dev/null 2>&1 ||
      echo "warning: could not install ${want[*]}; the tests that need them will be skipped" >&2
  else
    echo "note: ${want[*]} not installed; the tests that need them will be skipped" >&2
  fi
}

ensure_venv() {
  local stamp=.venv/.requirements.sha256 sum
  sum=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv || _die "could not create .venv (apt-get install python3-venv)"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    echo "Installing Python requirements into .venv..." >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 |
      grep -v "is ignored: it is neither" >&2 || true
    .venv/bin/python -c 'import functions_framework, firebase_admin, redis, google.cloud.firestore' ||
      _die "pip install -r requirements-dev.txt failed"
    echo "$sum" >"$stamp"
  fi
}

ensure_firebase_tools() {
  # The Firebase CLI, for its Auth emulator (EMAIL_SOURCE=auth tests): pinned in devstack/firebase-tools.version,
  # installed with npm into .venv/node. Without Node.js/npm the tests that need it are skipped with a reason.
  local want stamp=.venv/node/.firebase-tools.version
  want=$(cat devstack/firebase-tools.version)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x .venv/node/node_modules/.bin/firebase ] && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "note: npm not installed; the Firebase Auth emulator tests will be skipped" >&2
    return 0
  fi
  echo "Installing firebase-tools $want (npm, for the Auth emulator)..." >&2
  mkdir -p .venv/node
  if npm install --prefix .venv/node --no-audit --no-fund --loglevel=error "firebase-tools@$want" >/dev/null 2>&1 &&
     [ -x .venv/node/node_modules/.bin/firebase ]; then
    echo "$want" >"$stamp"
  else
    echo "warning: could not install firebase-tools; the Auth emulator tests will be skipped" >&2
  fi
}
