"""deploy.sh with the reach and rollout settings (issue 14, 15.1): passed to the notifier, validated by
functions/config.py before anything runs, and the Firebase Auth read role only for EMAIL_SOURCE=auth."""
from __future__ import annotations

from pathlib import Path

from tests.test_deploy import BASE, commands_of, flag, parse_line, plan_lines, run_deploy, substitute

CONNECTOR = BASE + ["--network-mode=connector", "--redis-mode=create", "--vpc-connector-range=10.8.0.0/28"]


def plan(args: list[str], tmp: Path):
    result = run_deploy(CONNECTOR + args + ["--dry-run"], tmp)
    assert result.returncode == 0, result.stderr
    steps = []
    for line in plan_lines(result.stdout):
        kind, commands = parse_line(line)
        steps.append((kind, tuple(tuple(substitute(c)) for c in commands)))
    return tuple(steps)


def notifier_env(p) -> str:
    (cmd,) = [c for c in commands_of(p) if c[:3] == ("gcloud", "functions", "deploy") and "notify-byok-llm-error" in c]
    return flag(cmd, "--set-env-vars")


def auth_grants(p) -> list[tuple[str, ...]]:
    return [c for c in commands_of(p) if "add-iam-policy-binding" in c and flag(c, "--role") == "roles/firebaseauth.viewer"]


def test_omi_settings_reach_the_notifier_and_auth_email_gets_its_read_role(tmp_path):
    p = plan(["--push-link-field=navigate_to", "--deep-link-template=/settings", "--email-mode=fallback",
              "--email-source=auth", "--email-collection=outbox", "--delivery-mode=shadow"], tmp_path)
    env = notifier_env(p)
    for pair in ("PUSH_LINK_FIELD=navigate_to", "DEEP_LINK_TEMPLATE=/settings", "EMAIL_MODE=fallback",
                 "EMAIL_SOURCE=auth", "EMAIL_COLLECTION=outbox", "DELIVERY_MODE=shadow"):
        assert pair in env
    (grant,) = auth_grants(p)
    assert flag(grant, "--member").startswith("serviceAccount:byok-notifier@")


def test_defaults_pass_nothing_new_and_grant_no_auth_role(tmp_path):
    p = plan([], tmp_path)
    env = notifier_env(p)
    assert not [n for n in ("PUSH_LINK_FIELD", "EMAIL_MODE", "EMAIL_SOURCE", "DELIVERY_MODE") if n in env]
    assert auth_grants(p) == []


def test_a_bad_value_is_refused_before_anything_runs(tmp_path):
    result = run_deploy(CONNECTOR + ["--email-mode=sometimes", "--delivery-mode=dark", "--dry-run"], tmp_path)
    assert result.returncode != 0
    assert "EMAIL_MODE must be one of off, fallback, always" in result.stderr + result.stdout
    assert "DELIVERY_MODE must be one of live, shadow" in result.stderr + result.stdout


def test_destroy_removes_the_auth_read_role(tmp_path):
    p = plan(["--email-mode=fallback", "--email-source=auth", "--destroy", "--yes"], tmp_path)
    removed = [c for c in commands_of(p) if "remove-iam-policy-binding" in c
               and flag(c, "--role") == "roles/firebaseauth.viewer"]
    assert len(removed) == 1 and flag(removed[0], "--member").startswith("serviceAccount:byok-notifier@")
