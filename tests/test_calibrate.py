"""hmsim calibrate: parameters recovered from a config's own simulated output, resume, bad specs."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.calibration import prepare, run_fit
from sim.calibration.evaluate import Evaluator
from sim.calibration.measures import Measure
from sim.calibration.params import ParameterSpec, expand_key, resolve
from sim.calibration.report import write_fitted, write_fitted_report, write_report
from sim.calibration.setup import base_raw
from sim.calibration.spec import load_spec
from sim.cli import main
from sim.config import load_raw
from sim.errors import ConfigError

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny.yaml"
TRUE_LEVEL, TRUE_FAILED = 1.3, 0.12  # the "unknown" parameters the fit must find
YEAR = {"start": "2023-01-01", "end": "2023-12-31"}


def _spec(tmp_path: Path, **extra: object) -> Path:
    spec = {
        "name": "tiny_recovery",
        "base": str(TINY),
        "observed": "observed.csv",
        "replications": 2,
        "seed": 5,
        "targets": [
            {"metric": "orders", "segment": "*", "period": "2023", "simulated": YEAR, "tolerance": 0.03},
            {
                "metric": "kpi_delivery_on_planned_day",
                "period": "2023",
                "simulated": YEAR,
                "tolerance_abs": 0.01,
            },
            {
                "metric": "deliveries",
                "period": "2023",
                "simulated": YEAR,
                "holdout": True,
                "naive_period": "2022",
            },
        ],
        "parameters": {
            "demand_level": {"keys": ["demand.use_rates.*.*"], "mode": "scale", "bounds": [0.5, 2.0]},
            "failed_delivery": {"keys": ["transport.failed_delivery_probability"], "bounds": [0.0, 0.3]},
        },
        "optimiser": {"max_evaluations": 16},
        "output": "fitted.yaml",
        **extra,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The tiny config's own output at the true parameters, with seeds the fit never uses."""
    folder = tmp_path_factory.mktemp("truth")
    names = ["orders", "orders_Town", "orders_Village", "kpi", "deliveries"]
    measures = {
        "orders": Measure(metric="orders", **YEAR),
        "orders_Town": Measure(metric="orders", segment="Town", **YEAR),
        "orders_Village": Measure(metric="orders", segment="Village", **YEAR),
        "kpi": Measure(metric="kpi_delivery_on_planned_day", **YEAR),
        "deliveries": Measure(metric="deliveries", **YEAR),
    }
    raw = load_raw(TINY)
    ev = Evaluator(raw, measures, replications=4, seed=777, cache_dir=folder / "cache", workers=1)
    keys = expand_key(raw["demand"], "use_rates.*.*")
    settings = [
        (f"demand.{k}", float(v) * TRUE_LEVEL)
        for k in keys
        for v in [raw["demand"]["use_rates"][k.split(".")[1]][k.split(".")[2]]]
    ]
    settings.append(("transport.failed_delivery_probability", TRUE_FAILED))
    sample = ev.evaluate([settings])[0]
    return {n: sample[:, i] for i, n in enumerate(names)}


def _observed(tmp_path: Path, truth: dict[str, np.ndarray]) -> None:
    rows = ["metric,segment,period,value,unit,source"]
    for name, seg in (("orders", "all"), ("orders_Town", "Town"), ("orders_Village", "Village")):
        rows.append(f"orders,{seg},2023,{truth[name].mean()},count,simulated truth")
    rows.append(f"kpi_delivery_on_planned_day,all,2023,{truth['kpi'].mean()},share,simulated truth")
    rows.append(f"deliveries,all,2023,{truth['deliveries'].mean()},count,simulated truth")
    rows.append(f"deliveries,all,2022,{truth['deliveries'].mean() * 0.9},count,naive row")
    (tmp_path / "observed.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_calibration_recovers_known_parameters_and_resumes(
    tmp_path: Path, truth: dict[str, np.ndarray]
) -> None:
    _observed(tmp_path, truth)
    spec = _spec(tmp_path)
    problem = prepare(spec, out=tmp_path / "out", workers=1)
    result = run_fit(problem, log=lambda s: None)
    level, failed = result.fitted
    # Tolerance from replications: the fit compares a mean of 2 replications with a mean of 4 others, so
    # the standard error of the difference is sd x sqrt(1/4 + 1/2); orders scale with the level, and the
    # delivery KPI falls by about (1 - other misses) per unit of failed deliveries.
    rel_se = truth["orders"].std(ddof=1) / truth["orders"].mean() * math.sqrt(1 / 4 + 1 / 2)
    kpi_se = truth["kpi"].std(ddof=1) * math.sqrt(1 / 4 + 1 / 2)
    assert abs(level / TRUE_LEVEL - 1) <= 4 * rel_se + 0.01, (level, rel_se)
    assert abs(failed - TRUE_FAILED) <= 4 * kpi_se / 0.8 + 0.01, (failed, kpi_se)
    assert result.cost_after < result.cost_before

    data = write_report(result)
    assert data["degrees_of_freedom"] == 4 - 2
    assert [h["target"] for h in data["holdouts"]] == ["deliveries[all] 2023"]
    write_fitted(result, tmp_path / "fitted.yaml", data)
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text(encoding="utf-8"))
    assert fitted["transport"]["failed_delivery_probability"] == pytest.approx(failed, rel=1e-5)
    assert fitted["demand"]["use_rates"]["bed"]["old"] == pytest.approx(10 * level, rel=1e-5)
    text = (tmp_path / "fitted.yaml").read_text(encoding="utf-8")
    assert "kpi_delivery_on_planned_day[all] 2023" in text.split("failed_delivery_probability")[1]
    # the report beside the fitted file names the file's bytes and leaves the trace in results/
    beside = json.loads(write_fitted_report(data, tmp_path / "fitted.yaml").read_text(encoding="utf-8"))
    assert beside["fitted_sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert "trace" not in beside
    assert [t["target"] for t in beside["targets"]] == [t["target"] for t in data["targets"]]

    # a second run of the same spec (as after a kill) takes every evaluation from the cache
    again = run_fit(prepare(spec, out=tmp_path / "out", workers=1), log=lambda s: None)
    assert again.problem.evaluator.runs == 0
    assert again.fitted == result.fitted


def test_wildcards_expand_over_mappings_and_lists() -> None:
    data = {"a": {"x": {"v": 1}, "y": {"v": 2}, "z": {}}, "l": [{"m": 1}, {"m": 2}]}
    assert expand_key(data, "a.*.v") == ["a.x.v", "a.y.v"]
    assert expand_key(data, "l.*.m") == ["l.0.m", "l.1.m"]
    assert expand_key(data, "a.q.v") == []
    assert expand_key(data, "a.x*.v") == ["a.x.v"]


def test_scale_parameter_keeps_the_shape_of_its_group() -> None:
    resolved = {"u": {"a": 2.0, "b": 6.0}}
    (p,) = resolve({"g": ParameterSpec(keys=["u.*"], mode="scale", bounds=(0.5, 2))}, resolved, "parameters")
    assert p.settings(1.5) == [("u.a", 3.0), ("u.b", 9.0)]
    assert p.from_unit(p.to_unit(1.7)) == pytest.approx(1.7)


def test_spec_resolves_without_runs(tmp_path: Path) -> None:
    (tmp_path / "observed.csv").write_text(
        "metric,segment,period,value\norders,all,2023,1\norders,Town,2023,1\norders,Village,2023,1\n"
        "kpi_delivery_on_planned_day,all,2023,0.9\ndeliveries,all,2023,5\ndeliveries,all,2022,5\n",
        encoding="utf-8",
    )
    problem = prepare(_spec(tmp_path), out=tmp_path / "out")
    assert [p.name for p in problem.params] == ["demand_level", "failed_delivery"]
    assert len(problem.params[0].keys) == 6
    assert len(problem.targets) == 4 and len(problem.holdouts) == 1
    spec = load_spec(_spec(tmp_path))
    assert base_raw(spec.base, spec.set, tmp_path)["name"] == "tiny"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parameters": {"p": {"keys": ["demand.nothing.*"], "bounds": [0, 1]}}}, "matches no key"),
        ({"parameters": {"p": {"keys": ["horizon.years"], "bounds": [2, 1]}}}, "lower must be below"),
        ({"optimiser": {"method": "magic"}}, "optimiser.method"),
        (
            {
                "parameters": {
                    "p": {"keys": ["categories.*.return_share"], "mode": "scale", "bounds": [0.5, 1.5]}
                }
            },
            "parameters.p: at its upper bound 1.5",
        ),
        ({"replications": 0}, "replications"),
        ({"targets": [{"metric": "nope", "period": "2023", "simulated": {}}]}, "no row of observed.csv"),
    ],
)
def test_bad_spec_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, object], message: str
) -> None:
    (tmp_path / "observed.csv").write_text(
        "metric,segment,period,value\norders,all,2023,1\n", encoding="utf-8"
    )
    spec = _spec(tmp_path, **change)
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    if "targets" not in change:
        data["targets"] = [data["targets"][0] | {"segment": "all"}]
    spec.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["calibrate", str(spec), "--check", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("hmsim calibrate: ") for line in err)
    assert message in err[0]
    assert not (tmp_path / "fitted.yaml").exists()


ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    *sorted((ROOT / "calibration").glob("*.yaml")),
    *sorted((ROOT / "configs" / "sensitivity").glob("*.yaml")),
    *sorted((ROOT / "configs" / "optimise").glob("*.yaml")),
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_specs_resolve(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = {"calibration": "calibrate", "sensitivity": "sensitivity", "optimise": "optimise"}[
        path.parent.name
    ]
    assert main([command, str(path), "--check", "--out", str(tmp_path)]) == 0, capsys.readouterr().err


@pytest.mark.slow
def test_in_process_local_pool_and_dask_evaluate_identically(tmp_path: Path) -> None:
    raw = load_raw(TINY)
    raw["horizon"]["years"] = 0.3
    measures = {"orders": Measure(metric="orders"), "kpi": Measure(metric="kpi_delivery_on_planned_day")}
    points = [[("transport.failed_delivery_probability", p)] for p in (0.0, 0.1)]

    def evaluate(folder: str, **executor: object) -> list[np.ndarray]:
        ev = Evaluator(raw, measures, 2, 3, tmp_path / folder, **executor)  # type: ignore[arg-type]
        return ev.evaluate(points)

    reference = evaluate("one", workers=1)
    assert reference[0][:, 1].mean() > reference[1][:, 1].mean()  # failed deliveries lower the KPI
    for got in (evaluate("two", workers=2),):
        assert all(np.array_equal(a, b) for a, b in zip(got, reference, strict=True))
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask = evaluate("dask", dask=cluster.scheduler_address)
    assert all(np.array_equal(a, b) for a, b in zip(on_dask, reference, strict=True))


def test_money_measures_agree_with_the_ledger_and_product_tables() -> None:
    from sim.calibration.measures import Context, compute_measure
    from sim.config import load_scenario
    from sim.economics import compute
    from sim.model import run

    scenario = load_scenario(DATA / "tiny_economics.yaml")
    output = run(scenario, 1)
    economy = compute(output, scenario)
    ctx = Context(output, economy.ledger, {"rent": ["revenue_rent"]}, economy.products)
    led = economy.ledger
    rent = led[led["account"].astype(str) == "revenue_rent"]
    town = float(rent.loc[rent["principal"].astype(str) == "Town", "amount"].sum())
    munis = float(rent.loc[~rent["principal"].astype(str).isin(["region", "centre"]), "amount"].sum())
    town_m = Measure(kind="ledger", accounts=["group:rent"], principals="Town")
    assert compute_measure(town_m, ctx) == pytest.approx(town)
    share = Measure(
        kind="ratio",
        numerator=town_m,
        denominator=Measure(kind="ledger", accounts=["revenue_rent"], principals="municipalities"),
    )
    assert compute_measure(share, ctx) == pytest.approx(town / munis)
    cost = Measure(kind="products", metric="product_cost", scale=-0.001)
    assert compute_measure(cost, ctx) == pytest.approx(-economy.products["product_cost"].sum() / 1000)


def test_scale_parameters_on_a_shared_key_multiply_and_set_parameters_do_not_share() -> None:
    from sim.calibration.params import settings

    resolved = {"u": {"a": {"young": 2.0, "old": 4.0}, "b": {"young": 1.0, "old": 3.0}}}
    specs = {
        "level": ParameterSpec(keys=["u.*.*"], mode="scale", bounds=(0.5, 2)),
        "young": ParameterSpec(keys=["u.*.young"], exclude=["u.b.*"], mode="scale", bounds=(0.5, 2)),
    }
    params = resolve(specs, resolved, "parameters")
    assert dict(settings(params, [1.5, 2.0])) == {
        "u.a.young": 2.0 * 1.5 * 2.0,
        "u.a.old": 4.0 * 1.5,
        "u.b.young": 1.0 * 1.5,
        "u.b.old": 3.0 * 1.5,
    }
    clash = {**specs, "fixed": ParameterSpec(keys=["u.a.old"], bounds=(1, 5))}
    with pytest.raises(ConfigError, match=r"parameters.fixed: u.a.old is also set by parameter 'level'"):
        resolve(clash, resolved, "parameters")


def test_constraint_is_a_residual_on_the_parameters_geometric_mean() -> None:
    from sim.calibration.fit import resolve_constraints
    from sim.calibration.spec import ConstraintSpec

    resolved = {"m": {"a": 1.0, "b": 1.0, "c": 1.0}}
    specs = {f"f_{k}": ParameterSpec(keys=[f"m.{k}"], bounds=(0.1, 10)) for k in "abc"}
    params = resolve(specs, resolved, "parameters")
    (c,) = resolve_constraints([ConstraintSpec(parameters=["f_*"], tolerance=0.01)], params)
    assert c.mean([2.0, 0.5, 1.0]) == pytest.approx(1.0)
    assert c.residual([2.0, 0.5, 1.0]) == pytest.approx(0.0)
    assert c.residual([2.0, 2.0, 2.0]) == pytest.approx((2.0 - 1.0) / 0.01)
    with pytest.raises(ConfigError, match=r"constraints\[0\].parameters: \['g_\*'\]: match no parameter"):
        resolve_constraints([ConstraintSpec(parameters=["g_*"])], params)


def test_report_flags_parameters_at_a_bound_or_outside_their_plausible_range() -> None:
    from sim.calibration.params import implausible
    from sim.calibration.report import flags

    resolved = {"x": 1.0}
    (p,) = resolve(
        {"f": ParameterSpec(keys=["x"], bounds=(0.2, 5.0), plausible=(0.5, 2.0))}, resolved, "parameters"
    )
    assert implausible(p, 3.0) == "above" and implausible(p, 0.4) == "below" and implausible(p, 1.0) == ""
    row = {"parameter": "f", "fitted": 5.0, "bounds": [0.2, 5.0], "plausible": [0.5, 2.0]}
    assert flags([{**row, "at_bound": "upper", "implausible": "above"}]) == [
        "f = 5: at its upper bound 5 and above its plausible range [0.5, 2]"
    ]
    assert flags([{**row, "fitted": 1.0, "at_bound": "", "implausible": ""}]) == []


def test_cache_keys_change_with_the_model_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.calibration.evaluate as evaluate

    ev = Evaluator(load_raw(TINY), {"orders": Measure(metric="orders", **YEAR)}, 1, 1, tmp_path, workers=1)
    before = ev._key("config", 1)
    monkeypatch.setattr(evaluate, "code_hash", lambda: "other code")
    assert ev._key("config", 1) != before


def test_a_fit_stopped_by_its_budget_says_so_plainly() -> None:
    from sim.calibration.fit import BUDGET_MESSAGE
    from sim.calibration.report import budget_note

    data = {"message": BUDGET_MESSAGE, "evaluations": 27, "cost_before": 30.34, "cost_after": 5.324}
    note = budget_note(data)
    assert note is not None and note.startswith(
        "budget-limited: 27 evaluations, cost 30.34 -> 5.324, not converged"
    )
    assert budget_note({**data, "message": "`ftol` termination condition is satisfied."}) is None


def test_holders_measure_splits_the_devices_on_rent_by_age_band() -> None:
    from sim.calibration.measures import Context, compute_measure
    from sim.config import load_scenario
    from sim.model import run

    out = run(load_scenario(TINY, ["horizon.years=0.3"]), 1)
    ctx = Context(out, None, {})
    share = {
        b: compute_measure(Measure(kind="holders", bands=[b], end="2023-03-31"), ctx)
        for b in ("young", "old")
    }
    assert 0 < share["old"] < 1 and share["young"] + share["old"] == pytest.approx(1.0)
    both = compute_measure(Measure(kind="holders", bands=["young", "old"], end="2023-03-31"), ctx)
    assert both == pytest.approx(1.0)
    # the timeseries measure sums the daily table; the summary counts orders its own way
    orders = compute_measure(Measure(kind="timeseries", metric="orders", end="2023-03-31"), ctx)
    assert orders == compute_measure(Measure(metric="orders", end="2023-03-31"), ctx) > 0
    with pytest.raises(KeyError, match="'nonsense': not in the run's timeseries"):
        compute_measure(Measure(kind="timeseries", metric="nonsense"), ctx)
    with pytest.raises(KeyError, match="age_99"):
        compute_measure(Measure(kind="holders", bands=["age_99"]), ctx)
    with pytest.raises(ValueError, match="kind holders needs bands"):
        Measure(kind="holders")


def test_derived_trend_makes_expected_rented_orders_grow_at_the_target() -> None:
    """The trend is derived from population alone; applied, the expected orders of the rented categories
    (recomputed by the demand model with the trend in force) grow by the target a year."""
    from sim.calibration.derive import demographic_growth, derive, expected_growth
    from sim.calibration.spec import DerivedSpec

    raw = load_raw(Path(__file__).resolve().parents[1] / "configs" / "regions" / "vastmanland.yaml")
    spec = DerivedSpec(kind="trend_for_growth", growth=0.05, years=5)
    ((key, trend),) = derive(raw, [], {"demand.trend.growth": spec})
    assert key == "demand.trend.growth"
    base = demographic_growth(raw, 5, [])
    assert (1 + base) * (1 + trend) == pytest.approx(1.05, abs=1e-5)
    # with the derived trend in force, the demand model's expected rented orders grow by the target
    assert expected_growth(raw, 5, [], trend=trend) == pytest.approx(0.05, abs=2e-4)
    weighted = DerivedSpec(kind="trend_for_growth", growth=0.02, band_weight=["special_housing_share"])
    ((_, trend_sh),) = derive(raw, [], {"demand.trend.growth": weighted})
    assert expected_growth(raw, 5, ["special_housing_share"], trend=trend_sh) == pytest.approx(0.02, abs=2e-4)
