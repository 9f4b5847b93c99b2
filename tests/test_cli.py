"""The qrobust-lite console script."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qrobust_lite.cli import doctor_report, main


def test_doctor_reports_versions_device_reason_data_and_compute():
    report = doctor_report()
    for expected in ("pennylane", "torch", "Quantum device", "why:", "Data sources",
                     "mnist", "bundled subset", "torch threads", "GPU", "circuit kit:"):
        assert expected in report


def test_console_script_runs():
    exe = Path(sys.executable).with_name("qrobust-lite")
    command = [str(exe)] if exe.exists() else [shutil.which("qrobust-lite")]
    out = subprocess.run(command + ["doctor"], capture_output=True, text=True, check=True)
    assert "why:" in out.stdout


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["cure"])
    assert exit_.value.code == 2
    assert "invalid choice: 'cure'" in capsys.readouterr().err
