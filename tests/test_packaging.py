"""The install story stays true: pins agree everywhere, and CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).parents[1]


def _name(s: str) -> str:
    return re.sub(r"[-_.]+", "-", s).lower()


def _constraints() -> dict[str, str]:
    pins = {}
    for raw in (ROOT / "constraints.txt").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def test_torch_and_torchvision_are_pinned_exactly():
    pins = _constraints()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_environment_yml_agrees_with_pyproject_and_constraints():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert any(d.startswith(f"python={project['requires-python'].lstrip('>=')}") for d in conda)
    pip_deps = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = {}
    for line in pip_deps:
        if line.startswith("-e"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"environment.yml pins exactly: {line}"
        env_pins[_name(req.name)] = spec.version
    assert set(env_pins) == set(runtime), "environment.yml and pyproject.toml list different packages"
    pins = _constraints()
    for name, version in env_pins.items():
        assert runtime[name].specifier.contains(version, prereleases=True), (
            f"{name}=={version} is outside pyproject's range"
        )
        assert pins[name] == version, (
            f"{name}: environment.yml has {version}, constraints.txt has {pins[name]}"
        )
    assert not pins["ipykernel"].startswith("7.0."), "ipykernel 7.0.x breaks output from threads"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.DOTALL)
    assert blocks[:2] == ["make lab", "make test"]
    ci = [
        ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert ci[-1].strip() == "make test"
