"""Each order's random fate, drawn up front with the order (entity-level common random numbers).

Everything random that happens to a rental because of its order is drawn once, vectorised, from the
order's municipality x category stream when the order stream is generated: rental duration, whether the
device comes back (and is dropped off), pickup grouping, triage draws, reconditioning time, installation,
fitting delay and time, delivery-failure draws, and the rental's candidate work orders. The DES then
only looks fates up, so a rental's fate does not depend on the order of events: scenarios that change
capacity keep the same fates (sharper common random numbers) and one extra device changes nothing else.

Work orders: corrective candidates form a Poisson process over the rental at the bound rate
``corrective x (1 + age_factor x AGE_CAP)``; at the rental start each is kept with probability
``(1 + age_factor x min(age, AGE_CAP)) / (1 + age_factor x AGE_CAP)`` given the issued device's age then
(thinning). Preventive work orders recur every ``1 / preventive`` years from a uniform phase.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, fields

import numpy as np

from sim.config.schema import Category, Depot
from sim.model.distributions import mixture_sampler, sampler

AGE_CAP_YEARS = 15.0  # repair-rate growth with age stops here (thinning bound)
DAYS_PER_YEAR = 365.25
U_COLUMNS = ("returned", "dropoff", "group", "scrap", "work", "install", "fail1", "fail2")


@dataclass
class Fates:
    """Per-row fates plus work-order candidates in compressed rows (``wo_offset``)."""

    duration: np.ndarray
    returned: np.ndarray
    dropoff: np.ndarray
    u_group: np.ndarray
    u_scrap: np.ndarray
    u_work: np.ndarray
    recondition_hours: np.ndarray
    install: np.ndarray
    install_hours: np.ndarray
    fitting_delay: np.ndarray
    fitting_hours: np.ndarray
    u_fail1: np.ndarray
    u_fail2: np.ndarray
    wo_offset: np.ndarray
    wo_frac: np.ndarray
    wo_accept: np.ndarray
    wo_corrective: np.ndarray
    wo_hours: np.ndarray
    wo_parts_wait: np.ndarray

    ROW_FIELDS = (
        "duration",
        "returned",
        "dropoff",
        "u_group",
        "u_scrap",
        "u_work",
        "recondition_hours",
        "install",
        "install_hours",
        "fitting_delay",
        "fitting_hours",
        "u_fail1",
        "u_fail2",
    )
    WO_FIELDS = ("wo_frac", "wo_accept", "wo_corrective", "wo_hours", "wo_parts_wait")

    def __len__(self) -> int:
        return int(self.duration.size)

    @staticmethod
    def concat(parts: list[Fates]) -> Fates:
        if not parts:
            return empty_fates()
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for p in parts:
            offsets.append(p.wo_offset[1:] + base)
            base += int(p.wo_offset[-1])
        names = (*Fates.ROW_FIELDS, *Fates.WO_FIELDS)
        values = {f: np.concatenate([getattr(p, f) for p in parts]) for f in names}
        return Fates(wo_offset=np.concatenate(offsets), **values)

    def rows(self) -> FateRows:
        """The columns a rental reads at its start, as typed arrays (fast scalar reads in the event loop)."""
        rental = array("d", [0.0]) * (len(self) * FATE_WIDTH)  # filled in place: no temporary copy
        packed = np.frombuffer(rental, dtype=np.float64).reshape(-1, FATE_WIDTH)
        returned = np.asarray(self.returned, dtype=bool)
        packed[:, FATE_WAY] = LOST
        packed[returned, FATE_WAY] = PICKED_UP
        packed[returned & np.asarray(self.dropoff, dtype=bool), FATE_WAY] = DROPPED_OFF
        packed[:, FATE_GROUP] = self.u_group
        packed[:, FATE_SCRAP] = self.u_scrap
        packed[:, FATE_WORK] = self.u_work
        packed[:, FATE_RECON] = self.recondition_hours
        del packed  # the view's buffer export ends here
        return FateRows(
            rental=rental,
            **{
                name: array(code, getattr(self, name).astype(_NUMPY_TYPE[code]).tobytes())
                for name, code in _ROW_TYPECODES.items()
            },
        )

    def select(self, index: np.ndarray) -> Fates:
        """Rows ``index`` (in that order), with their work-order candidates."""
        counts = np.diff(self.wo_offset)[index]
        offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        starts = self.wo_offset[:-1][index]
        gather = np.repeat(starts - offset[:-1], counts) + np.arange(int(offset[-1]))
        values = {f: getattr(self, f)[index] for f in Fates.ROW_FIELDS}
        values.update({f: getattr(self, f)[gather] for f in Fates.WO_FIELDS})
        return Fates(wo_offset=offset, **values)


# A rental's fate after its start, packed as FATE_WIDTH floats per rental (one copy per rental start instead
# of one per field): how the device comes back (FATE_WAY: LOST, PICKED_UP or DROPPED_OFF), the pickup
# grouping and triage draws, and the reconditioning hours.
FATE_WAY, FATE_GROUP, FATE_SCRAP, FATE_WORK, FATE_RECON = range(5)
FATE_WIDTH = 5
LOST, PICKED_UP, DROPPED_OFF = 0.0, 1.0, 2.0

# typecode of each column of :class:`FateRows` (d: float, b: flag, q: index) and its numpy dtype
_ROW_TYPECODES = {
    "duration": "d",
    "wo_offset": "q",
    "wo_frac": "d",
    "wo_accept": "d",
    "wo_corrective": "b",
    "wo_hours": "d",
    "wo_parts_wait": "d",
}
_NUMPY_TYPE = {"d": np.float64, "b": np.int8, "q": np.int64}


@dataclass
class FateRows:
    """What :meth:`sim.model.fleet.Fleet.start_rentals` reads of a fate, as typed arrays of Python scalars
    (a scalar read of a numpy array builds a numpy scalar: several times slower in the hot path)."""

    duration: array[float]
    rental: array[float]  # FATE_WIDTH values per row (see FATE_WAY)
    wo_offset: array[int]
    wo_frac: array[float]
    wo_accept: array[float]
    wo_corrective: array[int]
    wo_hours: array[float]
    wo_parts_wait: array[float]


def empty_fates() -> Fates:
    z = np.zeros(0)
    columns = {f.name: z for f in fields(Fates) if f.name != "wo_offset"}
    return Fates(**columns, wo_offset=np.zeros(1, np.int64))


def draw_fates(
    gen: np.random.Generator,
    cat: Category,
    depot: Depot,
    dropoff_share: float,
    n: int,
    durations: np.ndarray | None = None,
) -> Fates:
    """Fates of ``n`` orders of one category (``durations`` given for rentals already in progress)."""
    if durations is None:
        durations = mixture_sampler(cat.rental_duration)(gen, n) if cat.rented else np.full(n, np.nan)
    u = gen.random((n, len(U_COLUMNS)))
    col = {name: u[:, i] for i, name in enumerate(U_COLUMNS)}
    recondition = sampler(cat.recondition_hours)(gen, n)
    install_hours = sampler(cat.installation_hours)(gen, n)
    fitting_delay = sampler(depot.fitting_booking_delay_days)(gen, n)
    fitting_hours = sampler(depot.fitting_hours)(gen, n)
    years = np.nan_to_num(durations) / DAYS_PER_YEAR
    bound = cat.corrective_per_device_year * (1.0 + cat.corrective_age_factor * AGE_CAP_YEARS)
    n_corr = gen.poisson(bound * years) if bound > 0 else np.zeros(n, dtype=np.int64)
    if cat.preventive_per_device_year > 0:
        interval = 1.0 / cat.preventive_per_device_year
        phase = gen.random(n) * interval
        n_prev = np.where(phase < years, np.floor((years - phase) / interval).astype(np.int64) + 1, 0)
    else:
        phase = np.zeros(n)
        n_prev = np.zeros(n, dtype=np.int64)
    counts = (n_corr + n_prev).astype(np.int64)
    total = int(counts.sum())
    offset = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    row = np.repeat(np.arange(n), counts)
    rank = np.arange(total) - offset[:-1][row]  # position within the row
    corrective = rank < n_corr[row]
    frac = gen.random(total)
    if cat.preventive_per_device_year > 0:
        k = rank - n_corr[row]
        prev_frac = (phase[row] + k / cat.preventive_per_device_year) / np.maximum(years[row], 1e-12)
        frac = np.where(corrective, frac, prev_frac)
    accept = gen.random(total)
    hours = sampler(cat.repair_hours)(gen, total)
    needs_parts = gen.random(total) < cat.spare_part_share
    parts_wait = np.where(corrective & needs_parts, sampler(cat.spare_part_wait_days)(gen, total), 0.0)
    return Fates(
        duration=durations,
        returned=col["returned"] < cat.return_share,
        dropoff=col["dropoff"] < dropoff_share,
        u_group=col["group"],
        u_scrap=col["scrap"],
        u_work=col["work"],
        recondition_hours=recondition,
        install=col["install"] < cat.installation_share,
        install_hours=install_hours,
        fitting_delay=fitting_delay,
        fitting_hours=fitting_hours,
        u_fail1=col["fail1"],
        u_fail2=col["fail2"],
        wo_offset=offset,
        wo_frac=frac,
        wo_accept=accept,
        wo_corrective=corrective,
        wo_hours=hours,
        wo_parts_wait=parts_wait,
    )
