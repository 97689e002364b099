"""The Dockerfiles, linted structurally (hadolint is on neither PyPI nor Debian).

A small parser reads the instructions (continuations joined, comments dropped) and the checks are
the ones that matter for this image: multi-stage with a production and a demo target, the locked
dependencies installed (hashes required) before any source is copied, a non-root USER in every
image that runs, a HEALTHCHECK on /healthz done with Python (slim images have no curl), no tests,
settings or secrets copied or baked in, and the production image never sees the demo lockfile.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.lines if i == instruction]


def parse(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, words[0]))
        elif stages:
            stages[-1].lines.append((instruction, rest.strip()))
        else:
            assert instruction == "ARG", f"only ARG may precede the first FROM, not {instruction}"
    return stages


def chain(stages: list[Stage], name: str) -> list[Stage]:
    """The stage ``name`` and every stage it is built FROM or copies --from."""
    by_name = {s.name: s for s in stages}
    seen: list[Stage] = []
    todo = [name]
    while todo:
        stage = by_name.get(todo.pop())
        if stage is None or stage in seen:
            continue
        seen.append(stage)
        todo.append(stage.base)
        for instruction, rest in stage.lines:
            todo += re.findall(r"--from=([\w.-]+)", rest) if instruction in ("COPY", "RUN") else []
    return seen


STAGES = parse(DOCKERFILE)
RUNNABLE = ("production", "demo")


def test_multi_stage_with_production_as_the_default_last_target_and_a_demo_target() -> None:
    names = [s.name for s in STAGES]
    assert len(STAGES) >= 3 and {"deps", "production", "demo"} <= set(names)
    assert names[-1] == "production", "`docker build` without --target builds the last stage"


@pytest.mark.parametrize("target", RUNNABLE)
def test_a_runnable_image_runs_as_a_non_root_user(target: str) -> None:
    users = [a for s in reversed(chain(STAGES, target)) for a in s.args("USER")]
    assert users, f"{target}: no USER"
    assert users[-1].split(":")[0] not in ("root", "0"), f"{target}: runs as {users[-1]}"
    assert users[-1] == next(s for s in STAGES if s.name == target).args("USER")[-1]


@pytest.mark.parametrize("target", RUNNABLE)
def test_the_healthcheck_probes_healthz_with_python(target: str) -> None:
    checks = [a for s in chain(STAGES, target) for a in s.args("HEALTHCHECK")]
    assert len(checks) == 1, checks
    check = checks[0]
    assert "/healthz" in check and re.search(r'CMD \["python"', check), check
    assert "curl" not in check and "wget" not in check
    port = re.search(r"127\.0\.0\.1:(\d+)/healthz", check)
    cmd = [a for s in chain(STAGES, target) for a in s.args("CMD")][-1]
    assert port and f'"--port", "{port.group(1)}"' in cmd, "the probe asks the port the service listens on"


def test_locked_dependencies_are_installed_with_hashes_before_any_source_is_copied() -> None:
    for target in RUNNABLE:
        order = [(s.name, i, a) for s in reversed(chain(STAGES, target)) for i, a in s.lines]
        installs = [n for n, (_, i, a) in enumerate(order) if i == "RUN" and "-r /tmp/requirements/" in a]
        assert installs and all("--require-hashes" in order[n][2] for n in installs)
        deps = next(s for s in STAGES if s.name == "deps")
        copies = deps.args("COPY")
        assert copies and all(c.split()[0].startswith("requirements/") for c in copies), \
            "the dependency stage copies the lockfile only, so a source edit keeps its layer cached"
    source_copies = [s.name for s in STAGES for c in s.args("COPY") if re.match(r"accessward\b", c)]
    assert source_copies == ["wheel"]
    wheel = next(s for s in STAGES if s.name == "wheel")
    steps = [(i, a) for i, a in wheel.lines if i in ("COPY", "RUN")]
    assert steps[0] == ("COPY", "requirements/build.txt /tmp/requirements/build.txt")
    assert "--require-hashes" in steps[1][1], "the build backend is locked with hashes too"
    assert "--no-build-isolation" in steps[-1][1], "the wheel is built with the locked setuptools, nothing fetched"


def test_the_production_image_never_sees_the_demo_extra() -> None:
    text = " ".join(a for s in chain(STAGES, "production") for _, a in s.lines)
    assert "requirements/demo.txt" not in text and "[demo]" not in text
    demo = " ".join(a for s in chain(STAGES, "demo") for _, a in s.lines)
    assert "requirements/demo.txt" in demo


def test_no_tests_settings_or_secrets_are_copied_or_baked_in() -> None:
    for stage in STAGES:
        for copy in stage.args("COPY") + stage.args("ADD"):
            words = [w for w in shlex.split(copy) if not w.startswith("--")]
            for source in words[:-1]:
                assert not re.match(r"(tests?|\.env|.*\.toml$|.*\.key$|.*secret)", source) or \
                    source == "pyproject.toml", f"{stage.name}: COPY {source}"
        for instruction in ("ENV", "ARG"):
            for value in stage.args(instruction):
                assert not re.search(r"(?i)(password|secret|token)", value), f"{stage.name}: {instruction} {value}"
    assert not any(i == "ADD" for s in STAGES for i, _ in s.lines), "COPY, never ADD (no remote fetches)"
    ignore = [line for line in (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
              if line and not line.startswith("#")]
    assert ignore[0] == "*", "the build context is deny-by-default"
    assert not any(line.startswith(("!tests", "!.env", "!docker", "!.venv")) for line in ignore)


def test_the_openldap_image_is_debian_slapd_and_runs_unprivileged() -> None:
    stages = parse(ROOT / "docker" / "openldap" / "Dockerfile")
    assert len(stages) == 1 and stages[0].base.startswith("debian:")
    run = " ".join(stages[0].args("RUN"))
    assert "apt-get install" in run and " slapd" in run and "rm -rf /var/lib/apt/lists" in run
    assert stages[0].args("USER") == ["openldap"]
    assert any("ldapsearch" in h for h in stages[0].args("HEALTHCHECK"))


def test_the_parser_sees_what_a_bad_dockerfile_gets_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim AS production\nCOPY . /src\nRUN pip install /src\n")
    stages = parse(bad)
    assert [s.name for s in stages] == ["production"] and not stages[0].args("USER")
    assert not stages[0].args("HEALTHCHECK")
