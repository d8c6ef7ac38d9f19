"""The order book draws each year's orders when the year starts and drops fates once delivered."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from sim.config import load_scenario
from sim.model import Simulation
from sim.model.rng import Streams


def test_orders_drawn_per_year_equal_the_whole_horizon_drawn_at_once(tiny_path: Path) -> None:
    sim = Simulation(load_scenario(tiny_path, ["horizon.years=3"]), 5)
    book = sim.orders
    first_year = len(book)
    assert first_year > 0 and book.next_year == 1  # only the first year exists before the run
    sim.run()
    whole = sim.demand.generate(Streams(5), sim.days)
    drawn = book.stream()
    assert len(book) == len(whole) > 2 * first_year
    for name in ("time", "municipality", "category", "fitting"):
        assert np.array_equal(getattr(drawn, name), getattr(whole, name)), name
    for name in ("band", "child", "special_housing", "home_care", "unit_device", "unit_municipal"):
        assert np.array_equal(getattr(drawn.patients, name), getattr(whole.patients, name)), name
    # only the orders not delivered by the last year start keep their fates: the last year's, and the few
    # earlier ones still waiting then, at the rows fate_row gives
    ids = book.fate_ids()
    last_start = max(book.year_starts())
    assert book.base == int(np.searchsorted(whole.time, last_start))
    assert np.array_equal(ids[ids >= book.base], np.arange(book.base, len(book)))
    delivered = sim.recorder.rows(sim.recorder.deliveries)
    early = set(delivered["order"][delivered["time"] < last_start].tolist())
    stragglers = ids[ids < book.base].tolist()
    assert stragglers and early.isdisjoint(stragglers) and len(early) + len(stragglers) >= book.base
    assert [book.fate_row(o) for o in ids.tolist()] == list(range(ids.size))
    # every column a rental start reads (with the work-order candidates) and the scalar fates
    expected = whole.fates.select(ids).rows()
    for f in fields(expected):
        got, want = getattr(book.rows, f.name), getattr(expected, f.name)
        assert got.typecode == want.typecode, f.name
        values, wanted = np.frombuffer(got, got.typecode), np.frombuffer(want, want.typecode)
        assert np.array_equal(values, wanted, equal_nan=True), f.name
    for name in ("u_fail1", "fitting_hours", "install_hours"):
        assert np.array_equal(np.frombuffer(getattr(book, name)), getattr(whole.fates, name)[ids]), name


def test_use_rate_factor_scales_one_municipalitys_expected_orders(tiny_path: Path) -> None:
    """A municipality's ``use_rate_factor`` multiplies its expected orders in every year and category (the
    warm start's history too) and leaves the other municipalities' alone."""
    base = Simulation(load_scenario(tiny_path), 5).demand
    scaled = Simulation(load_scenario(tiny_path, ["municipalities.Village.use_rate_factor=1.5"]), 5).demand
    village, town = base.municipalities.index("Village"), base.municipalities.index("Town")
    assert base.annual_all[:, village].sum() > 0
    np.testing.assert_allclose(scaled.annual_all[:, village], 1.5 * base.annual_all[:, village], rtol=1e-12)
    np.testing.assert_allclose(scaled.annual_all[:, town], base.annual_all[:, town], rtol=1e-12)
