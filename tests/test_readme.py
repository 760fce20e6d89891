"""The README's examples run as shown (issue 10, defect 8; issue 21, item 8), from a project folder beside the shared
data, and its model comparison is on data the training config does not train on (defect 9).

Every code block runs in the default test run, and a block this file does not know how to run fails the first
test. The shell blocks run in README order in one project, each command as typed with options appended that scale
the minutes of evaluation and training down to seconds (`scaled`); the server block starts each `mmret serve` and
stops it once it answers; the `make` block is checked as the targets' dry run (`make test` would run this test).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mmret.training.config import load_config
from mmret.training.dataspec import DataSpec

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = [(m["lang"], m["body"]) for m in re.finditer(r"^```(?P<lang>\S*)\n(?P<body>.*?)^```", README,
                                                      re.DOTALL | re.MULTILINE)]
SERVE_STARTUP_SECONDS = 120

# What the test appends to a command to scale it down; the README shows the full run.
SMALL_EVAL = 24  # images of a captions set; per class of a folders set: 2
FEW_DRAWS = ["--resamples", "200", "--permutations", "200"]  # bootstrap and permutation draws
SMALL_TRAINING = ["--set", "training.epochs=1",  # data paths relative to configs/, as in the configs
                  "--set", 'data.train=["captions:../../shared/data/flickr8k-500[0:48]"]',
                  "--set", "data.validation=captions:../../shared/data/flickr8k-500[400:424]"]
SCALING = {"train": SMALL_TRAINING, "tune": [*SMALL_TRAINING, "--trials", "1"], "train-audio": ["--epochs", "1"]}


def kind(lang: str, body: str) -> str | None:
    """How this file runs a README block, or None for a block it does not know."""
    if lang == "sh":
        return "make" if body.lstrip().startswith("make ") else "shell"
    if lang == "python":
        return "python"
    if lang == "console" and "mmret serve" in body:
        return "server"
    return None


def blocks(of_kind: str) -> list[str]:
    return [body for lang, body in BLOCKS if kind(lang, body) == of_kind]


def test_every_readme_block_is_run_by_a_test():
    unknown = [body for lang, body in BLOCKS if kind(lang, body) is None]
    assert not unknown, f"README blocks that no test runs (teach tests/test_readme.py to run them): {unknown}"
    assert len(blocks("make")) == len(blocks("python")) == len(blocks("server")) == 1 and len(blocks("shell")) == 5


def scaled(line: str) -> str:
    """A README command line with the options that scale it down appended (before its comment)."""
    command, hash_, comment = re.split(r"(\s+#\s)", line, maxsplit=1) if re.search(r"\s#\s", line) else (line, "", "")
    words = shlex.split(command) if command.startswith("mmret ") else []
    if len(words) < 2:
        return line
    extra = SCALING.get(words[1], [])
    if words[1] in ("eval", "report"):
        start = int(words[words.index("--start") + 1]) if "--start" in words else 0
        extra = ["--stop", "2" if "folders:" in command else str(start + SMALL_EVAL),
                 *(FEW_DRAWS if words[1] == "eval" else ["--gallery-size", "2", "--map", "pca"])]
    return " ".join([command.rstrip(), *map(shlex.quote, extra)]) + hash_ + comment


def test_scaling_appends_options_and_keeps_the_command():
    assert scaled("mmret eval --data captions:x --start 400 --model m  # held out") == (
        "mmret eval --data captions:x --start 400 --model m --stop 424 --resamples 200 --permutations 200  # held out")
    assert scaled("mmret report --data folders:x --stop 5").startswith("mmret report --data folders:x --stop 5 --stop 2")
    assert scaled("mmret train c.yaml").startswith("mmret train c.yaml --set training.epochs=1 --set 'data.train=")
    assert scaled("mmret search 'a cat' -k 1") == "mmret search 'a cat' -k 1"


@pytest.fixture(scope="module")
def project(data_dir, tmp_path_factory):
    """A project root as the README assumes it: configs/ here, the shared data at ../shared/data, a home folder."""
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(data_dir)
    (root / "home" / "Pictures").mkdir(parents=True)
    shutil.copytree(REPO / "configs", root / "project" / "configs")
    return root / "project"


def environment(project: Path) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "mmret").exists():
        pytest.skip(f"no mmret command beside {sys.executable}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "HOME": str(project.parent / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    for name in ("MMRET_COLLECTION", "MMRET_MODEL"):
        env.pop(name, None)
    return env


def run_in(project: Path, command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=project, env=environment(project), capture_output=True, text=True,
                          timeout=1800, check=False)


def run_block(project: Path, body: str) -> subprocess.CompletedProcess:
    script = "\n".join(map(scaled, body.splitlines()))
    result = run_in(project, ["bash", "-euo", "pipefail", "-c", script])
    assert result.returncode == 0, f"README block failed:\n{script}\n--- stderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize("number", range(len(blocks("shell"))))
def test_shell_blocks_run_as_shown_in_order(project, number):
    run_block(project, blocks("shell")[number])
    expected = [["photos", "manifest.csv"], ["flickr-report", "runs/offline-heads/model", "photos-tuned"],
                ["catalogue.csv", "runs/fusion/model", "shop-trained"], ["demo-out/slideshow.mp4", "media-ocr"],
                ["photos-backup"]]
    assert [name for name in expected[number] if not (project / name).exists()] == []


def test_python_example_runs_as_shown(project):
    result = run_in(project, [sys.executable, "-c", blocks("python")[0]])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(1, 512)" in result.stdout and "7_george_0.wav" in result.stdout


def test_the_server_block_runs_as_shown(project):
    """Each line as typed; `pip install` as a dry run that must find everything installed, each `mmret serve` on a
    free port until it answers /healthz (the page and the search), then stopped."""
    for line in blocks("server")[0].splitlines():
        command = line.split("  #")[0].strip()
        if command.startswith("pip install"):
            pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", *shlex.split(command)[2:]]
            result = run_in(project, pip)
            assert result.returncode == 0 and "Would install" not in result.stdout, result.stdout + result.stderr
        elif command.startswith("mmret serve"):
            assert_serves(project, command)
        else:
            run_block(project, command)
    assert len((project / "keys.txt").read_text().strip()) == 32


def assert_serves(project: Path, command: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["bash", "-c", f"exec {command} --port {port}"]
    server = subprocess.Popen(argv, cwd=project, env=environment(project), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + SERVE_STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert server.poll() is None, f"{command} exited: {server.stderr.read()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=a+strawberry&k=1") as answer:
                    assert b"strawberry" in answer.read()
                    return
            except urllib.error.HTTPError:
                raise
            except OSError:  # not listening yet
                time.sleep(0.5)
        raise AssertionError(f"{command} did not answer within {SERVE_STARTUP_SECONDS} s")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_make_block_names_the_makefiles_targets():
    (body,) = blocks("make")
    targets = [line.split()[1] for line in body.splitlines() if line.startswith("make ")]
    result = subprocess.run(["make", "-n", "-C", str(REPO), *targets], capture_output=True, text=True, check=False)
    assert targets == ["demo", "test"] and result.returncode == 0, result.stderr
    assert "mmret demo --out demo-out" in result.stdout and "pytest" in result.stdout


def test_the_model_comparison_is_on_held_out_data_after_training():
    commands = [line for body in blocks("shell") for line in body.splitlines() if line.startswith("mmret ")]
    train = next(i for i, c in enumerate(commands) if c.startswith("mmret train configs/train_offline_heads.yaml"))
    comparisons = [i for i, c in enumerate(commands) if c.startswith("mmret eval") and "runs/offline-heads" in c]
    assert comparisons and all(i > train for i in comparisons), "the trained model is evaluated before it exists"
    config = load_config(REPO / "configs" / "train_offline_heads.yaml")
    for i in comparisons:
        evaluated = _evaluated_records(shlex.split(commands[i].split("#")[0]))
        for spec in config.data.train:
            if spec.resolved_path() == evaluated.resolved_path():
                assert _disjoint(spec, evaluated), f"{commands[i]} evaluates on training data {spec}"


def _evaluated_records(argv: list[str]) -> DataSpec:
    def flag(name, default=None):
        return argv[argv.index(name) + 1] if name in argv else default

    path = flag("--data").partition(":")[2]
    stop = flag("--stop")
    return DataSpec(os.path.normpath(REPO / path), int(flag("--start", 0)), int(stop) if stop else None)


def _disjoint(a: DataSpec, b: DataSpec) -> bool:
    end = float("inf")
    return (a.stop or end) <= b.start or (b.stop or end) <= a.start
