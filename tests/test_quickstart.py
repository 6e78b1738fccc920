"""The README's first command, shortened: generate, validate, train, roll out, report."""

import json

from neuralpde.cli import main


def test_quickstart_writes_a_report_of_a_model_that_learned(tmp_path):
    out = tmp_path / "quickstart"
    assert main(["quickstart", "--out", str(out), "--steps", "48"]) == 0
    report = (out / "report.md").read_text()
    assert "beats persistence at every step" in report
    for name in ("trajectories.png", "invariants.png", "evaluation/report.md",
                 "evaluation/rollout_snapshots.png", "evaluation/error_vs_time.png",
                 "evaluation/energy_spectra.png", "run/config.yaml", "run/metrics.jsonl"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    model = metrics["model"]["summary"]["trajectory_relative_l2"]
    persistence = metrics["persistence"]["summary"]["trajectory_relative_l2"]
    assert model < 0.8 * persistence
