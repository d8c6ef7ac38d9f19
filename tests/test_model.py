"""Model invariants on every test run: devices conserved, no negative stock, no effect before its cause."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy

from sim.config import load_scenario
from sim.config.schema import Calendar as CalendarConfig
from sim.model import Simulation, engine, run, window
from sim.model.calendar import Calendar
from sim.model.collect import collect
from sim.model.invariants import InvariantError, check_state
from sim.model.workshop import JOB_KINDS, JobLog, ServerPool
from sim.output import RunOutput

VARIANTS = {
    "plain": [],
    "dropoffs and tight capacity": [
        "transport.dropoff_share=0.4",
        "transport.routes.town.capacity_units=8",
        "depots.Depot.reconditioning_room=15",
        "depots.Depot.service_technicians.count=1",
    ],
}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def checked_run(request: pytest.FixtureRequest, tiny_path: Path) -> RunOutput:
    scenario = load_scenario(tiny_path, [*VARIANTS[request.param], "horizon.years=2"])
    return run(scenario, seed=11, check_every_days=1)  # state invariants checked at every day's end


def test_devices_are_conserved(checked_run: RunOutput) -> None:
    dev = checked_run["devices"]
    states = dev["state"].value_counts()
    assert states.sum() == len(dev)
    purchased = checked_run["depot_timeseries"].query("metric == 'purchases'")["value"].sum()
    assert len(dev) == dev["initial"].sum() + purchased
    ended = dev["state"].isin(["scrapped", "sold", "lost"])
    assert dev.loc[ended, "end_day"].notna().all() and dev.loc[~ended, "end_day"].isna().all()


def test_no_negative_levels(checked_run: RunOutput) -> None:
    for name in ("timeseries", "depot_timeseries"):
        assert (checked_run[name]["value"] >= 0).all()


def test_no_effect_before_its_cause(checked_run: RunOutput) -> None:
    out = checked_run
    dl = out["deliveries"]
    assert (dl["delivered_day"] >= dl["order_day"]).all()
    assert (dl["delivered_day"].astype(int) >= dl["planned_day"]).all()
    dev = out["devices"].set_index("device")
    r = out["rentals"]
    assert (r["end_day"] > r["start_day"]).all()
    issued = r[~r["initial"]]
    assert (issued["start_day"] >= dev.loc[issued["device"], "purchased_day"].to_numpy()).all()
    # a device's rentals follow each other without overlap
    r = r.sort_values(["device", "start_day"])
    same = r["device"].to_numpy()[1:] == r["device"].to_numpy()[:-1]
    assert (r["start_day"].to_numpy()[1:][same] >= r["end_day"].to_numpy()[:-1][same]).all()
    # scrapped devices are scrapped after their last rental ended
    last_end = r.groupby("device")["end_day"].max()
    scrapped = dev[dev["state"] == "scrapped"]
    assert (scrapped["end_day"] >= last_end.reindex(scrapped.index).fillna(-np.inf)).all()
    jobs = out["jobs"]
    started = jobs.dropna(subset=["start_day"])
    assert (started["start_day"] >= started["created_day"]).all()
    done = jobs.dropna(subset=["end_day"])
    assert (done["end_day"] >= done["start_day"]).all()
    # technical work orders happen while the device is on rent
    tech = jobs[jobs["kind"].isin(["corrective", "preventive"])]
    spans = out["rentals"].set_index("device")
    for _, job in tech.head(300).iterrows():
        rows = spans.loc[[job["device"]]]
        assert ((rows["start_day"] <= job["created_day"]) & (job["created_day"] < rows["end_day"])).any()


def test_staff_are_never_busier_than_present(checked_run: RunOutput) -> None:
    staff = checked_run["staff"]
    assert (staff["busy_hours"] <= staff["available_hours"] + 1e-6).all()


def test_invariant_check_detects_a_lost_device(tiny_path: Path) -> None:
    sim = Simulation(load_scenario(tiny_path, ["horizon.years=0.1"]), seed=1)
    sim.run()
    k, c = 0, 0
    stock = sim.stock.new[k][c] or sim.stock.recond[k][c]
    stock.pop()  # a device disappears from stock without changing state
    with pytest.raises(InvariantError, match="stock"):
        check_state(sim)


def test_invariant_check_reads_every_components_holdings(tiny_path: Path) -> None:
    """Each component reports what it holds; a counter or structure out of step with the devices' states
    is named, whichever component keeps it."""
    sim = Simulation(load_scenario(tiny_path, ["horizon.years=0.1"]), seed=1)
    sim.run()
    check_state(sim)
    breaks = (
        (lambda: sim.fleet.onrent_mc.__setitem__(0, sim.fleet.onrent_mc[0] + 1), "on-rent counters"),
        (lambda: setattr(sim.routes, "dropoffs_pending", sim.routes.dropoffs_pending + 1), "drop-offs"),
        (lambda: sim.to_report.append(0), "unreported returns"),
        (lambda: sim.stock.in_workshop_kc.__setitem__(0, sim.stock.in_workshop_kc[0] - 10**6), "negative"),
        (lambda: sim.fleet.tracked_kc.__setitem__(0, sim.fleet.tracked_kc[0] + 1), "tracked fleet"),
    )
    for do, message in breaks:
        fresh = Simulation(load_scenario(tiny_path, ["horizon.years=0.1"]), seed=1)
        fresh.run()
        sim = fresh
        do()
        with pytest.raises(InvariantError, match=message):
            check_state(sim)


def test_output_tables_have_the_documented_columns(tiny_path: Path) -> None:
    sim = Simulation(load_scenario(tiny_path, ["horizon.years=0.2"]), seed=3)
    out = collect(sim.run().records())
    assert {"date", "municipality", "category", "metric", "value"} <= set(out["timeseries"].columns)
    assert {"rental", "device", "start_day", "end_day", "payer", "tracked"} <= set(out["rentals"].columns)
    assert {"order", "planned_day", "delivered_day", "on_planned_day"} <= set(out["deliveries"].columns)
    assert {"pool", "kind", "created_day", "start_day", "end_day", "workdays_to_end"} <= set(
        out["jobs"].columns
    )
    assert pd.api.types.is_datetime64_any_dtype(out["timeseries"]["date"])
    assert out.meta["days"] == 73 and out.meta["municipalities"] == ["Town", "Village"]


def test_waiting_jobs_start_by_priority_class_then_in_arrival_order() -> None:
    """One technician, busy: waiting repairs overtake waiting preventive maintenance, each class in order."""
    env = simpy.Environment()
    cal = Calendar(CalendarConfig(), date(2023, 1, 2), 30)  # a Monday in winter: full staffing
    log = JobLog()
    done: list[int] = []
    on_done = {k: lambda job, t: done.append(job) for k in range(len(JOB_KINDS))}
    pool = ServerPool(env, cal, log, 1, 1.0, on_done, ("corrective",))
    kinds = ["preventive", "preventive", "corrective", "preventive", "corrective"]
    for i, kind in enumerate(kinds):
        pool.submit(log.add(0, JOB_KINDS.index(kind), 0, 0, 0, i, 0.0, 1.0))
    assert len(pool) == 4
    env.run(until=10)
    # job 0 was already running; then the repairs 2 and 4, then the waiting maintenance 1 and 3
    assert done == [0, 2, 4, 1, 3]
    starts = [log.window.between(0, len(log))["start"][j] for j in done]
    assert starts == sorted(starts)
    fifo = ServerPool(simpy.Environment(), cal, JobLog(), 1, 1.0, {}, ())
    assert fifo.rank == [0] * len(JOB_KINDS)


@pytest.mark.parametrize(
    "sets",
    [
        ["transport.dropoff_share=0.5"],  # returns restocked at any hour, between reconditioning completions
        ["depots.Depot.reconditioning_technicians.count=1", "depots.Depot.service_technicians.count=1"],
    ],
    ids=["drop-offs", "tight technicians"],
)
def test_pools_without_events_reproduce_the_pools_with_events(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch, sets: list[str]
) -> None:
    """The reconditioning technicians' pools keep their jobs' ends in their own heap instead of a SimPy event
    per job (for speed, sim/model/workshop.py); a pool with an event per job is the reference they must
    reproduce exactly (same seed: every table equal), wherever stock and queues are read between completions.
    (The service technicians' pool has no such reference any more: its work orders are submitted when the
    fleet catches up with their needs, at times already past, which only the heap accepts.)"""
    scenario = load_scenario(tiny_path, ["horizon.years=2", *sets])
    fast = run(scenario, 3)
    monkeypatch.setattr(engine, "EVENT_POOLS", frozenset({"consultants", "reconditioning_technicians"}))
    reference = run(scenario, 3)
    assert fast.tables.keys() == reference.tables.keys()
    for name in fast.tables:
        pd.testing.assert_frame_equal(fast[name], reference[name], obj=name)


@pytest.mark.parametrize(
    "sets",
    [[], ["transport.dropoff_share=0.5", "transport.routes.town.capacity_units=8"]],
    ids=["plain", "drop-offs and full vehicles"],
)
def test_batches_column_wise_and_one_at_a_time_agree(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch, sets: list[str]
) -> None:
    """A vehicle run's deliveries, a day's rental ends, a close's returns and a triage are handled
    column-wise when large and one item at a time when small (sim/model/window.py, ``BATCH_MIN``); forced
    either way, every table is the same (same seed)."""
    scenario = load_scenario(tiny_path, ["horizon.years=2", *sets])
    monkeypatch.setattr(window, "BATCH_MIN", 0)
    columns = run(scenario, 5)
    monkeypatch.setattr(window, "BATCH_MIN", 10**9)
    single = run(scenario, 5)
    assert columns.tables.keys() == single.tables.keys()
    for name in columns.tables:
        pd.testing.assert_frame_equal(columns[name], single[name], obj=name)
    assert len(columns["deliveries"]) > 500 and (columns["rentals"]["returned"] == True).sum() > 300  # noqa: E712


@pytest.mark.parametrize("years", [0.003, 0.5], ids=["no deliveries yet", "half a year"])
def test_collect_payer_is_the_responsibility_rules_payer(tiny_path: Path, years: float) -> None:
    """collect builds the payer from codes for speed; it must give what the rules' own definition
    (:func:`sim.responsibility.payer_column`) gives for the table, values and dtype, also when empty."""
    from sim.responsibility import payer_column

    scenario = load_scenario(tiny_path, [f"horizon.years={years}"])
    out = run(scenario, seed=1)
    for name in ("rentals", "deliveries"):
        table = out[name].drop(columns="payer")
        expected = pd.Categorical(payer_column(scenario.responsibility, table).to_numpy())
        got = out[name]["payer"]
        assert got.cat.categories.dtype == expected.categories.dtype, name
        assert list(got.astype(object)) == list(expected.astype(object)), name
    assert (len(out["deliveries"]) == 0) == (years < 0.01)
