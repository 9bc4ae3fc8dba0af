"""byok-reporter as a backend installs it: a wheel in a new virtual environment with no repository
path on sys.path, `pip install ./reporter`, `pip install git+...#subdirectory=reporter`; the
contract defined once (the package's contract.py, redact.py and schema are the notifier's files);
and the functions' upload still carrying exactly what the functions import.

No download: the package is built with the test environment's setuptools (--no-build-isolation)
and its one dependency, google-cloud-pubsub, is lent to the new environment by a .pth file that
names the test environment's site-packages (which holds neither `functions` nor `byok_reporter`).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reporter" / "byok_reporter"
SHARED = {"contract.py": ROOT / "functions/contract.py", "redact.py": ROOT / "functions/redact.py",
          "byok-error-event.v1.json": ROOT / "schemas/byok-error-event.v1.json"}
PROJECT = "demo-byok-test"


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_shared_files_are_defined_once():
    """The package's contract, redaction and schema are symlinks to the notifier's own files."""
    for name, target in SHARED.items():
        link = PACKAGE / name
        assert link.is_symlink() and link.resolve() == target.resolve(), name
        assert not target.is_symlink()
    from byok_reporter import contract as reporter_contract
    from functions import contract

    assert reporter_contract.PROVIDER_RE.pattern == contract.PROVIDER_RE.pattern
    assert Path(reporter_contract.__file__).resolve() == Path(contract.__file__).resolve()


@pytest.fixture(scope="module")
def source_repo(tmp_path_factory) -> Path:
    """A git repository with what the package's build needs, symlinks kept: a stand-in for the
    project's repository that a backend would `pip install git+...` from."""
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "reporter", repo / "reporter", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    (repo / "functions").mkdir()
    for name in ("contract.py", "redact.py"):
        shutil.copy2(ROOT / "functions" / name, repo / "functions" / name)
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    run(git + ["init", "-q"])
    run(git + ["add", "-A"])
    run(git + ["commit", "-qm", "reporter"])
    return repo


@pytest.fixture(scope="module")
def wheel(source_repo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         str(source_repo / "reporter"), "-w", str(out)])
    (built,) = out.glob("byok_reporter-*.whl")
    return built


def test_the_wheel_carries_real_files_and_one_dependency(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("byok_reporter/"))
        assert names == sorted(f"byok_reporter/{n}" for n in (
            "__init__.py", "reporter.py", "extract.py", "probe.py", "aws.py", "keyform.py", "contract.py", "redact.py",
            "probes.json",
            "byok-error-event.v1.json", "py.typed"))
        for name, target in SHARED.items():       # the content, not a link
            assert archive.read(f"byok_reporter/{name}") == target.read_bytes()
        meta = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA"))).decode()
    requires = sorted(line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:"))
    assert requires[0].startswith("google-cloud-pubsub") and len(requires) == 2
    assert 'extra == "langchain"' in requires[1] and requires[1].startswith("langchain-core")
    assert "Name: byok-reporter" in meta and "Version: 2.5.0" in meta


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new virtual environment; only the test environment's site-packages lent for dependencies."""
    path = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(path)])
    python = path / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    lent = sysconfig.get_paths()["purelib"]
    assert not (Path(lent) / "functions").exists() and not (Path(lent) / "byok_reporter").exists()
    for pth in Path(lent).glob("*.pth"):          # no editable install leading back to the sources
        assert str(ROOT / "reporter") not in pth.read_text() and str(ROOT / "functions") not in pth.read_text()
    (Path(site) / "_lent_dependencies.pth").write_text(lent + "\n")
    # its own old setuptools (from ensurepip, where bundled) would shadow the lent one that builds wheels
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], capture_output=True)
    return path


REPORT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import byok_reporter
    from byok_reporter import Reporter
    root = sys.argv[1]
    here = Path(byok_reporter.__file__).resolve()
    assert here.is_relative_to(Path(sys.prefix).resolve()), here
    assert not any(p and Path(p).resolve() in (Path(root), Path(root) / "reporter") for p in sys.path), sys.path
    inside = [p for p in sys.path if p and Path(p).resolve().is_relative_to(Path(root))]
    assert all("site-packages" in p for p in inside), inside      # only the lent third-party packages
    try:
        import functions
        raise SystemExit("functions importable")
    except ImportError:
        pass
    from google.cloud import pubsub_v1
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(sys.argv[2], sys.argv[3])
    subscription = subscriber.subscription_path(sys.argv[2], sys.argv[3] + "-pull")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=subscription, topic=topic)
    reporter = Reporter(sys.argv[2], sys.argv[3], fingerprint_pepper="p")
    assert reporter.report("user-1", "openai", {"status_code": 401, "code": "invalid_api_key",
                           "message": "Incorrect API key provided: sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX"},
                           key="sk-proj-abcdEFGH1234ijklMNOP5678qrstUVWX", base_url="http://192.0.2.1/v1")
    assert reporter.flush(20)
    reporter.close(5)
    response = subscriber.pull(subscription=subscription, max_messages=10, timeout=20)
    print(json.dumps({"version": byok_reporter.__version__, "file": str(here),
                      "events": [json.loads(m.message.data) for m in response.received_messages]}))
""")


def report_from(venv: Path, pubsub_emulator, tmp_path, topic: str) -> dict:
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PUBSUB_EMULATOR_HOST"] = pubsub_emulator.address
    result = run([str(venv / "bin" / "python"), "-I", str(script), str(ROOT), PROJECT, topic], cwd=tmp_path,
                 env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_event(out: dict) -> None:
    from tests.reporting import validate

    (event,) = out["events"]
    validate(event)
    assert (event["uid"], event["provider"], event["error"]["code"]) == ("user-1", "openai", "invalid_api_key")
    assert "sk-proj-abcdEFGH" not in json.dumps(event) and out["version"] == "2.5.0"
    assert "verification" not in event            # the base_url was plain http off loopback: no probe


def test_the_wheel_in_a_new_venv_reports_through_pubsub(wheel, venv, pubsub_emulator, tmp_path):
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    run(pip + ["install", "--no-deps", "--no-index", "--force-reinstall", str(wheel)])
    try:
        check_event(report_from(venv, pubsub_emulator, tmp_path, "wheel-topic"))
    finally:
        run(pip + ["uninstall", "-y", "byok-reporter"])


def test_pip_install_from_the_directory_and_from_git(source_repo, venv, pubsub_emulator, tmp_path):
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    run(pip + ["install", "--no-deps", "--no-build-isolation", "./reporter"], cwd=source_repo)
    try:
        out = report_from(venv, pubsub_emulator, tmp_path, "dir-topic")
        check_event(out)
        assert not out["file"].startswith(str(source_repo))
    finally:
        run(pip + ["uninstall", "-y", "byok-reporter"])
    run(pip + ["install", "--no-deps", "--no-build-isolation", f"git+file://{source_repo}#subdirectory=reporter"])
    try:
        check_event(report_from(venv, pubsub_emulator, tmp_path, "git-topic"))
    finally:
        run(pip + ["uninstall", "-y", "byok-reporter"])


# --------------------------------------------------------------------------------------------------
# The functions' upload: what gcloud would send.

def _imports(path: Path) -> set[str]:
    """The functions.* modules one file imports (absolute, relative and importlib by name)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("functions."):
            found.add(node.value)                                  # __main__'s COMMANDS table
    return {name for name in found if name == "functions" or name.startswith("functions.")}


def _module_file(name: str) -> Path | None:
    base = ROOT / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_closure() -> set[str]:
    """Every file main.py and the command lines (`python -m functions`, `python -m functions.x`:
    each __main__.py in the package) reach inside the repository."""
    todo, seen = [ROOT / "main.py", *sorted((ROOT / "functions").rglob("__main__.py"))], set()
    while todo:
        path = todo.pop()
        rel = path.relative_to(ROOT).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        for name in _imports(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):                    # packages on the way
                found = _module_file(".".join(parts[:i]))
                if found is not None:
                    todo.append(found)
    return seen


def test_the_upload_is_what_the_functions_import_and_nothing_else():
    if shutil.which("gcloud") is None:
        pytest.skip("the gcloud CLI is not installed")
    from tests.test_deploy import _empty_config, _offline_env

    result = subprocess.run(["gcloud", "meta", "list-files-for-upload", str(ROOT)], capture_output=True,
                            text=True, env=_offline_env(_empty_config()), timeout=120)
    assert result.returncode == 0, result.stderr
    files = {Path(line).as_posix() for line in result.stdout.split()}
    closure = imported_closure()
    assert {"main.py", "functions/contract.py", "functions/redact.py", "functions/event.py",
            "functions/verification.py"} <= closure
    assert closure <= files, sorted(closure - files)               # everything the functions import
    code = {f for f in files if f.endswith(".py")}
    assert code == closure, sorted(code - closure)                 # ...and no other code
    data = files - code - {"requirements.txt"}
    sources = "".join((ROOT / f).read_text() for f in code)
    for f in data:                                                  # data files the code reads
        assert f.startswith("functions/") and (Path(f).parent.name in sources or Path(f).name in sources), f
    assert not [f for f in files if f.startswith(("reporter/", "schemas/", "tests/"))]
    assert not [f for f in files if (ROOT / f).is_symlink()]
