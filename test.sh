#!/usr/bin/env bash
# The whole test suite on a fresh machine, in one command: creates .venv, installs the pinned
# requirements (and the few system packages the tests use, when run as root), then runs pytest.
# The pytest fixtures start their own Redis, Firestore emulator, Pub/Sub emulator and FCM server
# on free loopback ports and stop them at the end. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source devstack/prereqs.sh

check_prereqs            # python 3.11+, java 17+, gcloud emulators, redis-server; says how to fix
ensure_system_packages   # shellcheck (deploy.sh lint); only when missing, only as root
ensure_venv              # .venv with requirements-dev.txt, reinstalled only when it changed
ensure_firebase_tools    # the Firebase CLI in .venv/node, for its Auth emulator (skipped without npm)

exec .venv/bin/python -m pytest "$@"
