"""hmsim optimise: the smallest workshop meeting a waiting target, against Erlang C (theory.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.optimise import prepare, run_search
from tests.test_theory import LAMBDA, MU, erlang_c

THEORY = Path(__file__).resolve().parent / "data" / "theory.yaml"
TARGET = 0.2  # largest share of reconditioning jobs that may wait for a technician


def _spec(tmp_path: Path, target: float, top: int) -> Path:
    spec = {
        "name": "theory_capacity",
        "base": str(THEORY),
        "years": 0.5,
        "objective": "count",
        "variables": {
            "technicians": {"keys": ["depots.D.reconditioning_technicians.count"], "range": [1, top]},
        },
        "targets": [
            {
                "name": "share_waiting",
                "measure": {"kind": "jobs", "job_kind": "recondition", "statistic": "share_waiting"},
                "max": target,
            }
        ],
        "replications": 3,
        "finalists": 2,
        "final_replications": 4,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def smallest_meeting(target: float) -> int:
    """The fewest servers of the M/M/c workshop with P(wait) below ``target`` (Erlang C)."""
    c = int(LAMBDA // MU) + 1
    while erlang_c(LAMBDA, MU, c)[0] > target:
        c += 1
    return c


@pytest.mark.slow
def test_optimise_finds_the_smallest_workshop_erlang_c_allows(tmp_path: Path) -> None:
    expected = smallest_meeting(TARGET)
    # the check has power only if the neighbours are clearly on either side of the target
    assert erlang_c(LAMBDA, MU, expected - 1)[0] > TARGET + 0.05
    assert erlang_c(LAMBDA, MU, expected)[0] < TARGET - 0.05
    search = prepare(_spec(tmp_path, TARGET, 8), workers=1, out=tmp_path / "out")
    (result,) = run_search(search, log=lambda s: None)
    assert result["feasible"]
    assert result["capacity"] == {"technicians": expected}
    (kpi,) = result["kpis"]
    assert kpi["bound"] <= TARGET
    assert abs(kpi["mean"] - erlang_c(LAMBDA, MU, expected)[0]) < 0.05


@pytest.mark.slow
def test_optimise_says_which_target_is_out_of_reach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _spec(tmp_path, 0.01, 4)  # 4 technicians at most: P(wait) about 0.29, far above 1 %
    assert main(["optimise", str(path), "--workers", "1", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "recommendation.md").read_text(encoding="utf-8")
    assert "out of reach" in text and "share_waiting <= 0.01" in text
    assert "best share_waiting reached" in text and "technicians 4" in text


def test_bad_optimise_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _spec(tmp_path, 0.2, 8)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["variables"]["technicians"]["keys"] = ["depots.Nowhere.count"]
    data["objective"] = "cost"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["optimise", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("match no key" in line for line in err) and any("unit_cost" in line for line in err)
    assert all(line.startswith("hmsim optimise: ") for line in err)
