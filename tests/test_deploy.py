"""deploy.sh: its dry-run commands are accepted by the real gcloud CLI, a real run executes exactly
the dry-run list, reruns create nothing twice, and bad settings are refused before anything runs.

No Google Cloud project is reachable from the tests. The real gcloud CLI still parses every argument
before it asks for an account, so each dry-run command is run with an empty CLOUDSDK_CONFIG and must
fail only with "no active account". For a real run, a stand-in `gcloud` on PATH (the only thing that
can play a Google Cloud project here) records what deploy.sh executes and answers describe calls as
an empty project or as one where everything already exists.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy.sh"
NO_ACCOUNT = "You do not currently have an active account selected"
PARSE_ERRORS = ("unrecognized arguments", "Invalid value", "is required", "argument ", "invalid choice",
                "Bad syntax", "expected one argument", "Unable to read file", "Missing required argument")

BASE = ["--project-id=demo-byok-123"]
PUBLISHERS = ["app-backend@demo-byok-123.iam.gserviceaccount.com", "batch@other-proj-42.iam.gserviceaccount.com"]
CHANNEL = "projects/demo-byok-123/notificationChannels/1234567890"
SCENARIOS = {
    "connector+create": BASE + ["--network-mode=connector", "--redis-mode=create",
                                "--vpc-connector-range=10.8.0.0/28", f"--publishers={','.join(PUBLISHERS)}",
                                f"--alert-channel={CHANNEL}"],
    "direct+instance": BASE + ["--network-mode=direct", "--vpc-subnet=functions", "--redis-mode=instance",
                               "--redis-auth=false", "--firestore-location=nam5", "--region=europe-west1",
                               "--dedup-window-seconds=43200", "--fcm-timeout-seconds=8",
                               "--notifier-min-instances=1"],
    "connector+url": BASE + ["--network-mode=connector", "--redis-mode=url",
                             "--existing-redis-url=rediss://10.1.2.3:6378/0", "--redis-auth-secret=app-redis-auth",
                             "--redis-ca-secret=app-redis-ca", "--firestore-database=tokens-db"],
    "connector+url-plain": BASE + ["--network-mode=connector", "--redis-mode=url",
                                   "--existing-redis-url=redis://10.1.2.3:6379/0"],
    "destroy:connector+create": BASE + ["--network-mode=connector", "--redis-mode=create",
                                        "--vpc-connector-range=10.8.0.0/28", f"--publishers={','.join(PUBLISHERS)}",
                                        "--destroy", "--yes"],
    "destroy:direct+url": BASE + ["--network-mode=direct", "--vpc-subnet=functions", "--redis-mode=url",
                                  "--existing-redis-url=redis://10.1.2.3:6379/0", "--destroy"],
}

# What the stand-in gcloud answers for values deploy.sh reads at run time (and the dry run names ${NAME}).
RUNTIME_VALUES = {
    "PROJECT_NUMBER": "123456789012",
    "REDIS_ADDRESS": "10.0.0.3:6378",
    "TRIGGER": "projects/demo-byok-123/locations/us-central1/triggers/notify-byok-llm-error-123456",
    "SUBSCRIPTION": "projects/demo-byok-123/subscriptions/eventarc-us-central1-notify-byok-llm-error-123456-sub-789",
    "FIRESTORE_LOCATION": "nam5",
    # found by display name (an empty answer in an empty project)
    "DASHBOARD": "projects/123456789012/dashboards/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "POLICY_RETRIES": "projects/demo-byok-123/alertPolicies/111",
    "POLICY_DEAD_LETTERS": "projects/demo-byok-123/alertPolicies/222",
    "POLICY_NO_SENT": "projects/demo-byok-123/alertPolicies/333",
    "POLICY_MANGLED_KEYS": "projects/demo-byok-123/alertPolicies/444",
    "POLICY_HELD": "projects/demo-byok-123/alertPolicies/555",
}
# which lookup a `list --filter=displayName=...` call is, by a word of the display name
LOOKUPS = {"notifier\"": "DASHBOARD", "retried": "POLICY_RETRIES", "dead-letter": "POLICY_DEAD_LETTERS",
           "no push": "POLICY_NO_SENT", "mangled": "POLICY_MANGLED_KEYS",
           "held": "POLICY_HELD"}
FAKE_AUTH = "fake-auth-string-0000"
FAKE_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----"


# ------------------------------------------------------------------------------------------------
# Running deploy.sh and reading its plan
# ------------------------------------------------------------------------------------------------
def run_deploy(args: list[str], tmp: Path, env: dict[str, str] | None = None,
               path_prefix: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """deploy.sh in a clean environment: no stray settings from the caller, an empty settings file."""
    empty = tmp / "empty.env"
    empty.touch()
    path = os.environ["PATH"]
    if path_prefix is not None:
        path = f"{path_prefix}{os.pathsep}{path}"
    full_env = {"PATH": path, "HOME": str(tmp), "TMPDIR": str(tmp), "LANG": "C.UTF-8"}
    full_env.update(env or {})
    if not any(a.startswith("--env-file") for a in args):
        args = [f"--env-file={empty}"] + args
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=tmp, env=full_env, text=True,
                          capture_output=True, input=stdin if stdin is not None else "", timeout=120)


def plan_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip() and not line.startswith("#")]


CAPTURE = re.compile(r"^([A-Z_]+)=\$\((.*)\)$")


def parse_line(line: str) -> tuple[str, list[list[str]]]:
    """One printed plan line -> (shape, gcloud commands in it)."""
    m = CAPTURE.match(line)
    if m:
        return "capture", [shlex.split(m.group(2))]
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";|&")
    lexer.whitespace_split = True
    tokens = list(lexer)
    commands: list[list[str]] = [[]]
    shape: list[str] = []
    for tok in tokens:
        if tok in (";", "||", "|", "&&"):
            shape.append(tok)
            commands.append([])
        elif tok in ("if", "then", "else", "fi") and not commands[-1]:
            shape.append(tok)
        else:
            commands[-1].append(tok)
    commands = [c for c in commands if c]
    shape_s = " ".join(shape)
    if commands and commands[-1] == ["true"]:
        return "attempt", commands[:-1]
    if commands and commands[0][0] == "[":  # if [ -n "${NAME}" ]: decided on a value looked up by name
        assert commands[0][1] == "-n" and commands[0][3] == "]", line
        kind = {"if ; then ; else ; fi": "upsert_named", "if ; then ; fi": "remove_named"}[shape_s]
        return kind, [["lookup", commands[0][2]]] + commands[1:]
    kind = {"": "run", "||": "ensure", "|": "pipe", "if ; then ; else ; fi": "upsert",
            "if ; then ; fi": "remove"}.get(shape_s)
    assert kind, f"unexpected line shape {shape_s!r}: {line}"
    return kind, commands


def substitute(cmd: list[str]) -> list[str]:
    out = []
    for word in cmd:
        for name, value in RUNTIME_VALUES.items():
            word = word.replace("${%s}" % name, value)
        assert "${" not in word, f"unresolved placeholder in {word!r}"
        out.append(word)
    return out


@lru_cache(maxsize=None)
def dry_run(name: str, tmp: str) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    result = run_deploy(SCENARIOS[name] + ["--dry-run"], Path(tmp))
    assert result.returncode == 0, result.stderr
    plan = []
    for line in plan_lines(result.stdout):
        kind, commands = parse_line(line)
        plan.append((kind, tuple(tuple(substitute(c)) for c in commands)))
    return tuple(plan)


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, tuple]:
    """Each scenario's dry-run plan (the metric config files it names stay in this directory)."""
    tmp = tmp_path_factory.mktemp("dry-run")
    return {name: dry_run(name, str(tmp)) for name in SCENARIOS}


# ------------------------------------------------------------------------------------------------
# The real gcloud CLI, offline
# ------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def gcloud_knows_direct_vpc() -> bool:
    out = subprocess.run(["gcloud", "functions", "deploy", "--help"], capture_output=True, text=True,
                         env=_offline_env(_empty_config()), timeout=120).stdout
    return "--direct-vpc-egress" in out


DIRECT_VPC_FLAGS = ("--network=", "--subnet=", "--direct-vpc-egress=")


@lru_cache(maxsize=1)
def _empty_config() -> str:
    import atexit
    import tempfile
    path = tempfile.mkdtemp(prefix="gcloud-empty-config-")
    atexit.register(shutil.rmtree, path, True)
    return path


def _offline_env(config_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDSDK_", "GOOGLE_", "GCLOUD_")) and k != "CLOUDSDK_CONFIG"}
    env["CLOUDSDK_CONFIG"] = config_dir
    env["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1"
    env["CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK"] = "1"
    return env


def gcloud_offline(cmd: tuple[str, ...]) -> tuple[int, str]:
    """Run one gcloud command with an empty configuration and no account."""
    assert cmd[0] == "gcloud", cmd
    result = subprocess.run(list(cmd), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            env=_offline_env(_empty_config()), timeout=180)
    return result.returncode, result.stderr


def checkable(cmd: tuple[str, ...]) -> tuple[str, ...]:
    """The command as the installed gcloud can check it: Direct VPC flags need gcloud 545+."""
    if cmd[:3] == ("gcloud", "functions", "deploy") and not gcloud_knows_direct_vpc():
        return tuple(w for w in cmd if not w.startswith(DIRECT_VPC_FLAGS))
    return cmd


@pytest.fixture(scope="module")
def gcloud_verdicts(plans) -> dict[tuple[str, ...], tuple[int, str]]:
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed")
    unique = sorted({checkable(c) for plan in plans.values() for _, cmds in plan for c in cmds
                     if c[0] == "gcloud"})
    with ThreadPoolExecutor(max_workers=max(2, min(6, (os.cpu_count() or 2) * 2))) as pool:
        verdicts = dict(zip(unique, pool.map(gcloud_offline, unique)))
    return verdicts


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_dry_run_command_is_valid_gcloud(scenario, plans, gcloud_verdicts):
    bad = []
    for _, cmds in plans[scenario]:
        for cmd in cmds:
            if cmd[0] != "gcloud":
                continue
            rc, err = gcloud_verdicts[checkable(cmd)]
            if rc == 0 or NO_ACCOUNT not in err or any(p in err for p in PARSE_ERRORS):
                bad.append(f"{shlex.join(cmd)}\n    -> rc={rc}: {err.strip()[-400:]}")
    assert not bad, "gcloud rejected:\n" + "\n".join(bad)


def test_direct_vpc_flags_are_known_to_installed_gcloud(plans):
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed")
    if not gcloud_knows_direct_vpc():
        version = subprocess.run(["gcloud", "version"], capture_output=True, text=True,
                                 env=_offline_env(_empty_config())).stdout.splitlines()[0]
        pytest.skip(f"installed gcloud ({version}) predates `functions deploy --network/--subnet/"
                    "--direct-vpc-egress` (545.0.0+); the rest of the direct-mode command is checked")
    deploy = [c for _, cmds in plans["direct+instance"] for c in cmds if c[:3] == ("gcloud", "functions", "deploy")]
    rc, err = gcloud_offline(deploy[0])
    assert NO_ACCOUNT in err and "unrecognized" not in err, err


# ------------------------------------------------------------------------------------------------
# What the plan contains
# ------------------------------------------------------------------------------------------------
def commands_of(plan) -> list[tuple[str, ...]]:
    return [c for _, cmds in plan for c in cmds if c[0] == "gcloud"]


def flag(cmd, name: str) -> str | None:
    for word in cmd:
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def deploy_cmd(plan, name: str) -> tuple[str, ...]:
    found = [c for c in commands_of(plan) if c[:4] == ("gcloud", "functions", "deploy", name)]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if not s.startswith("destroy")])
def test_functions_are_private_internal_retried_and_least_privilege(scenario, plans):
    plan = plans[scenario]
    for name, entry, sa in (("notify-byok-llm-error", "notify_byok_llm_error", "byok-notifier@"),
                            ("cleanup-invalid-fcm-tokens", "cleanup_invalid_fcm_tokens", "byok-cleanup@")):
        cmd = deploy_cmd(plan, name)
        assert "--gen2" in cmd and flag(cmd, "--runtime") == "python312"
        assert flag(cmd, "--entry-point") == entry
        assert flag(cmd, "--ingress-settings") == "internal-only"
        assert "--no-allow-unauthenticated" in cmd and "--allow-unauthenticated" not in cmd
        assert "--retry" in cmd
        assert flag(cmd, "--service-account").startswith(sa)
        assert flag(cmd, "--trigger-service-account").startswith(sa.rstrip("@") + "-trigger@")
        assert "FCM_ENDPOINT" not in " ".join(cmd)
    roles = " ".join(" ".join(c) for c in commands_of(plan) if "add-iam-policy-binding" in c)
    for broad in ("roles/editor", "roles/owner", "roles/viewer", "roles/datastore.owner",
                  "roles/secretmanager.admin", "roles/iam.serviceAccountUser", "roles/run.admin"):
        assert broad not in roles
    # secrets are granted one by one, never project-wide
    assert not [c for c in commands_of(plan) if c[:3] == ("gcloud", "projects", "add-iam-policy-binding")
                and flag(c, "--role") == "roles/secretmanager.secretAccessor"]


def test_notifier_gets_redis_secrets_network_and_tunables(plans):
    create = deploy_cmd(plans["connector+create"], "notify-byok-llm-error")
    env = flag(create, "--set-env-vars")
    assert "REDIS_URL=rediss://10.0.0.3:6378/0" in env and "GOOGLE_CLOUD_PROJECT=demo-byok-123" in env
    assert "REDIS_CA_CERT=/etc/secrets/redis-ca/server-ca.pem" in env
    assert flag(create, "--set-secrets") == ("REDIS_PASSWORD=byok-redis-auth:latest,"
                                             "/etc/secrets/redis-ca/server-ca.pem=byok-redis-ca:latest")
    assert flag(create, "--vpc-connector") == "projects/demo-byok-123/locations/us-central1/connectors/byok-connector"
    redis_create = [c for c in commands_of(plans["connector+create"]) if c[:4] == ("gcloud", "redis", "instances", "create")]
    assert "--enable-auth" in redis_create[0]
    assert "--transit-encryption-mode=server-authentication" in redis_create[0]

    direct = deploy_cmd(plans["direct+instance"], "notify-byok-llm-error")
    env = flag(direct, "--set-env-vars")
    assert "DEDUP_WINDOW_SECONDS=43200" in env and "FCM_TIMEOUT_SECONDS=8" in env
    assert flag(direct, "--set-secrets") == "/etc/secrets/redis-ca/server-ca.pem=byok-redis-ca:latest"
    assert flag(direct, "--network") == "default" and flag(direct, "--subnet") == "functions"
    assert flag(direct, "--direct-vpc-egress") == "private-ranges-only" and flag(direct, "--vpc-connector") is None
    assert flag(direct, "--min-instances") == "1"
    assert not [c for c in commands_of(plans["direct+instance"]) if "create" in c and "redis" in c]

    plain = deploy_cmd(plans["connector+url-plain"], "notify-byok-llm-error")
    assert "--clear-secrets" in plain and "REDIS_CA_CERT" not in flag(plain, "--set-env-vars")


def test_dead_letter_policy_lands_on_the_trigger_subscription(plans):
    cmds = commands_of(plans["connector+create"])
    sub = RUNTIME_VALUES["SUBSCRIPTION"]
    update = [c for c in cmds if c[:4] == ("gcloud", "pubsub", "subscriptions", "update") and c[4] == sub]
    assert update and flag(update[0], "--dead-letter-topic") == "projects/demo-byok-123/topics/byok-llm-errors-dead-letter"
    assert flag(update[0], "--max-delivery-attempts") == "10"
    agent = "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    assert any(c[:4] == ("gcloud", "pubsub", "subscriptions", "add-iam-policy-binding") and c[4] == sub
               and flag(c, "--member") == agent and flag(c, "--role") == "roles/pubsub.subscriber" for c in cmds)
    assert any(c[:4] == ("gcloud", "pubsub", "topics", "add-iam-policy-binding") and flag(c, "--member") == agent
               and flag(c, "--role") == "roles/pubsub.publisher" for c in cmds)


def test_metric_configs_count_outcomes_of_each_function(plans, tmp_path_factory):
    yaml = pytest.importorskip("yaml")
    files = [flag(c, "--config-from-file") for c in commands_of(plans["connector+create"])
             if flag(c, "--config-from-file")]
    configs = {Path(f).stem: yaml.safe_load(Path(f).read_text()) for f in files}
    notifier = configs["byok_notifier_outcomes"]
    assert 'resource.labels.service_name="notify-byok-llm-error"' in notifier["filter"]
    assert 'resource.type="cloud_run_revision"' in notifier["filter"]
    assert set(notifier["labelExtractors"]) == {"outcome", "provider", "reason", "cause"}
    assert notifier["labelExtractors"]["outcome"] == "EXTRACT(jsonPayload.outcome)"
    assert 'service_name="cleanup-invalid-fcm-tokens"' in configs["byok_cleanup_outcomes"]["filter"]


def test_destroy_leaves_what_it_does_not_own(plans):
    owned = " ".join(" ".join(c) for c in commands_of(plans["destroy:connector+create"]))
    assert "redis instances delete byok-redis" in owned
    assert "vpc-access connectors delete byok-connector" in owned
    assert "secrets delete byok-redis-auth" in owned
    yours = " ".join(" ".join(c) for c in commands_of(plans["destroy:direct+url"]))
    assert "redis instances delete" not in yours and "secrets delete" not in yours
    assert "connectors delete" not in yours
    assert "functions delete notify-byok-llm-error" in yours


# ------------------------------------------------------------------------------------------------
# A real run executes the dry-run list (stand-in gcloud)
# ------------------------------------------------------------------------------------------------
FAKE_GCLOUD = r'''#!{python}
"""Stand-in gcloud: records argv, answers describes as an empty project or one where all exists."""
import json, os, sys
args = sys.argv[1:]
if "--help" in args:
    print("--direct-vpc-egress"); sys.exit(0)
with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
exists = os.environ["FAKE_GCLOUD_STATE"] == "exists"
values = json.loads(os.environ["FAKE_GCLOUD_VALUES"])
fmt = next((a.split("=", 1)[1] for a in args if a.startswith("--format=")), "")
if "--data-file=-" in args:
    sys.stdin.read(); sys.exit(0)
if args[:3] == ["secrets", "versions", "access"]:
    if not exists: sys.exit(1)
    print(values["PEM"] if "ca" in args[-2] else values["AUTH"]); sys.exit(0)
if "get-auth-string" in args:
    print(values["AUTH"]); sys.exit(0)
answers = {"value(projectNumber)": "PROJECT_NUMBER", "value(eventTrigger.trigger)": "TRIGGER",
           "value(transport.pubsub.subscription)": "SUBSCRIPTION", "value(locationId)": "FIRESTORE_LOCATION",
           'value[separator=":"](host,port)': "REDIS_ADDRESS"}
if fmt in answers:
    print(values[answers[fmt]]); sys.exit(0)
if fmt.startswith("value(serverCaCerts"):
    print(values["PEM"]); sys.exit(0)
if fmt == "value(name)" and "list" in args:
    flt = next(a for a in args if a.startswith("--filter="))
    if exists:
        print(values[next(v for k, v in json.loads(os.environ["FAKE_GCLOUD_LOOKUPS"]).items() if k in flt)])
    sys.exit(0)
if "describe" in args and not fmt:
    sys.exit(0 if exists else 1)
sys.exit(0)
'''


@pytest.fixture
def fake_gcloud(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gcloud"
    script.write_text(FAKE_GCLOUD.replace("{python}", sys.executable))
    script.chmod(0o755)
    return bin_dir


def real_run(args, tmp_path, bin_dir, state: str) -> tuple[subprocess.CompletedProcess, list[tuple[str, ...]]]:
    log = tmp_path / f"gcloud-{state}.log"
    log.unlink(missing_ok=True)
    values = dict(RUNTIME_VALUES, AUTH=FAKE_AUTH, PEM=FAKE_PEM)
    result = run_deploy(args, tmp_path, path_prefix=bin_dir,
                        env={"FAKE_GCLOUD_LOG": str(log), "FAKE_GCLOUD_STATE": state,
                             "FAKE_GCLOUD_VALUES": json.dumps(values), "FAKE_GCLOUD_LOOKUPS": json.dumps(LOOKUPS)})
    calls = [("gcloud", *json.loads(line)) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def expected_calls(plan, state: str) -> list[tuple[str, ...]]:
    """The commands a real run must execute, read off the dry-run plan."""
    exists = state == "exists"
    out: list[tuple[str, ...]] = []
    for kind, cmds in plan:
        if kind in ("run", "capture", "attempt"):
            out += cmds
        elif kind == "ensure":
            out += cmds[:1] if exists else cmds
        elif kind == "upsert":
            out += [cmds[0], cmds[1] if exists else cmds[2]]
        elif kind == "remove":
            out += cmds if exists else cmds[:1]
        elif kind == "pipe":  # secret sync: the new version is added only when the value changed
            out += cmds[:1] if exists else cmds
        elif kind == "upsert_named":  # cmds: the lookup it depends on, update, create
            out += [cmds[1] if exists else cmds[2]]
        elif kind == "remove_named":
            out += cmds[1:] if exists else []
    return out


def normalize(cmd: tuple[str, ...]) -> tuple[str, ...]:
    """Metric and monitoring config files live in a per-run temporary directory."""
    return tuple(re.sub(r"^(--(?:config|policy)-from-file=).*/", r"\1", w) for w in cmd)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("state", ["empty", "exists"])
def test_real_run_executes_exactly_the_dry_run_list(scenario, state, plans, tmp_path, fake_gcloud):
    result, calls = real_run(SCENARIOS[scenario] + ["--yes"], tmp_path, fake_gcloud, state)
    assert result.returncode == 0, result.stderr + result.stdout
    want = [normalize(c) for c in expected_calls(plans[scenario], state)]
    got = [normalize(c) for c in calls]
    assert got == want
    # ...and prints the same plan as the dry run, with the values it read filled in.
    printed = [(kind, tuple(normalize(tuple(substitute(c))) for c in cmds))
               for kind, cmds in map(parse_line, plan_lines(result.stdout))]
    assert printed == [(kind, tuple(normalize(c) for c in cmds)) for kind, cmds in plans[scenario]]


def test_rerun_on_an_existing_deployment_creates_nothing(plans, tmp_path, fake_gcloud):
    _, calls = real_run(SCENARIOS["connector+create"], tmp_path, fake_gcloud, "exists")
    creates = [c for c in calls if "create" in c]
    assert creates == [], creates
    assert not [c for c in calls if c[1:4] == ("secrets", "versions", "add")]  # unchanged secrets: no new version
    _, calls = real_run(SCENARIOS["connector+create"], tmp_path, fake_gcloud, "empty")
    assert [c for c in calls if c[1:4] == ("secrets", "versions", "add")]


def test_dry_run_runs_nothing(tmp_path, fake_gcloud):
    result, calls = real_run(SCENARIOS["connector+create"] + ["--dry-run"], tmp_path, fake_gcloud, "empty")
    assert result.returncode == 0 and calls == []
    lines = plan_lines(result.stdout)
    assert lines and all(line.split()[0] in ("gcloud", "if") or CAPTURE.match(line) for line in lines)


def test_secret_values_are_never_printed(tmp_path, fake_gcloud):
    result, _ = real_run(SCENARIOS["connector+create"], tmp_path, fake_gcloud, "empty")
    assert result.returncode == 0
    assert FAKE_AUTH not in result.stdout + result.stderr and "MIIBfake" not in result.stdout + result.stderr


def test_destroy_asks_unless_yes(tmp_path, fake_gcloud):
    args = [a for a in SCENARIOS["destroy:connector+create"] if a != "--yes"]
    result, calls = real_run(args, tmp_path, fake_gcloud, "exists")
    assert result.returncode == 2 and calls == []
    assert "--yes" in result.stderr


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------
GOOD = ["--project-id=demo-byok-123", "--network-mode=connector", "--redis-mode=create"]


@pytest.mark.parametrize("args, message", [
    ([], "PROJECT_ID is required"),
    (["--project-id=demo-byok-123", "--redis-mode=create"], "NETWORK_MODE is required"),
    (["--project-id=demo-byok-123", "--network-mode=connector"], "REDIS_MODE is required"),
    (["--project-id=demo-byok-123", "--network-mode=direct", "--redis-mode=create"], "VPC_SUBNET is required"),
    (["--project-id=demo-byok-123", "--network-mode=connector", "--redis-mode=url"], "EXISTING_REDIS_URL is required"),
])
def test_missing_settings(args, message, tmp_path):
    result = run_deploy(args + ["--dry-run"], tmp_path)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


@pytest.mark.parametrize("extra, message", [
    (["--project-id=My_Project"], "PROJECT_ID must be a project id"),
    (["--region=us central1"], "REGION must be a region"),
    (["--network-mode=vpn"], "NETWORK_MODE must be one of: connector direct"),
    (["--max-delivery-attempts=3"], "MAX_DELIVERY_ATTEMPTS must be between 5 and 100"),
    (["--max-delivery-attempts=ten"], "MAX_DELIVERY_ATTEMPTS must be a whole number"),
    (["--notifier-memory=512"], "NOTIFIER_MEMORY must be a memory size"),
    (["--vpc-connector-range=10.8.0.0/24"], "VPC_CONNECTOR_RANGE must be an unused /28"),
    (["--redis-tier=premium"], "REDIS_TIER must be one of: basic standard"),
    (["--topic=goog-events"], "TOPIC must not start with 'goog'"),
    (["--dedup-window-seconds=10"], "DEDUP_WINDOW_SECONDS must be between 60"),  # functions/config.py says so
    (["--fcm-timeout-seconds=abc"], "FCM_TIMEOUT_SECONDS must be a number"),
])
def test_malformed_settings(extra, message, tmp_path):
    result = run_deploy(GOOD + extra + ["--dry-run"], tmp_path)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "nothing was run" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--project-id=demo-byok-123", "--network-mode=direct", "--vpc-subnet=s", "--vpc-connector-range=10.8.0.0/28",
      "--redis-mode=create"], "VPC_CONNECTOR_RANGE conflicts with NETWORK_MODE=direct"),
    (["--project-id=demo-byok-123", "--network-mode=connector", "--vpc-subnet=s", "--redis-mode=create"],
     "VPC_SUBNET conflicts with NETWORK_MODE=connector"),
    (["--project-id=demo-byok-123", "--network-mode=connector", "--redis-mode=url",
      "--existing-redis-url=redis://10.0.0.3:6379/0", "--redis-instance=r"], "REDIS_INSTANCE conflicts with REDIS_MODE=url"),
    (["--project-id=demo-byok-123", "--network-mode=connector", "--redis-mode=url",
      "--existing-redis-url=rediss://10.0.0.3:6378/0"], "REDIS_CA_SECRET is required with a rediss://"),
    (["--project-id=demo-byok-123", "--network-mode=connector", "--redis-mode=url",
      "--existing-redis-url=redis://:hunter2@10.0.0.3:6379/0"], "must not contain a password"),
    (GOOD + ["--existing-redis-url=redis://10.0.0.3:6379/0"], "EXISTING_REDIS_URL conflicts with REDIS_MODE=create"),
    (GOOD + ["--redis-auth=false", "--redis-auth-secret=x"], "REDIS_AUTH_SECRET conflicts with REDIS_AUTH=false"),
    (GOOD + ["--notifier-cpu=0.5"], "NOTIFIER_CONCURRENCY above 1 conflicts with NOTIFIER_CPU=0.5"),
    (GOOD + ["--notifier-timeout-seconds=300"], "NOTIFIER_TIMEOUT_SECONDS (300) must be below DELIVERY_LEASE_SECONDS (120)"),
    (GOOD + ["--min-retry-delay-seconds=60", "--max-retry-delay-seconds=30"], "MIN_RETRY_DELAY_SECONDS must not exceed"),
    (GOOD + ["--notifier-min-instances=5", "--notifier-max-instances=2"], "NOTIFIER_MIN_INSTANCES must not exceed"),
])
def test_conflicting_settings(args, message, tmp_path):
    result = run_deploy(args + ["--dry-run"], tmp_path)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr


def test_every_problem_is_reported_at_once_and_nothing_runs(tmp_path, fake_gcloud):
    result, calls = real_run(["--project-id=X", "--network-mode=vpn", "--redis-mode=url"], tmp_path, fake_gcloud, "empty")
    assert result.returncode == 2 and calls == []
    for message in ("PROJECT_ID must be", "NETWORK_MODE must be one of", "EXISTING_REDIS_URL is required"):
        assert message in result.stderr


def test_unknown_options_and_settings_are_refused(tmp_path):
    result = run_deploy(GOOD + ["--regoin=us-east1", "--dry-run"], tmp_path)
    assert result.returncode == 2 and "unknown option --regoin" in result.stderr
    bad = tmp_path / "bad.env"
    bad.write_text("PROJECT_ID=demo-byok-123\nREGOIN=us-east1\n")
    result = run_deploy([f"--env-file={bad}", "--dry-run"], tmp_path)
    assert result.returncode == 2 and "bad.env:2: unknown setting REGOIN" in result.stderr
    bad.write_text("just words\n")
    result = run_deploy([f"--env-file={bad}", "--dry-run"], tmp_path)
    assert result.returncode == 2 and "expected NAME=VALUE" in result.stderr


def test_precedence_flag_over_environment_over_file(tmp_path):
    settings = tmp_path / "deploy.env"
    settings.write_text("# comment\nPROJECT_ID=demo-byok-123\nNETWORK_MODE=connector\nREDIS_MODE=create\n"
                        "REGION='europe-west1'  # quoted, with a comment\nTOPIC=from-file\n"
                        "NOTIFIER_NAME=\"from-file\"\n")
    result = run_deploy([f"--env-file={settings}", "--dry-run", "--topic=from-flag"], tmp_path,
                        env={"TOPIC": "from-env", "NOTIFIER_NAME": "from-env"})
    assert result.returncode == 0, result.stderr
    assert "--region=europe-west1" in result.stdout
    assert "pubsub topics create from-flag " in result.stdout
    assert "functions deploy from-env " in result.stdout


def test_example_settings_file_is_complete_and_valid(tmp_path):
    example = (ROOT / "deploy.env.example").read_text()
    help_text = run_deploy(["--help"], tmp_path).stdout
    names = re.findall(r"^  ([A-Z][A-Z0-9_]+) ", help_text, re.M)
    assert len(names) > 40
    missing = [n for n in names if not re.search(rf"^#? ?{n}=", example, re.M)]
    assert missing == []
    result = run_deploy([f"--env-file={ROOT / 'deploy.env.example'}", "--dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------------------
# Lint and upload set
# ------------------------------------------------------------------------------------------------
def test_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (./test.sh installs it when run as root; "
                    "or apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_gcloudignore_uploads_only_the_function_source(tmp_path):
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed")
    result = subprocess.run(["gcloud", "meta", "list-files-for-upload", str(ROOT)], capture_output=True,
                            text=True, env=_offline_env(_empty_config()), timeout=120)
    assert result.returncode == 0, result.stderr
    files = sorted(Path(line).as_posix() for line in result.stdout.split())
    assert "main.py" in files and "requirements.txt" in files and "functions/config.py" in files
    stray = [f for f in files if f not in ("main.py", "requirements.txt") and not f.startswith("functions/")]
    assert stray == []
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_the_offline_check_catches_a_misspelled_flag_and_a_bad_value():
    """The oracle itself: the same offline gcloud rejects what a typo in deploy.sh would produce."""
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed")
    cmds = [("gcloud", "pubsub", "subscriptions", "update", "s", "--max-delivery-attempt=10"),
            ("gcloud", "functions", "deploy", "f", "--region=us-central1", "--ingress-settings=internal"),
            ("gcloud", "pubsub", "subscriptions", "update", "s", "--max-delivery-attempts=10"),
            ("gcloud", "pubsub", "subscriptions", "update", "s", "--max-delivery-attempts=10",
             "--dead-letter-topic=projects/p/topics/d")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        (_, typo), (_, value), (_, missing), (_, good) = pool.map(gcloud_offline, cmds)
    assert "unrecognized arguments" in typo and NO_ACCOUNT not in typo
    assert "Invalid choice" in value or "Invalid value" in value or "invalid choice" in value, value
    assert "Missing required argument" in missing and NO_ACCOUNT not in missing
    assert NO_ACCOUNT in good


# ------------------------------------------------------------------------------------------------
# Monitoring (dashboard, alert policies) and who may publish
# ------------------------------------------------------------------------------------------------
def monitoring_files(plan) -> dict[str, Path]:
    return {Path(flag(c, f)).stem.removeprefix("monitoring-"): Path(flag(c, f)) for c in commands_of(plan)
            for f in ("--config-from-file", "--policy-from-file") if flag(c, f) and "monitoring-" in flag(c, f)}


def test_dashboard_and_policies_are_valid_monitoring_api_objects(plans):
    """The rendered files parse strictly (unknown fields or enum values fail) as the API's own messages."""
    monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")
    dashboard_v1 = pytest.importorskip("google.cloud.monitoring_dashboard_v1")
    files = monitoring_files(plans["connector+create"])
    assert set(files) == {"dashboard", "alert-retries", "alert-dead-letters", "alert-no-sent", "alert-mangled-keys",
                          "alert-held"}
    for name, path in files.items():
        text = path.read_text()
        assert "@" not in re.sub(r"[\w.-]+@[\w.-]+", "", text), f"unreplaced placeholder in {name}"
        if name == "dashboard":
            dash = dashboard_v1.Dashboard.from_json(text)
            filters = " ".join(w.xy_chart.data_sets[0].time_series_query.time_series_filter.filter
                               for w in dash.grid_layout.widgets if w.xy_chart.data_sets)
            for metric in ("logging.googleapis.com/user/byok_notifier_outcomes",
                           "pubsub.googleapis.com/subscription/num_undelivered_messages",
                           "run.googleapis.com/request_latencies", "run.googleapis.com/container/instance_count"):
                assert metric in filters
            assert 'subscription_id"="byok-llm-errors-dead-letter-keep"' in filters
            assert 'service_name"="notify-byok-llm-error"' in filters
        else:
            policy = monitoring_v3.AlertPolicy.from_json(text)
            assert policy.display_name.startswith("BYOK notify-byok-llm-error: ")
            assert policy.documentation.content and policy.conditions
    retries = monitoring_v3.AlertPolicy.from_json(files["alert-retries"].read_text())
    assert 'outcome"="retry"' in retries.conditions[0].condition_threshold.filter
    dead = monitoring_v3.AlertPolicy.from_json(files["alert-dead-letters"].read_text())
    assert 'subscription_id="byok-llm-errors-dead-letter-keep"' in dead.conditions[0].condition_prometheus_query_language.query
    silent = monitoring_v3.AlertPolicy.from_json(files["alert-no-sent"].read_text())
    assert "[1d]" in silent.conditions[0].condition_prometheus_query_language.query
    assert "replay --subscription byok-llm-errors-dead-letter-keep" in dead.documentation.content
    mangled = monitoring_v3.AlertPolicy.from_json(files["alert-mangled-keys"].read_text())
    threshold = mangled.conditions[0].condition_threshold
    assert 'outcome"="key_malformed"' in threshold.filter and threshold.threshold_value == 0   # any one pages
    held = monitoring_v3.AlertPolicy.from_json(files["alert-held"].read_text())
    assert 'outcome"="held"' in held.conditions[0].condition_threshold.filter
    assert "surge release" in held.documentation.content


def test_monitoring_is_created_once_found_by_name_and_notifies_the_channel(plans):
    plan = plans["connector+create"]
    kinds = [(kind, cmds) for kind, cmds in plan if kind == "upsert_named"]
    assert len(kinds) == 6  # the dashboard and five policies, each updated if found by name, else created
    found = []
    for _, (lookup, update, create) in kinds:
        verb = 3 if update[1] == "monitoring" else 4  # gcloud monitoring dashboards / gcloud alpha monitoring policies
        assert update[:verb] == create[:verb] and (update[verb], create[verb]) == ("update", "create")
        assert update[verb + 1] == lookup[1]  # the one found by name is the one updated
        found.append(lookup[1])
    assert sorted(found) == sorted(RUNTIME_VALUES[k] for k in LOOKUPS.values())
    policy_creates = [c for c in commands_of(plan) if c[:5] == ("gcloud", "alpha", "monitoring", "policies", "create")]
    assert len(policy_creates) == 5 and all(flag(c, "--notification-channels") == CHANNEL for c in policy_creates)
    updates = [c for c in commands_of(plan) if c[:5] == ("gcloud", "alpha", "monitoring", "policies", "update")]
    assert all(flag(c, "--set-notification-channels") == CHANNEL for c in updates)
    lookups = [c for c in commands_of(plan) if c[-2:] == ("--format=value(name)", "--limit=1")]
    assert len(lookups) == 6 and all(flag(c, "--filter").startswith('displayName="BYOK ') for c in lookups)
    # the metrics the dashboard and policies read exist before them
    order = [c[:4] for c in commands_of(plan)]
    assert order.index(("gcloud", "logging", "metrics", "describe")) < order.index(
        ("gcloud", "monitoring", "dashboards", "list"))


def test_without_alert_channel_policies_notify_nobody_and_say_so(tmp_path):
    result = run_deploy(SCENARIOS["connector+url-plain"] + ["--dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no ALERT_CHANNEL" in result.stdout
    cmds = [c for line in plan_lines(result.stdout) for c in parse_line(line)[1]]
    assert not [c for c in cmds if any(w.startswith("--notification-channels") for w in c)]
    updates = [c for c in cmds if c[:5] == ["gcloud", "alpha", "monitoring", "policies", "update"]]
    assert len(updates) == 5 and all("--clear-notification-channels" in c for c in updates)


def test_publishers_may_publish_on_the_events_topic_only(plans):
    cmds = commands_of(plans["connector+create"])
    grants = [c for c in cmds if "add-iam-policy-binding" in c and any(p in " ".join(c) for p in PUBLISHERS)]
    assert sorted(flag(c, "--member") for c in grants) == sorted(f"serviceAccount:{p}" for p in PUBLISHERS)
    for c in grants:
        assert c[:5] == ("gcloud", "pubsub", "topics", "add-iam-policy-binding", "byok-llm-errors")
        assert flag(c, "--role") == "roles/pubsub.publisher"
    assert not [c for c in cmds if c[:3] == ("gcloud", "projects", "add-iam-policy-binding")
                and "pubsub" in (flag(c, "--role") or "")]  # never project-wide
    # created topic first, then granted
    assert cmds.index(grants[0]) > cmds.index(("gcloud", "pubsub", "topics", "describe", "byok-llm-errors",
                                                "--project=demo-byok-123"))
    none = commands_of(plans["connector+url-plain"])
    assert not [c for c in none if c[:4] == ("gcloud", "pubsub", "topics", "add-iam-policy-binding")
                and c[4] == "byok-llm-errors"]


def test_destroy_removes_monitoring_and_publisher_grants(plans):
    plan = plans["destroy:connector+create"]
    removed = [cmds[1] for kind, cmds in plan if kind == "remove_named"]
    assert [c[:4] for c in removed] == [("gcloud", "monitoring", "dashboards", "delete")] + [
        ("gcloud", "alpha", "monitoring", "policies")] * 5
    assert all("delete" in c for c in removed)
    revokes = [cmds[0] for kind, cmds in plan if kind == "attempt" and "remove-iam-policy-binding" in cmds[0]
               and cmds[0][:3] == ("gcloud", "pubsub", "topics")]
    assert sorted(flag(c, "--member") for c in revokes) == sorted(f"serviceAccount:{p}" for p in PUBLISHERS)


@pytest.mark.parametrize("extra, message", [
    (["--publishers=not-an-email"], "PUBLISHERS must be comma-separated service account emails"),
    (["--publishers=alice@example.com"], "PUBLISHERS must be comma-separated service account emails"),
    (["--alert-channel=1234567890"], "ALERT_CHANNEL must be a notification channel resource name"),
])
def test_bad_publishers_and_alert_channel_are_refused(extra, message, tmp_path):
    result = run_deploy(GOOD + extra + ["--dry-run"], tmp_path)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""
