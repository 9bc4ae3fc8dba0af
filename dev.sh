#!/usr/bin/env bash
# The whole system on this machine, in one command: Redis, the Pub/Sub and Firestore emulators, the
# FCM server with its page, and both functions under functions-framework, on free loopback ports.
#
#   ./dev.sh          start, print a status table and a live feed; Ctrl-C stops everything
#   ./dev.sh --demo   the same stack, run the demo scenario, print what happened, stop (exit 0 = it worked)
#
# The logic lives in devstack/stack.py; this wrapper checks the machine, makes the venv, and makes sure
# nothing it started outlives it (every child carries BYOK_DEVSTACK_RUN=<run id>; the exit trap sweeps).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source devstack/prereqs.sh

check_prereqs   # python 3.11+, java 17+, gcloud with both emulators, redis-server: says what to install
ensure_venv     # .venv with requirements-dev.txt, reinstalled only when they changed

run_id=${BYOK_DEVSTACK_RUN:-devstack-$$-$(date +%s)}
child=

# shellcheck disable=SC2317  # called by the EXIT trap
finish() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  .venv/bin/python -m devstack.stack --sweep "$run_id" || true
}
trap finish EXIT
trap 'kill -INT "$child" 2>/dev/null || true' INT
trap 'kill -TERM "$child" 2>/dev/null || true' TERM HUP

# In the background so the traps above run while it works; the stack stops itself on INT/TERM/HUP.
.venv/bin/python -m devstack.stack --run-id "$run_id" "$@" &
child=$!
while kill -0 "$child" 2>/dev/null; do
  wait "$child" || true   # returns early when a trapped signal arrives
done
rc=0
wait "$child" || rc=$?
child=
exit "$rc"
