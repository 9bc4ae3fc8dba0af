#!/usr/bin/env bash
# deploy.sh: the BYOK-error notifier (two Cloud Functions, 2nd gen) into one Google Cloud project.
#
# One plan, two executors: plan() calls the step helpers below in order; with --dry-run each step only
# prints its gcloud command(s), one per line, shell-quoted; a real run prints the same lines and runs
# them. Every step is idempotent (describe-then-create, or a command that is itself create-or-update),
# so a rerun converges instead of failing. Settings are validated before anything runs.
# Run ./deploy.sh --help for the settings; docs/deploy.md for what it creates and costs.
set -euo pipefail

if ((BASH_VERSINFO[0] < 4 || (BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] < 3))); then
  echo "deploy.sh needs bash 4.3 or newer (macOS: brew install bash)" >&2
  exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ------------------------------------------------------------------------------------------------
# Settings: NAME|default|help. One table feeds --help, the deploy.env parser, flags and validation.
# An empty default means "not set" (derived from other settings, or left to the function's default).
# ------------------------------------------------------------------------------------------------
SETTINGS_TABLE='
PROJECT_ID||Google Cloud (Firebase) project id. Required.
REGION|us-central1|Region of the functions, the connector and Memorystore.
NETWORK_MODE||How the notifier reaches Redis: connector (Serverless VPC Access) or direct (Direct VPC egress). Required.
VPC_NETWORK|default|VPC network of Redis (and of the connector).
VPC_CONNECTOR|byok-connector|connector mode: connector name.
VPC_CONNECTOR_RANGE||connector mode: an unused /28 (e.g. 10.8.0.0/28) makes the script create and own the connector; empty = use an existing connector.
VPC_CONNECTOR_MIN_INSTANCES|2|connector mode, created connector: minimum instances (2..9).
VPC_CONNECTOR_MAX_INSTANCES|3|connector mode, created connector: maximum instances (3..10).
VPC_CONNECTOR_MACHINE_TYPE|e2-micro|connector mode, created connector: f1-micro, e2-micro or e2-standard-4.
VPC_SUBNET||direct mode: existing subnet in REGION that the notifier takes its IPs from. Required in direct mode.
VPC_EGRESS|private-ranges-only|Which egress goes through the VPC: private-ranges-only or all.
REDIS_MODE||create (a new Memorystore instance), instance (an existing Memorystore instance) or url (any Redis, EXISTING_REDIS_URL). Required.
REDIS_INSTANCE|byok-redis|create/instance mode: Memorystore instance id in REGION.
REDIS_TIER|basic|create mode: basic or standard (standard has a replica and failover).
REDIS_SIZE_GB|1|create mode: capacity in GB (1..300).
REDIS_VERSION|redis_7_2|create mode: Memorystore Redis version.
REDIS_AUTH|true|create/instance mode: the instance uses AUTH; its AUTH string is kept in Secret Manager (true or false).
REDIS_TLS|true|create/instance mode: the instance uses in-transit encryption (rediss://); its server CA is kept in Secret Manager (true or false).
EXISTING_REDIS_URL||url mode: redis://HOST:PORT/0 or rediss://HOST:PORT/0. Required in url mode.
REDIS_AUTH_SECRET||Secret Manager secret with the Redis AUTH string. create/instance mode: managed by the script (default byok-redis-auth). url mode: an existing secret, or empty for no AUTH.
REDIS_CA_SECRET||Secret Manager secret with the Redis server CA (PEM). create/instance mode: managed by the script (default byok-redis-ca). url mode: an existing secret, required with rediss://.
TOPIC|byok-llm-errors|Pub/Sub topic the app backend publishes error events to.
DEAD_LETTER_TOPIC||Dead-letter topic (default: TOPIC-dead-letter).
DEAD_LETTER_SUBSCRIPTION||Subscription that keeps dead letters (default: DEAD_LETTER_TOPIC-keep).
DEAD_LETTER_RETENTION_DAYS|7|How long dead letters are kept (1..31 days).
MAX_DELIVERY_ATTEMPTS|10|Deliveries of one event before it is dead-lettered (5..100).
MIN_RETRY_DELAY_SECONDS|10|Retry backoff, minimum (0..600).
MAX_RETRY_DELAY_SECONDS|600|Retry backoff, maximum (0..600).
FIRESTORE_DATABASE|(default)|Firestore database id of the app.
FIRESTORE_LOCATION||Location of that database (e.g. nam5, eur3, us-central1); empty = read it from the database at deploy time.
NOTIFIER_NAME|notify-byok-llm-error|Name of the notifier function (and of its Cloud Run service).
CLEANUP_NAME|cleanup-invalid-fcm-tokens|Name of the cleanup function (and of its Cloud Run service).
SERVICE_ACCOUNT_PREFIX|byok|Prefix of the service accounts the script creates (PREFIX-notifier, PREFIX-cleanup, PREFIX-notifier-trigger, PREFIX-cleanup-trigger, PREFIX-build).
NOTIFIER_MEMORY|512Mi|Notifier memory (e.g. 256Mi, 512Mi, 1Gi).
NOTIFIER_CPU|1|Notifier CPUs (e.g. 0.5, 1, 2); concurrency above 1 needs at least 1.
NOTIFIER_CONCURRENCY|8|Events one notifier instance handles at once (1..1000).
NOTIFIER_TIMEOUT_SECONDS|60|Notifier timeout; must stay below DELIVERY_LEASE_SECONDS (10..540).
NOTIFIER_MIN_INSTANCES|0|Notifier instances kept warm (0 = nothing billed at rest, cold starts).
NOTIFIER_MAX_INSTANCES|20|Notifier instance cap (1..1000).
CLEANUP_MEMORY|256Mi|Cleanup memory.
CLEANUP_TIMEOUT_SECONDS|60|Cleanup timeout (10..540).
CLEANUP_MIN_INSTANCES|0|Cleanup instances kept warm.
CLEANUP_MAX_INSTANCES|10|Cleanup instance cap (1..1000).
FCM_TIMEOUT_SECONDS||Notifier runtime: FCM HTTP timeout (empty = the function default).
DEDUP_WINDOW_SECONDS||Notifier runtime: one push per (uid, provider, reason) per window (empty = default 86400).
DELIVERY_LEASE_SECONDS||Notifier runtime: delivery lease (empty = default 120).
NO_TARGET_WINDOW_SECONDS||Notifier runtime: mark kept when a user has no live device (empty = default 3600).
MAX_EVENT_AGE_SECONDS||Notifier runtime: older events are acknowledged without a push (empty = default 86400).
MAX_EVENT_BYTES||Notifier runtime: larger events are rejected (empty = the function default).
FIRESTORE_TIMEOUT_SECONDS||Runtime (both functions): bound on a Firestore call with its retries (empty = default 10).
MARK_CACHE_SECONDS||Notifier runtime: how long an instance trusts a mark it saw; 0 = ask Redis every time (empty = default 30).
SURGE_USERS||Notifier runtime: past this many distinct users failing the same way in a window, hold (one fault, not many keys); 0 = off (empty = default 25).
SURGE_WINDOW_SECONDS||Notifier runtime: the window SURGE_USERS counts in (empty = default 600).
STATUS_COLLECTION||Notifier runtime: subcollection of users/{uid} for the in-app status; - turns it off (empty = default byok_status).
STATUS_FLUSH_SECONDS||Notifier runtime: how often counted duplicates are written to the status; 0 = not counted (empty = default 300).
USER_LANGUAGE_FIELD||Notifier runtime: field of users/{uid} with the language tag (empty = default language).
USER_MUTE_FIELD||Notifier runtime: field of users/{uid} that mutes alerts, true or a list of providers (empty = default byok_alerts_muted).
USER_KEY_FINGERPRINTS_FIELD||Notifier runtime: field of users/{uid} mapping a provider to the fingerprint of the key the user has now; a failure of another key tells no one; - = not read (empty = default byok_key_fingerprints).
REMINDERS||Notifier runtime: the next push for a persisting problem is a reminder, true or false (empty = default true).
DEEP_LINK_TEMPLATE||Notifier runtime: deep link in the push data, with {provider} and {reason}; - = none (empty = default app://settings/ai-keys?provider={provider}&reason={reason}).
REDIS_CLUSTER||Notifier runtime: 1 for Memorystore for Redis Cluster (empty = a single instance).
PUSH_LINK_FIELD||Notifier runtime: data field of the push that carries DEEP_LINK_TEMPLATE (empty = default deep_link; omi: navigate_to).
EMAIL_MODE||Notifier runtime: off, fallback (email when no device takes the push) or always (empty = default off).
EMAIL_COLLECTION||Notifier runtime: collection the Trigger Email extension watches (empty = default mail).
EMAIL_SOURCE||Notifier runtime: field (users/{uid}.USER_EMAIL_FIELD) or auth (verified Firebase Auth address) (empty = default field).
USER_EMAIL_FIELD||Notifier runtime: field of users/{uid} with the address (empty = default email).
DELIVERY_MODE||Notifier runtime: live, or shadow (deliver nothing, log would_send) (empty = default live).
METRIC_PREFIX|byok|Prefix of the log-based metrics (PREFIX_notifier_outcomes, PREFIX_cleanup_outcomes).
ALERT_CHANNEL||Cloud Monitoring notification channel the alert policies notify: projects/PROJECT/notificationChannels/ID (empty = policies without a channel: incidents open in the console, nobody is notified).
PUBLISHERS||Comma-separated service account emails of the app backend allowed to publish events: roles/pubsub.publisher on TOPIC only (empty = nobody is granted by this script).
'

# Settings that go to the notifier as environment variables of the same name: numbers, then words.
RUNTIME_NUMBERS=(FCM_TIMEOUT_SECONDS DEDUP_WINDOW_SECONDS DELIVERY_LEASE_SECONDS NO_TARGET_WINDOW_SECONDS
  MAX_EVENT_AGE_SECONDS MAX_EVENT_BYTES FIRESTORE_TIMEOUT_SECONDS MARK_CACHE_SECONDS STATUS_FLUSH_SECONDS SURGE_USERS
  SURGE_WINDOW_SECONDS)
RUNTIME_WORDS=(STATUS_COLLECTION USER_LANGUAGE_FIELD USER_MUTE_FIELD USER_KEY_FINGERPRINTS_FIELD REMINDERS DEEP_LINK_TEMPLATE
  REDIS_CLUSTER PUSH_LINK_FIELD EMAIL_MODE EMAIL_COLLECTION EMAIL_SOURCE USER_EMAIL_FIELD DELIVERY_MODE)
RUNTIME_SETTINGS=("${RUNTIME_NUMBERS[@]}" "${RUNTIME_WORDS[@]}")

CA_MOUNT_PATH=/etc/secrets/redis-ca/server-ca.pem
NOTIFIER_ENTRY_POINT=notify_byok_llm_error
CLEANUP_ENTRY_POINT=cleanup_invalid_fcm_tokens
FIRESTORE_EVENT=google.cloud.firestore.document.v1.written
TOKEN_DOCUMENT='users/{uid}/fcm_tokens/{device}'

declare -A S=() DEFAULT=() HELP=() GIVEN=()
SETTING_NAMES=()
while IFS='|' read -r name default help; do
  [[ -n $name ]] || continue
  SETTING_NAMES+=("$name")
  DEFAULT[$name]=$default
  HELP[$name]=$help
done <<<"$SETTINGS_TABLE"

die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 2; }

usage() {
  cat <<EOF
Usage: ./deploy.sh [options] [--SETTING-NAME=VALUE ...]

Deploys the BYOK LLM error notifier into one Google Cloud project: APIs, service accounts and their
roles, Pub/Sub topic + dead-lettering, the network path to Redis, optionally Memorystore, both
functions, log-based metrics, a Monitoring dashboard and alert policies, and the publishers' grant on
the topic. Safe to rerun: what exists is updated or left alone.

Options:
  --env-file=PATH   settings file (default: deploy.env next to this script, if present;
                    see deploy.env.example)
  --dry-run         print every gcloud command, one per line, and run none
  --destroy         remove what this script created (asks for the project id unless --yes)
  --yes             do not ask for confirmation
  -h, --help        this help

Settings (precedence: flag > environment variable > settings file > default). A setting NAME is
given as NAME=VALUE in the file, as the environment variable NAME, or as the flag --name=VALUE
(lower case, dashes), e.g. --project-id=my-project --network-mode=connector.

EOF
  local name
  for name in "${SETTING_NAMES[@]}"; do
    printf '  %-28s %s' "$name" "${HELP[$name]}"
    [[ -n ${DEFAULT[$name]} ]] && printf ' [default: %s]' "${DEFAULT[$name]}"
    printf '\n'
  done
}

# ------------------------------------------------------------------------------------------------
# Reading settings
# ------------------------------------------------------------------------------------------------
is_setting() { [[ -n ${HELP[$1]+x} ]]; }

read_env_file() {
  # KEY=VALUE lines; '#' comments; optional single or double quotes; no shell expansion.
  local file=$1 line key value n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Z][A-Z0-9_]*)=(.*)$ ]] ||
      die "$file:$n: expected NAME=VALUE, got: $line"
    key=${BASH_REMATCH[2]}
    value=${BASH_REMATCH[3]}
    is_setting "$key" || die "$file:$n: unknown setting $key (see ./deploy.sh --help)"
    if [[ $value =~ ^\"(.*)\"[[:space:]]*(#.*)?$ || $value =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
      value=${BASH_REMATCH[1]}
    else
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    FILE_VALUES[$key]=$value
  done <"$file"
}

DRY_RUN=0 DESTROY=0 ASSUME_YES=0 ENV_FILE=""
declare -A FLAG_VALUES=() FILE_VALUES=()

parse_args() {
  local arg name value
  while (($#)); do
    arg=$1
    shift
    case $arg in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --destroy) DESTROY=1 ;;
      --yes | -y) ASSUME_YES=1 ;;
      --env-file=*) ENV_FILE=${arg#*=} ;;
      --env-file) (($#)) || die "--env-file needs a value"; ENV_FILE=$1; shift ;;
      --*)
        name=${arg#--}
        if [[ $name == *=* ]]; then
          value=${name#*=}
          name=${name%%=*}
        else
          (($#)) || die "$arg needs a value"
          value=$1
          shift
        fi
        name=${name^^}
        name=${name//-/_}
        is_setting "$name" || die "unknown option $arg (see ./deploy.sh --help)"
        FLAG_VALUES[$name]=$value
        ;;
      *) die "unexpected argument: $arg (see ./deploy.sh --help)" ;;
    esac
  done
}

load_settings() {
  if [[ -n $ENV_FILE ]]; then
    [[ -r $ENV_FILE ]] || die "settings file not found: $ENV_FILE"
    read_env_file "$ENV_FILE"
  elif [[ -r $ROOT/deploy.env ]]; then
    ENV_FILE=$ROOT/deploy.env
    read_env_file "$ENV_FILE"
  fi
  local name
  for name in "${SETTING_NAMES[@]}"; do
    if [[ -n ${FLAG_VALUES[$name]+x} ]]; then
      S[$name]=${FLAG_VALUES[$name]}
    elif [[ -n ${!name:-} ]]; then
      S[$name]=${!name}
    elif [[ -n ${FILE_VALUES[$name]+x} ]]; then
      S[$name]=${FILE_VALUES[$name]}
    else
      S[$name]=${DEFAULT[$name]}
      continue
    fi
    GIVEN[$name]=1
  done
}

# ------------------------------------------------------------------------------------------------
# Validation: collect every problem, report them together, exit 2 before any gcloud command.
# ------------------------------------------------------------------------------------------------
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }
given() { [[ -n ${GIVEN[$1]+x} ]]; }

need() {
  local name=$1 why=${2:-}
  [[ -n ${S[$name]} ]] || problem "$name is required${why:+ $why}"
}
match() {  # name regex description
  local name=$1 re=$2 what=$3
  [[ -z ${S[$name]} || ${S[$name]} =~ $re ]] || problem "$name must be $what, got '${S[$name]}'"
}
int_range() {  # name low high
  local name=$1 low=$2 high=$3 v=${S[$1]}
  [[ -z $v ]] && return 0
  if [[ ! $v =~ ^[0-9]+$ ]]; then
    problem "$name must be a whole number, got '$v'"
  elif ((10#$v < low || 10#$v > high)); then
    problem "$name must be between $low and $high, got $v"
  fi
}
one_of() {  # name choices...
  local name=$1 v=${S[$1]} c
  shift
  [[ -z $v ]] && return 0
  for c in "$@"; do [[ $v == "$c" ]] && return 0; done
  problem "$name must be one of: $*; got '$v'"
}
forbid() {  # name reason: a setting given where it has no meaning is a conflict, not a silent no-op
  given "$1" && [[ -n ${S[$1]} ]] && problem "$1 conflicts with $2"
  return 0
}

validate() {
  local n
  need PROJECT_ID
  match PROJECT_ID '^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$' 'a project id (6-30 lowercase letters, digits, dashes)'
  need REGION
  match REGION '^[a-z]+-[a-z]+[0-9]+$' 'a region such as us-central1'
  need NETWORK_MODE '(connector or direct)'
  one_of NETWORK_MODE connector direct
  need REDIS_MODE '(create, instance or url)'
  one_of REDIS_MODE create instance url
  match VPC_NETWORK '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$' 'a VPC network name'
  one_of VPC_EGRESS private-ranges-only all

  case ${S[NETWORK_MODE]} in
    connector)
      need VPC_CONNECTOR 'in connector mode'
      match VPC_CONNECTOR '^[a-z]([-a-z0-9]{0,23}[a-z0-9])?$' 'a connector name (up to 25 lowercase letters, digits, dashes)'
      match VPC_CONNECTOR_RANGE '^([0-9]{1,3}\.){3}[0-9]{1,3}/28$' 'an unused /28 range such as 10.8.0.0/28'
      int_range VPC_CONNECTOR_MIN_INSTANCES 2 9
      int_range VPC_CONNECTOR_MAX_INSTANCES 3 10
      one_of VPC_CONNECTOR_MACHINE_TYPE f1-micro e2-micro e2-standard-4
      if [[ ${S[VPC_CONNECTOR_MIN_INSTANCES]} =~ ^[0-9]+$ && ${S[VPC_CONNECTOR_MAX_INSTANCES]} =~ ^[0-9]+$ ]] &&
        ((10#${S[VPC_CONNECTOR_MIN_INSTANCES]} >= 10#${S[VPC_CONNECTOR_MAX_INSTANCES]})); then
        problem "VPC_CONNECTOR_MIN_INSTANCES must be less than VPC_CONNECTOR_MAX_INSTANCES"
      fi
      forbid VPC_SUBNET "NETWORK_MODE=connector (VPC_SUBNET is for NETWORK_MODE=direct)"
      ;;
    direct)
      need VPC_SUBNET 'in direct mode (NETWORK_MODE=direct)'
      match VPC_SUBNET '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$' 'a subnet name'
      for n in VPC_CONNECTOR VPC_CONNECTOR_RANGE VPC_CONNECTOR_MIN_INSTANCES VPC_CONNECTOR_MAX_INSTANCES \
        VPC_CONNECTOR_MACHINE_TYPE; do
        forbid "$n" "NETWORK_MODE=direct (connector settings are for NETWORK_MODE=connector)"
      done
      ;;
  esac

  case ${S[REDIS_MODE]} in
    create | instance)
      match REDIS_INSTANCE '^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$' 'a Memorystore instance id (lowercase letters, digits, dashes, up to 40)'
      need REDIS_INSTANCE "with REDIS_MODE=${S[REDIS_MODE]}"
      one_of REDIS_AUTH true false
      one_of REDIS_TLS true false
      forbid EXISTING_REDIS_URL "REDIS_MODE=${S[REDIS_MODE]} (EXISTING_REDIS_URL is for REDIS_MODE=url)"
      [[ ${S[REDIS_AUTH]} == true ]] && S[REDIS_AUTH_SECRET]=${S[REDIS_AUTH_SECRET]:-byok-redis-auth}
      [[ ${S[REDIS_TLS]} == true ]] && S[REDIS_CA_SECRET]=${S[REDIS_CA_SECRET]:-byok-redis-ca}
      [[ ${S[REDIS_AUTH]} == false ]] && forbid REDIS_AUTH_SECRET "REDIS_AUTH=false"
      [[ ${S[REDIS_TLS]} == false ]] && forbid REDIS_CA_SECRET "REDIS_TLS=false"
      ;;
    url)
      need EXISTING_REDIS_URL 'with REDIS_MODE=url'
      match EXISTING_REDIS_URL '^rediss?://([^:@/]*(:[^@/]*)?@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[0-9]{1,2})?$' \
        'redis://HOST:PORT/DB or rediss://HOST:PORT/DB'
      if [[ ${S[EXISTING_REDIS_URL]} == *@* ]]; then
        problem "EXISTING_REDIS_URL must not contain a password; put it in a secret and name it in REDIS_AUTH_SECRET"
      fi
      if [[ ${S[EXISTING_REDIS_URL]} == rediss://* && -z ${S[REDIS_CA_SECRET]} ]]; then
        problem "REDIS_CA_SECRET is required with a rediss:// EXISTING_REDIS_URL (a secret holding the server CA, PEM)"
      fi
      if [[ ${S[EXISTING_REDIS_URL]} == redis://* && -n ${S[REDIS_CA_SECRET]} ]]; then
        problem "REDIS_CA_SECRET conflicts with a redis:// EXISTING_REDIS_URL (the CA is only used with rediss://)"
      fi
      for n in REDIS_INSTANCE REDIS_TIER REDIS_SIZE_GB REDIS_VERSION REDIS_AUTH REDIS_TLS; do
        forbid "$n" "REDIS_MODE=url (Memorystore settings are for REDIS_MODE=create or instance)"
      done
      ;;
  esac
  if [[ ${S[REDIS_MODE]} == instance ]]; then
    for n in REDIS_TIER REDIS_SIZE_GB REDIS_VERSION; do
      forbid "$n" "REDIS_MODE=instance (the instance exists already; $n is for REDIS_MODE=create)"
    done
  fi
  one_of REDIS_TIER basic standard
  int_range REDIS_SIZE_GB 1 300
  match REDIS_VERSION '^redis_[0-9]+(_[0-9x]+)?$' 'a Memorystore version such as redis_7_2'
  match REDIS_AUTH_SECRET '^[A-Za-z0-9_-]{1,255}$' 'a secret id (letters, digits, _ and -)'
  match REDIS_CA_SECRET '^[A-Za-z0-9_-]{1,255}$' 'a secret id (letters, digits, _ and -)'
  if [[ -n ${S[REDIS_AUTH_SECRET]} && ${S[REDIS_AUTH_SECRET]} == "${S[REDIS_CA_SECRET]}" ]]; then
    problem "REDIS_AUTH_SECRET and REDIS_CA_SECRET must be different secrets"
  fi

  local topic_re='^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$'
  S[DEAD_LETTER_TOPIC]=${S[DEAD_LETTER_TOPIC]:-${S[TOPIC]}-dead-letter}
  S[DEAD_LETTER_SUBSCRIPTION]=${S[DEAD_LETTER_SUBSCRIPTION]:-${S[DEAD_LETTER_TOPIC]}-keep}
  for n in TOPIC DEAD_LETTER_TOPIC DEAD_LETTER_SUBSCRIPTION; do
    need "$n"
    match "$n" "$topic_re" 'a Pub/Sub name (3-255 characters, starting with a letter)'
    [[ ${S[$n]} == goog* ]] && problem "$n must not start with 'goog'"
  done
  [[ ${S[TOPIC]} == "${S[DEAD_LETTER_TOPIC]}" ]] && problem "DEAD_LETTER_TOPIC must differ from TOPIC"
  int_range DEAD_LETTER_RETENTION_DAYS 1 31
  int_range MAX_DELIVERY_ATTEMPTS 5 100
  int_range MIN_RETRY_DELAY_SECONDS 0 600
  int_range MAX_RETRY_DELAY_SECONDS 0 600
  if [[ ${S[MIN_RETRY_DELAY_SECONDS]} =~ ^[0-9]+$ && ${S[MAX_RETRY_DELAY_SECONDS]} =~ ^[0-9]+$ ]] &&
    ((10#${S[MIN_RETRY_DELAY_SECONDS]} > 10#${S[MAX_RETRY_DELAY_SECONDS]})); then
    problem "MIN_RETRY_DELAY_SECONDS must not exceed MAX_RETRY_DELAY_SECONDS"
  fi

  need FIRESTORE_DATABASE
  match FIRESTORE_DATABASE '^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$' "'(default)' or a database id"
  match FIRESTORE_LOCATION '^[a-z]+[0-9]*(-[a-z]+[0-9]+)?$' 'a Firestore location such as nam5 or europe-west1'

  for n in NOTIFIER_NAME CLEANUP_NAME; do
    need "$n"
    match "$n" '^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$' 'a function name (lowercase letters, digits, dashes; up to 49)'
  done
  [[ ${S[NOTIFIER_NAME]} == "${S[CLEANUP_NAME]}" ]] && problem "NOTIFIER_NAME and CLEANUP_NAME must differ"
  need SERVICE_ACCOUNT_PREFIX
  match SERVICE_ACCOUNT_PREFIX '^[a-z][a-z0-9-]{0,11}[a-z0-9]$' 'up to 13 lowercase letters, digits, dashes (service account ids are at most 30)'
  match METRIC_PREFIX '^[A-Za-z][A-Za-z0-9_]{0,40}$' 'letters, digits and _'
  match ALERT_CHANNEL '^projects/([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[A-Za-z0-9_-]+$' \
    'a notification channel resource name such as projects/my-project/notificationChannels/1234567890'
  local publisher
  if [[ -n ${S[PUBLISHERS]} ]]; then
    IFS=, read -r -a publisher <<<"${S[PUBLISHERS]}"
    for n in "${publisher[@]}"; do
      [[ $n =~ ^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*\.gserviceaccount\.com$ ]] ||
        problem "PUBLISHERS must be comma-separated service account emails (NAME@PROJECT.iam.gserviceaccount.com), got '$n'"
    done
  fi

  for n in NOTIFIER_MEMORY CLEANUP_MEMORY; do
    need "$n"
    match "$n" '^[0-9]+(k|M|G|Ki|Mi|Gi)$' 'a memory size such as 256Mi or 1Gi'
  done
  need NOTIFIER_CPU
  match NOTIFIER_CPU '^([0-9]+(\.[0-9]+)?|\.[0-9]+|[0-9]+m)$' 'a CPU count such as 0.5, 1 or 2'
  int_range NOTIFIER_CONCURRENCY 1 1000
  int_range NOTIFIER_TIMEOUT_SECONDS 10 540
  int_range CLEANUP_TIMEOUT_SECONDS 10 540
  int_range NOTIFIER_MIN_INSTANCES 0 1000
  int_range NOTIFIER_MAX_INSTANCES 1 1000
  int_range CLEANUP_MIN_INSTANCES 0 1000
  int_range CLEANUP_MAX_INSTANCES 1 1000
  local cpu_ok=1
  if [[ ${S[NOTIFIER_CPU]} =~ ^0*\.[0-9]+$ || ${S[NOTIFIER_CPU]} =~ ^[0-9]+m$ && ${S[NOTIFIER_CPU]%m} -lt 1000 ]]; then
    cpu_ok=0
  fi
  if ((cpu_ok == 0)) && [[ ${S[NOTIFIER_CONCURRENCY]} =~ ^[0-9]+$ ]] && ((10#${S[NOTIFIER_CONCURRENCY]} > 1)); then
    problem "NOTIFIER_CONCURRENCY above 1 conflicts with NOTIFIER_CPU=${S[NOTIFIER_CPU]} (needs at least 1 CPU)"
  fi
  local kind
  for kind in NOTIFIER CLEANUP; do
    if [[ ${S[${kind}_MIN_INSTANCES]} =~ ^[0-9]+$ && ${S[${kind}_MAX_INSTANCES]} =~ ^[0-9]+$ ]] &&
      ((10#${S[${kind}_MIN_INSTANCES]} > 10#${S[${kind}_MAX_INSTANCES]})); then
      problem "${kind}_MIN_INSTANCES must not exceed ${kind}_MAX_INSTANCES"
    fi
  done

  for n in "${RUNTIME_NUMBERS[@]}"; do
    match "$n" '^[0-9]+(\.[0-9]+)?$' 'a number'
  done
  for n in "${RUNTIME_WORDS[@]}"; do
    match "$n" '^[^,[:space:]]+$' 'one word without commas or spaces'
  done
  ((${#PROBLEMS[@]} == 0)) && validate_runtime_settings
  report_problems
}

validate_runtime_settings() {
  # The functions' own validator (functions/config.py) is the source of truth for their variables:
  # run it on what will be deployed, so a bad value fails here and not at the first cold start.
  local python=""
  python=$(command -v python3 || true)
  if [[ -z $python ]]; then
    echo "deploy.sh: note: python3 not found; the notifier's runtime settings are checked at its start only" >&2
    return 0
  fi
  local n env=(GOOGLE_CLOUD_PROJECT="${S[PROJECT_ID]}" REDIS_URL=redis://10.0.0.1:6379/0)
  for n in "${RUNTIME_SETTINGS[@]}"; do
    [[ -n ${S[$n]} ]] && env+=("$n=${S[$n]}")
  done
  local out
  if ! out=$(cd "$ROOT" && env -i PATH="$PATH" "${env[@]}" "$python" -c '
import os, sys
sys.path.insert(0, ".")
from functions import config
try:
    cfg = config.load(os.environ, need_redis=True)
except config.ConfigError as exc:
    print(exc)
    sys.exit(3)
print(cfg.delivery_lease_seconds)
' 2>&1); then
    if [[ $out == *"Invalid configuration"* ]]; then
      problem "notifier runtime settings: ${out#*Invalid configuration: }"
    else
      echo "deploy.sh: note: could not run functions/config.py to check runtime settings: ${out##*$'\n'}" >&2
    fi
    return 0
  fi
  local lease=${out##*$'\n'}
  if [[ $lease =~ ^[0-9]+$ && ${S[NOTIFIER_TIMEOUT_SECONDS]} =~ ^[0-9]+$ ]] &&
    ((10#${S[NOTIFIER_TIMEOUT_SECONDS]} >= lease)); then
    problem "NOTIFIER_TIMEOUT_SECONDS (${S[NOTIFIER_TIMEOUT_SECONDS]}) must be below DELIVERY_LEASE_SECONDS ($lease): a send that outlives its lease could notify twice"
  fi
}

report_problems() {
  ((${#PROBLEMS[@]} == 0)) && return 0
  {
    echo "deploy.sh: invalid settings${ENV_FILE:+ (settings file: $ENV_FILE)}; nothing was run:"
    printf '  - %s\n' "${PROBLEMS[@]}"
    echo "See ./deploy.sh --help and deploy.env.example."
  } >&2
  exit 2
}

# ------------------------------------------------------------------------------------------------
# Step helpers: the only places that print or run commands.
# ------------------------------------------------------------------------------------------------
declare -A CAPTURED=()

quote() {  # one word, shell-quoted, into REPLY. "${NAME}" marks a value captured at run time.
  local s=$1
  if [[ $s =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    REPLY=$s
  elif [[ $s =~ \$\{[A-Z_]+\} ]]; then
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//\`/\\\`}
    REPLY="\"$s\""
  else
    REPLY="'${s//\'/\'\\\'\'}'"
  fi
}
render() {  # a command as one shell-quoted line, into LINE
  local w
  LINE=""
  for w in "$@"; do
    quote "$w"
    LINE+="${LINE:+ }$REPLY"
  done
}
say() { printf '%s\n' "$*"; }
note() { say "# $*"; }

execute() {  # run one command; on failure stop with its output
  if ! "$@"; then
    render "$@"
    printf 'deploy.sh: failed: %s\n' "$LINE" >&2
    exit 1
  fi
}

split_at() {  # split "$@" at the first "--" into LEFT and RIGHT arrays
  LEFT=() RIGHT=()
  local seen=0 w
  for w in "$@"; do
    if ((seen == 0)) && [[ $w == -- ]]; then seen=1; continue; fi
    if ((seen)); then RIGHT+=("$w"); else LEFT+=("$w"); fi
  done
}

run() {  # run CMD...: a command that is idempotent by itself
  render "$@"
  say "$LINE"
  ((DRY_RUN)) && return 0
  execute "$@"
}

run_retry() {  # like run, retried: IAM needs a moment to see a service account that was just created
  render "$@"
  say "$LINE"
  ((DRY_RUN)) && return 0
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@" >/dev/null 2>"$WORK_DIR/stderr"; then return 0; fi
    ((attempt < 5)) && sleep $((attempt * 4))
  done
  cat "$WORK_DIR/stderr" >&2
  printf 'deploy.sh: failed after 5 attempts: %s\n' "$LINE" >&2
  exit 1
}

ensure() {  # ensure DESCRIBE... -- CREATE...: create only what does not exist yet
  split_at "$@"
  local check=("${LEFT[@]}") create=("${RIGHT[@]}") a b
  render "${check[@]}"; a=$LINE
  render "${create[@]}"; b=$LINE
  say "$a || $b"
  ((DRY_RUN)) && return 0
  if "${check[@]}" >/dev/null 2>&1; then
    return 0
  fi
  execute "${create[@]}"
}

upsert() {  # upsert DESCRIBE... -- UPDATE... -- CREATE...
  split_at "$@"
  local check=("${LEFT[@]}")
  split_at "${RIGHT[@]}"
  local update=("${LEFT[@]}") create=("${RIGHT[@]}") a b c
  render "${check[@]}"; a=$LINE
  render "${update[@]}"; b=$LINE
  render "${create[@]}"; c=$LINE
  say "if $a; then $b; else $c; fi"
  ((DRY_RUN)) && return 0
  if "${check[@]}" >/dev/null 2>&1; then
    execute "${update[@]}"
  else
    execute "${create[@]}"
  fi
}

remove() {  # remove DESCRIBE... -- DELETE...: delete what exists, skip what is already gone
  split_at "$@"
  local check=("${LEFT[@]}") delete=("${RIGHT[@]}") a b
  render "${check[@]}"; a=$LINE
  render "${delete[@]}"; b=$LINE
  say "if $a; then $b; fi"
  ((DRY_RUN)) && return 0
  if "${check[@]}" >/dev/null 2>&1; then
    execute "${delete[@]}"
  fi
}

attempt() {  # attempt CMD...: best effort (removing an IAM binding that may be gone already)
  render "$@"
  say "$LINE || true"
  ((DRY_RUN)) && return 0
  "$@" >/dev/null 2>&1 || true
}

_run_capture() {  # _run_capture EMPTY_OK NAME CMD...: run CMD (unless a dry run) and keep its answer as NAME
  local empty_ok=$1 name=$2
  shift 2
  render "$@"
  say "$name=\$($LINE)"
  if ((DRY_RUN)); then
    CAPTURED[$name]="\${$name}"
    return 0
  fi
  local value
  value=$("$@") || { printf 'deploy.sh: failed: %s\n' "$LINE" >&2; exit 1; }
  if ((empty_ok)); then
    CAPTURED[$name]=${value%%$'\n'*}
    return 0
  fi
  [[ -n $value ]] || { printf 'deploy.sh: empty result from: %s\n' "$LINE" >&2; exit 1; }
  CAPTURED[$name]=$value
}

capture() {  # capture NAME CMD...: a value only known at run time; later words use "${NAME}"
  _run_capture 0 "$@"
}

lookup() {  # lookup NAME CMD...: like capture, but an empty answer is an answer (nothing has that name)
  _run_capture 1 "$@"
}

upsert_named() {  # upsert_named NAME UPDATE... -- CREATE...: UPDATE the one `lookup NAME` found, else CREATE
  local name=$1
  shift
  split_at "$@"
  local update=("${LEFT[@]}") create=("${RIGHT[@]}") b c pat="\${$name}"
  render "${update[@]}"; b=$LINE
  render "${create[@]}"; c=$LINE
  say "if [ -n \"\${$name}\" ]; then $b; else $c; fi"
  ((DRY_RUN)) && return 0
  if [[ -n ${CAPTURED[$name]} ]]; then
    execute "${update[@]//"$pat"/${CAPTURED[$name]}}"
  else
    execute "${create[@]}"
  fi
}

remove_named() {  # remove_named NAME DELETE...: DELETE the one `lookup NAME` found, if any
  local name=$1
  shift
  local pat="\${$name}"
  render "$@"
  say "if [ -n \"\${$name}\" ]; then $LINE; fi"
  ((DRY_RUN)) && return 0
  [[ -n ${CAPTURED[$name]} ]] && execute "${@//"$pat"/${CAPTURED[$name]}}"
  return 0
}

sync_secret() {  # sync_secret SECRET SOURCE...: add a secret version only when the value changed
  local secret=$1
  shift
  local read_current=(gcloud secrets versions access latest "--secret=$secret" "--project=${S[PROJECT_ID]}")
  local add=(gcloud secrets versions add "$secret" "--project=${S[PROJECT_ID]}" --data-file=-)
  local a b c
  render "$@"; a=$LINE
  render "${read_current[@]}"; b=$LINE
  render "${add[@]}"; c=$LINE
  note "secret $secret: read the current and the new value; add a version only if they differ (never printed)"
  say "$b"
  say "$a | $c"
  ((DRY_RUN)) && return 0
  local value current=""
  current=$("${read_current[@]}" 2>/dev/null) || current=""
  value=$("$@") || { printf 'deploy.sh: failed: %s\n' "$a" >&2; exit 1; }
  [[ -n $value ]] || { printf 'deploy.sh: empty value from: %s\n' "$a" >&2; exit 1; }
  if [[ $current != "$value" ]]; then
    printf '%s' "$value" | execute "${add[@]}"
  fi
}

# ------------------------------------------------------------------------------------------------
# The plan
# ------------------------------------------------------------------------------------------------
derive_names() {
  P=${S[PROJECT_ID]}
  R=${S[REGION]}
  local prefix=${S[SERVICE_ACCOUNT_PREFIX]}
  SA_DOMAIN="${P}.iam.gserviceaccount.com"
  if [[ $P == *:* ]]; then  # domain-scoped project ids: example.com:proj -> proj.example.com
    SA_DOMAIN="${P#*:}.${P%%:*}.iam.gserviceaccount.com"
  fi
  SA_IDS=("$prefix-notifier" "$prefix-cleanup" "$prefix-notifier-trigger" "$prefix-cleanup-trigger" "$prefix-build")
  NOTIFIER_SA="$prefix-notifier@$SA_DOMAIN"
  CLEANUP_SA="$prefix-cleanup@$SA_DOMAIN"
  NOTIFIER_TRIGGER_SA="$prefix-notifier-trigger@$SA_DOMAIN"
  CLEANUP_TRIGGER_SA="$prefix-cleanup-trigger@$SA_DOMAIN"
  BUILD_SA="$prefix-build@$SA_DOMAIN"
  DEAD_LETTER_TOPIC_PATH="projects/$P/topics/${S[DEAD_LETTER_TOPIC]}"
  METRIC_NOTIFIER="${S[METRIC_PREFIX]}_notifier_outcomes"
  METRIC_CLEANUP="${S[METRIC_PREFIX]}_cleanup_outcomes"
  # Dashboard and alert policies: data files in deploy/monitoring/, found again by display name.
  MONITORING_NAME="BYOK ${S[NOTIFIER_NAME]}"
  POLICIES=("POLICY_RETRIES alert-retries" "POLICY_DEAD_LETTERS alert-dead-letters" "POLICY_NO_SENT alert-no-sent"
            "POLICY_MANGLED_KEYS alert-mangled-keys" "POLICY_HELD alert-held")
  PUBLISHER_SAS=()
  [[ -n ${S[PUBLISHERS]} ]] && IFS=, read -r -a PUBLISHER_SAS <<<"${S[PUBLISHERS]}"
  REDIS_MANAGED=0
  [[ ${S[REDIS_MODE]} == create ]] && REDIS_MANAGED=1
  CONNECTOR_MANAGED=0
  [[ ${S[NETWORK_MODE]} == connector && -n ${S[VPC_CONNECTOR_RANGE]} ]] && CONNECTOR_MANAGED=1
  # Project roles, as "service-account-email role"; nothing broader than each function needs.
  PROJECT_ROLES=(
    "$NOTIFIER_SA roles/datastore.user"                   # read device tokens, mark dead ones
    "$NOTIFIER_SA roles/firebasecloudmessaging.admin"     # narrowest role with cloudmessaging.messages.create
    "$CLEANUP_SA roles/datastore.user"                    # read and delete marked token documents
    "$CLEANUP_TRIGGER_SA roles/eventarc.eventReceiver"    # receive Firestore events via Eventarc
    "$BUILD_SA roles/logging.logWriter"                   # build logs
    "$BUILD_SA roles/artifactregistry.writer"             # push the built image
    "$BUILD_SA roles/storage.objectViewer"                # read the uploaded source
  )
  [[ ${S[EMAIL_SOURCE]} == auth ]] &&
    PROJECT_ROLES+=("$NOTIFIER_SA roles/firebaseauth.viewer")  # EMAIL_SOURCE=auth: read users' verified addresses
  SECRETS=()
  [[ -n ${S[REDIS_AUTH_SECRET]} ]] && SECRETS+=("${S[REDIS_AUTH_SECRET]}")
  [[ -n ${S[REDIS_CA_SECRET]} ]] && SECRETS+=("${S[REDIS_CA_SECRET]}")
  return 0
}

apis() {
  local list=(cloudfunctions.googleapis.com cloudbuild.googleapis.com run.googleapis.com eventarc.googleapis.com
    pubsub.googleapis.com firestore.googleapis.com artifactregistry.googleapis.com secretmanager.googleapis.com
    logging.googleapis.com monitoring.googleapis.com iam.googleapis.com fcm.googleapis.com)
  case ${S[NETWORK_MODE]} in
    connector) list+=(vpcaccess.googleapis.com compute.googleapis.com) ;;
    direct) list+=(compute.googleapis.com) ;;
  esac
  [[ ${S[REDIS_MODE]} != url ]] && list+=(redis.googleapis.com)
  printf '%s\n' "${list[@]}"
}

write_metric_configs() {
  # Log-based counters on the functions' one-line JSON logs (2nd gen logs are cloud_run_revision,
  # service_name = the function name). Written to files because labels need --config-from-file.
  local filter_base='resource.type="cloud_run_revision" AND resource.labels.service_name="%s" AND jsonPayload.outcome:*'
  # shellcheck disable=SC2059
  cat >"$WORK_DIR/$METRIC_NOTIFIER.yaml" <<EOF
name: $METRIC_NOTIFIER
description: Events handled by the ${S[NOTIFIER_NAME]} function, by outcome (sent, suppressed, not_actionable, key_malformed, key_misdirected, superseded_key, misrouted_key, held, invalid_event, expired, no_targets, retry, failed), provider and reason.
filter: '$(printf "$filter_base" "${S[NOTIFIER_NAME]}")'
metricDescriptor:
  metricKind: DELTA
  valueType: INT64
  unit: '1'
  labels:
  - key: outcome
    valueType: STRING
    description: What the notifier did with the event.
  - key: provider
    valueType: STRING
    description: LLM provider slug (openai, anthropic, ...).
  - key: reason
    valueType: STRING
    description: invalid_key, permission_denied, quota_exhausted, or empty.
  - key: cause
    valueType: STRING
    description: Why a retry was asked for (redis_unavailable, firestore_unavailable, fcm_transient, ...), or empty.
labelExtractors:
  outcome: EXTRACT(jsonPayload.outcome)
  provider: EXTRACT(jsonPayload.provider)
  reason: EXTRACT(jsonPayload.reason)
  cause: EXTRACT(jsonPayload.cause)
EOF
  # shellcheck disable=SC2059
  cat >"$WORK_DIR/$METRIC_CLEANUP.yaml" <<EOF
name: $METRIC_CLEANUP
description: Token documents handled by the ${S[CLEANUP_NAME]} function, by outcome (deleted, kept_reregistered, ignored, invalid_event).
filter: '$(printf "$filter_base" "${S[CLEANUP_NAME]}")'
metricDescriptor:
  metricKind: DELTA
  valueType: INT64
  unit: '1'
  labels:
  - key: outcome
    valueType: STRING
    description: What the cleanup function did with the token document.
labelExtractors:
  outcome: EXTRACT(jsonPayload.outcome)
EOF
}

write_monitoring_configs() {
  # deploy/monitoring/*.json are templates: @NAME@ words are replaced by this deployment's names
  # (all validated to plain characters, so no JSON escaping is needed).
  local f out text key
  local -A values=([PROJECT_ID]=$P [NOTIFIER_NAME]=${S[NOTIFIER_NAME]} [CLEANUP_NAME]=${S[CLEANUP_NAME]}
    [METRIC_NOTIFIER]=$METRIC_NOTIFIER [METRIC_CLEANUP]=$METRIC_CLEANUP [PREFIX]=$MONITORING_NAME
    [DASHBOARD_NAME]="$MONITORING_NAME: notifier" [DEAD_LETTER_SUBSCRIPTION]=${S[DEAD_LETTER_SUBSCRIPTION]}
    [MAX_DELIVERY_ATTEMPTS]=${S[MAX_DELIVERY_ATTEMPTS]} [DEAD_LETTER_RETENTION_DAYS]=${S[DEAD_LETTER_RETENTION_DAYS]})
  for f in "$ROOT"/deploy/monitoring/*.json; do
    out="$WORK_DIR/monitoring-$(basename "$f")"
    text=$(<"$f")
    for key in "${!values[@]}"; do
      text=${text//"@$key@"/${values[$key]}}
    done
    [[ $text =~ @[A-Z_]+@ ]] && die "$f: unknown placeholder ${BASH_REMATCH[0]}"
    printf '%s\n' "$text" >"$out"
  done
}

display_filter() {  # the gcloud --filter that finds a dashboard or policy by its display name
  REPLY="displayName=\"$1\""
}

plan_monitoring() {
  local p="--project=$P" pair var file channel_create=() channel_update=(--clear-notification-channels)
  note "Cloud Monitoring: dashboard and alert policies (configs in $WORK_DIR), found again by display name"
  write_monitoring_configs
  if [[ -n ${S[ALERT_CHANNEL]} ]]; then
    channel_create=("--notification-channels=${S[ALERT_CHANNEL]}")
    channel_update=("--set-notification-channels=${S[ALERT_CHANNEL]}")
  else
    note "no ALERT_CHANNEL: the alert policies open incidents in the console but notify nobody"
  fi
  display_filter "$MONITORING_NAME: notifier"
  lookup DASHBOARD gcloud monitoring dashboards list "$p" "--filter=$REPLY" '--format=value(name)' --limit=1
  # shellcheck disable=SC2016 # '${DASHBOARD}' is the placeholder upsert_named fills in
  upsert_named DASHBOARD gcloud monitoring dashboards update '${DASHBOARD}' \
    "--config-from-file=$WORK_DIR/monitoring-dashboard.json" "$p" -- \
    gcloud monitoring dashboards create "--config-from-file=$WORK_DIR/monitoring-dashboard.json" "$p"
  for pair in "${POLICIES[@]}"; do
    var=${pair% *} file="$WORK_DIR/monitoring-${pair#* }.json"
    display_filter "$(policy_name "${pair#* }")"
    lookup "$var" gcloud alpha monitoring policies list "$p" "--filter=$REPLY" '--format=value(name)' --limit=1
    upsert_named "$var" gcloud alpha monitoring policies update "\${$var}" "--policy-from-file=$file" \
      "${channel_update[@]}" "$p" -- \
      gcloud alpha monitoring policies create "--policy-from-file=$file" "${channel_create[@]}" "$p"
  done
}

policy_name() {  # the display name in a policy template, as written for this deployment
  local text
  text=$(<"$WORK_DIR/monitoring-$1.json")
  [[ $text =~ \"displayName\":\ \"([^\"]+)\" ]] || die "deploy/monitoring/$1.json has no displayName"
  printf '%s' "${BASH_REMATCH[1]}"
}

plan_deploy() {
  local p="--project=$P" id pair api_list=()
  note "APIs"
  mapfile -t api_list < <(apis)
  run gcloud services enable "${api_list[@]}" "$p"
  capture PROJECT_NUMBER gcloud projects describe "$P" '--format=value(projectNumber)'
  local pubsub_agent="serviceAccount:service-${CAPTURED[PROJECT_NUMBER]}@gcp-sa-pubsub.iam.gserviceaccount.com"

  note "service accounts: one identity per function, one per trigger, one for builds"
  for id in "${SA_IDS[@]}"; do
    ensure gcloud iam service-accounts describe "$id@$SA_DOMAIN" "$p" -- \
      gcloud iam service-accounts create "$id" "$p" "--display-name=BYOK notifier: $id"
  done
  for pair in "${PROJECT_ROLES[@]}"; do
    run_retry gcloud projects add-iam-policy-binding "$P" "--member=serviceAccount:${pair% *}" "--role=${pair#* }" \
      --condition=None --quiet
  done
  # Eventarc's Pub/Sub push authenticates as the notifier's trigger account; the Pub/Sub service
  # agent mints its tokens (granted by default only on projects created after April 2021).
  run_retry gcloud iam service-accounts add-iam-policy-binding "$NOTIFIER_TRIGGER_SA" "$p" \
    "--member=$pubsub_agent" --role=roles/iam.serviceAccountTokenCreator --condition=None --quiet

  note "Pub/Sub: the events topic, and dead letters kept for ${S[DEAD_LETTER_RETENTION_DAYS]} days"
  ensure gcloud pubsub topics describe "${S[TOPIC]}" "$p" -- gcloud pubsub topics create "${S[TOPIC]}" "$p"
  local publisher
  for publisher in "${PUBLISHER_SAS[@]}"; do  # who may publish: on this topic only, never project-wide
    run_retry gcloud pubsub topics add-iam-policy-binding "${S[TOPIC]}" "$p" "--member=serviceAccount:$publisher" \
      --role=roles/pubsub.publisher
  done
  ensure gcloud pubsub topics describe "${S[DEAD_LETTER_TOPIC]}" "$p" -- \
    gcloud pubsub topics create "${S[DEAD_LETTER_TOPIC]}" "$p"
  ensure gcloud pubsub subscriptions describe "${S[DEAD_LETTER_SUBSCRIPTION]}" "$p" -- \
    gcloud pubsub subscriptions create "${S[DEAD_LETTER_SUBSCRIPTION]}" "$p" "--topic=${S[DEAD_LETTER_TOPIC]}" \
    "--message-retention-duration=${S[DEAD_LETTER_RETENTION_DAYS]}d" --expiration-period=never
  run gcloud pubsub subscriptions update "${S[DEAD_LETTER_SUBSCRIPTION]}" "$p" \
    "--message-retention-duration=${S[DEAD_LETTER_RETENTION_DAYS]}d" --expiration-period=never
  run_retry gcloud pubsub topics add-iam-policy-binding "${S[DEAD_LETTER_TOPIC]}" "$p" \
    "--member=$pubsub_agent" --role=roles/pubsub.publisher

  note "network path to Redis (${S[NETWORK_MODE]})"
  if [[ ${S[NETWORK_MODE]} == connector ]]; then
    if ((CONNECTOR_MANAGED)); then
      ensure gcloud compute networks vpc-access connectors describe "${S[VPC_CONNECTOR]}" "--region=$R" "$p" -- \
        gcloud compute networks vpc-access connectors create "${S[VPC_CONNECTOR]}" "--region=$R" "$p" \
        "--network=${S[VPC_NETWORK]}" "--range=${S[VPC_CONNECTOR_RANGE]}" \
        "--min-instances=${S[VPC_CONNECTOR_MIN_INSTANCES]}" "--max-instances=${S[VPC_CONNECTOR_MAX_INSTANCES]}" \
        "--machine-type=${S[VPC_CONNECTOR_MACHINE_TYPE]}"
    else
      run gcloud compute networks vpc-access connectors describe "${S[VPC_CONNECTOR]}" "--region=$R" "$p" \
        '--format=value(name)'
    fi
  else
    run gcloud compute networks subnets describe "${S[VPC_SUBNET]}" "--region=$R" "$p" '--format=value(name)'
  fi

  note "Redis (${S[REDIS_MODE]})"
  local redis_url
  if [[ ${S[REDIS_MODE]} == url ]]; then
    redis_url=${S[EXISTING_REDIS_URL]}
    for id in "${SECRETS[@]}"; do
      run gcloud secrets describe "$id" "$p" '--format=value(name)'
    done
  else
    local inst=("${S[REDIS_INSTANCE]}" "--region=$R" "$p")
    if ((REDIS_MANAGED)); then
      local create=(gcloud redis instances create "${inst[@]}" "--tier=${S[REDIS_TIER]}" "--size=${S[REDIS_SIZE_GB]}"
        "--redis-version=${S[REDIS_VERSION]}" "--network=projects/$P/global/networks/${S[VPC_NETWORK]}")
      [[ ${S[REDIS_AUTH]} == true ]] && create+=(--enable-auth)
      [[ ${S[REDIS_TLS]} == true ]] && create+=(--transit-encryption-mode=server-authentication)
      ensure gcloud redis instances describe "${inst[@]}" -- "${create[@]}"
    fi
    capture REDIS_ADDRESS gcloud redis instances describe "${inst[@]}" '--format=value[separator=":"](host,port)'
    local scheme=redis
    [[ ${S[REDIS_TLS]} == true ]] && scheme=rediss
    redis_url="$scheme://${CAPTURED[REDIS_ADDRESS]}/0"
    for id in "${SECRETS[@]}"; do
      ensure gcloud secrets describe "$id" "$p" -- gcloud secrets create "$id" "$p" --replication-policy=automatic
    done
    if [[ ${S[REDIS_AUTH]} == true ]]; then
      sync_secret "${S[REDIS_AUTH_SECRET]}" gcloud redis instances get-auth-string "${inst[@]}" '--format=value(authString)'
    fi
    if [[ ${S[REDIS_TLS]} == true ]]; then
      sync_secret "${S[REDIS_CA_SECRET]}" gcloud redis instances describe "${inst[@]}" \
        '--format=value(serverCaCerts[].cert.list(separator=""))'
    fi
  fi
  for id in "${SECRETS[@]}"; do
    run_retry gcloud secrets add-iam-policy-binding "$id" "$p" "--member=serviceAccount:$NOTIFIER_SA" \
      --role=roles/secretmanager.secretAccessor --condition=None
  done

  note "notifier: Pub/Sub trigger with retries, internal ingress only, not publicly invokable"
  local env_vars="GOOGLE_CLOUD_PROJECT=$P,REDIS_URL=$redis_url" n secrets=()
  for n in "${RUNTIME_SETTINGS[@]}"; do
    [[ -n ${S[$n]} ]] && env_vars+=",$n=${S[$n]}"
  done
  [[ -n ${S[REDIS_AUTH_SECRET]} ]] && secrets+=("REDIS_PASSWORD=${S[REDIS_AUTH_SECRET]}:latest")
  if [[ -n ${S[REDIS_CA_SECRET]} ]]; then
    env_vars+=",REDIS_CA_CERT=$CA_MOUNT_PATH"
    secrets+=("$CA_MOUNT_PATH=${S[REDIS_CA_SECRET]}:latest")
  fi
  local common=("--region=$R" "$p" --gen2 --runtime=python312 "--source=$ROOT" --ingress-settings=internal-only
    --no-allow-unauthenticated --retry "--build-service-account=projects/$P/serviceAccounts/$BUILD_SA" --quiet)
  local notifier=(gcloud functions deploy "${S[NOTIFIER_NAME]}" "${common[@]}"
    "--entry-point=$NOTIFIER_ENTRY_POINT" "--trigger-topic=${S[TOPIC]}"
    "--service-account=$NOTIFIER_SA" "--trigger-service-account=$NOTIFIER_TRIGGER_SA"
    "--memory=${S[NOTIFIER_MEMORY]}" "--cpu=${S[NOTIFIER_CPU]}" "--concurrency=${S[NOTIFIER_CONCURRENCY]}"
    "--timeout=${S[NOTIFIER_TIMEOUT_SECONDS]}s" "--min-instances=${S[NOTIFIER_MIN_INSTANCES]}"
    "--max-instances=${S[NOTIFIER_MAX_INSTANCES]}" "--set-env-vars=$env_vars")
  if ((${#secrets[@]})); then
    local joined
    joined=$(IFS=,; printf '%s' "${secrets[*]}")
    notifier+=("--set-secrets=$joined")
  else
    notifier+=(--clear-secrets)
  fi
  if [[ ${S[NETWORK_MODE]} == connector ]]; then
    notifier+=("--vpc-connector=projects/$P/locations/$R/connectors/${S[VPC_CONNECTOR]}"
      "--egress-settings=${S[VPC_EGRESS]}")
  else
    notifier+=("--network=${S[VPC_NETWORK]}" "--subnet=${S[VPC_SUBNET]}" "--direct-vpc-egress=${S[VPC_EGRESS]}")
  fi
  run "${notifier[@]}"
  run_retry gcloud functions add-invoker-policy-binding "${S[NOTIFIER_NAME]}" "--region=$R" "$p" \
    "--member=serviceAccount:$NOTIFIER_TRIGGER_SA"
  if [[ ${S[NETWORK_MODE]} == direct ]]; then
    # Documented requirement of Direct VPC egress for functions: the runtime identity holds
    # run.invoker, granted here on its own service only.
    run_retry gcloud functions add-invoker-policy-binding "${S[NOTIFIER_NAME]}" "--region=$R" "$p" \
      "--member=serviceAccount:$NOTIFIER_SA"
  fi

  note "dead-lettering and backoff on the subscription Eventarc made for the notifier"
  capture TRIGGER gcloud functions describe "${S[NOTIFIER_NAME]}" "--region=$R" "$p" '--format=value(eventTrigger.trigger)'
  capture SUBSCRIPTION gcloud eventarc triggers describe "${CAPTURED[TRIGGER]}" \
    '--format=value(transport.pubsub.subscription)'
  run_retry gcloud pubsub subscriptions add-iam-policy-binding "${CAPTURED[SUBSCRIPTION]}" \
    "--member=$pubsub_agent" --role=roles/pubsub.subscriber
  run gcloud pubsub subscriptions update "${CAPTURED[SUBSCRIPTION]}" \
    "--dead-letter-topic=$DEAD_LETTER_TOPIC_PATH" "--max-delivery-attempts=${S[MAX_DELIVERY_ATTEMPTS]}" \
    "--min-retry-delay=${S[MIN_RETRY_DELAY_SECONDS]}s" "--max-retry-delay=${S[MAX_RETRY_DELAY_SECONDS]}s"

  note "cleanup: Firestore trigger on $TOKEN_DOCUMENT, with retries"
  if [[ -z ${S[FIRESTORE_LOCATION]} ]]; then
    capture FIRESTORE_LOCATION gcloud firestore databases describe "--database=${S[FIRESTORE_DATABASE]}" "$p" \
      '--format=value(locationId)'
    S[FIRESTORE_LOCATION]=${CAPTURED[FIRESTORE_LOCATION]}
  fi
  local cleanup_env="GOOGLE_CLOUD_PROJECT=$P"
  [[ -n ${S[FIRESTORE_TIMEOUT_SECONDS]} ]] && cleanup_env+=",FIRESTORE_TIMEOUT_SECONDS=${S[FIRESTORE_TIMEOUT_SECONDS]}"
  run gcloud functions deploy "${S[CLEANUP_NAME]}" "${common[@]}" \
    "--entry-point=$CLEANUP_ENTRY_POINT" "--trigger-event-filters=type=$FIRESTORE_EVENT" \
    "--trigger-event-filters=database=${S[FIRESTORE_DATABASE]}" \
    "--trigger-event-filters-path-pattern=document=$TOKEN_DOCUMENT" \
    "--trigger-location=${S[FIRESTORE_LOCATION]}" \
    "--service-account=$CLEANUP_SA" "--trigger-service-account=$CLEANUP_TRIGGER_SA" \
    "--memory=${S[CLEANUP_MEMORY]}" "--timeout=${S[CLEANUP_TIMEOUT_SECONDS]}s" \
    "--min-instances=${S[CLEANUP_MIN_INSTANCES]}" "--max-instances=${S[CLEANUP_MAX_INSTANCES]}" \
    "--set-env-vars=$cleanup_env"
  run_retry gcloud functions add-invoker-policy-binding "${S[CLEANUP_NAME]}" "--region=$R" "$p" \
    "--member=serviceAccount:$CLEANUP_TRIGGER_SA"

  note "log-based metrics (configs in $WORK_DIR)"
  write_metric_configs
  local m
  for m in "$METRIC_NOTIFIER" "$METRIC_CLEANUP"; do
    upsert gcloud logging metrics describe "$m" "$p" -- \
      gcloud logging metrics update "$m" "--config-from-file=$WORK_DIR/$m.yaml" "$p" -- \
      gcloud logging metrics create "$m" "--config-from-file=$WORK_DIR/$m.yaml" "$p"
  done

  plan_monitoring
}

plan_destroy() {
  local p="--project=$P" id pair m var
  note "Cloud Monitoring: the dashboard and alert policies, found by display name"
  write_monitoring_configs
  display_filter "$MONITORING_NAME: notifier"
  lookup DASHBOARD gcloud monitoring dashboards list "$p" "--filter=$REPLY" '--format=value(name)' --limit=1
  # shellcheck disable=SC2016 # '${DASHBOARD}' is the placeholder remove_named fills in
  remove_named DASHBOARD gcloud monitoring dashboards delete '${DASHBOARD}' "$p" --quiet
  for pair in "${POLICIES[@]}"; do
    var=${pair% *}
    display_filter "$(policy_name "${pair#* }")"
    lookup "$var" gcloud alpha monitoring policies list "$p" "--filter=$REPLY" '--format=value(name)' --limit=1
    remove_named "$var" gcloud alpha monitoring policies delete "\${$var}" "$p" --quiet
  done
  note "functions (their Eventarc triggers and trigger subscriptions go with them)"
  for id in "${S[NOTIFIER_NAME]}" "${S[CLEANUP_NAME]}"; do
    remove gcloud functions describe "$id" "--region=$R" "$p" -- \
      gcloud functions delete "$id" "--region=$R" "$p" --quiet
  done
  note "log-based metrics"
  for m in "$METRIC_NOTIFIER" "$METRIC_CLEANUP"; do
    remove gcloud logging metrics describe "$m" "$p" -- gcloud logging metrics delete "$m" "$p" --quiet
  done
  note "Pub/Sub (undelivered events and dead letters are lost); the publishers' grants first"
  for id in "${PUBLISHER_SAS[@]}"; do
    attempt gcloud pubsub topics remove-iam-policy-binding "${S[TOPIC]}" "$p" "--member=serviceAccount:$id" \
      --role=roles/pubsub.publisher
  done
  remove gcloud pubsub subscriptions describe "${S[DEAD_LETTER_SUBSCRIPTION]}" "$p" -- \
    gcloud pubsub subscriptions delete "${S[DEAD_LETTER_SUBSCRIPTION]}" "$p" --quiet
  for id in "${S[DEAD_LETTER_TOPIC]}" "${S[TOPIC]}"; do
    remove gcloud pubsub topics describe "$id" "$p" -- gcloud pubsub topics delete "$id" "$p" --quiet
  done
  if [[ ${S[REDIS_MODE]} != url ]]; then
    note "secrets this script manages"
    for id in "${SECRETS[@]}"; do
      remove gcloud secrets describe "$id" "$p" -- gcloud secrets delete "$id" "$p" --quiet
    done
  else
    note "secrets in url mode are yours: left in place"
  fi
  if ((REDIS_MANAGED)); then
    note "the Memorystore instance this script created (its data is lost)"
    remove gcloud redis instances describe "${S[REDIS_INSTANCE]}" "--region=$R" "$p" -- \
      gcloud redis instances delete "${S[REDIS_INSTANCE]}" "--region=$R" "$p" --quiet
  fi
  if ((CONNECTOR_MANAGED)); then
    note "the VPC connector this script created"
    remove gcloud compute networks vpc-access connectors describe "${S[VPC_CONNECTOR]}" "--region=$R" "$p" -- \
      gcloud compute networks vpc-access connectors delete "${S[VPC_CONNECTOR]}" "--region=$R" "$p" --quiet
  fi
  note "project roles, then the service accounts (APIs stay enabled)"
  for pair in "${PROJECT_ROLES[@]}"; do
    attempt gcloud projects remove-iam-policy-binding "$P" "--member=serviceAccount:${pair% *}" \
      "--role=${pair#* }" --condition=None --quiet
  done
  for id in "${SA_IDS[@]}"; do
    remove gcloud iam service-accounts describe "$id@$SA_DOMAIN" "$p" -- \
      gcloud iam service-accounts delete "$id@$SA_DOMAIN" "$p" --quiet
  done
}

# ------------------------------------------------------------------------------------------------
# Preflight (real runs only) and main
# ------------------------------------------------------------------------------------------------
preflight() {
  command -v gcloud >/dev/null 2>&1 || die "gcloud not found: https://cloud.google.com/sdk/docs/install"
  local f
  for f in main.py requirements.txt functions .gcloudignore deploy/monitoring; do
    [[ -e $ROOT/$f ]] || die "$ROOT/$f is missing: run deploy.sh from a full checkout"
  done
  gcloud alpha monitoring policies --help >/dev/null 2>&1 ||
    die "the alert policies need gcloud's alpha commands: gcloud components install alpha"
  if [[ ${S[NETWORK_MODE]} == direct && $DESTROY == 0 ]] &&
    ! gcloud functions deploy --help 2>/dev/null | grep -q -- '--direct-vpc-egress'; then
    die "NETWORK_MODE=direct needs a gcloud whose 'functions deploy' has --direct-vpc-egress (545.0.0 or newer): gcloud components update"
  fi
}

confirm_destroy() {
  ((DRY_RUN || ASSUME_YES)) && return 0
  if [[ ! -t 0 ]]; then
    die "--destroy asks for confirmation on a terminal; pass --yes to skip it"
  fi
  local answer
  printf 'This deletes the functions, topics, metrics, service accounts%s%s of project %s.\n' \
    "$( ((REDIS_MANAGED)) && printf ', the Memorystore instance %s' "${S[REDIS_INSTANCE]}")" \
    "$( ((CONNECTOR_MANAGED)) && printf ', the connector %s' "${S[VPC_CONNECTOR]}")" "$P" >&2
  read -r -p "Type the project id to confirm: " answer
  [[ $answer == "$P" ]] || die "not confirmed; nothing was deleted"
}

main() {
  parse_args "$@"
  load_settings
  validate
  derive_names
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/byok-deploy.XXXXXX")
  # A dry run keeps the metric configs it names so its printed commands stay runnable.
  ((DRY_RUN)) || trap 'rm -rf "$WORK_DIR"' EXIT
  if ((DESTROY)); then
    confirm_destroy
  fi
  ((DRY_RUN)) || preflight
  if ((DRY_RUN)); then
    note "deploy.sh --dry-run: project $P, region $R, network ${S[NETWORK_MODE]}, redis ${S[REDIS_MODE]}$( ((DESTROY)) && printf ', DESTROY')"
  fi
  if ((DESTROY)); then
    plan_destroy
  else
    cd "$ROOT"
    plan_deploy
  fi
  ((DRY_RUN)) || note "done"
}

main "$@"
