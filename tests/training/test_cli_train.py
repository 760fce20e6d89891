"""`mmret train` as a user runs it (issue 28, item 9): a run that stops early says so once, with the validation."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import merged

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def test_a_run_that_stops_early_says_so_once(base_config, tmp_path):
    never_better = {"training": {"epochs": 20, "patience": 1, "min_delta": 10.0}, "output": str(tmp_path / "run")}
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(merged(base_config, never_better)))
    result = subprocess.run([sys.executable, "-m", "mmret.cli", "train", str(config)], capture_output=True,
                            text=True, env=ENV, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    said = result.stdout + result.stderr
    assert said.count("stopped early after epoch 1 of 20") == 1, said[-2000:]
