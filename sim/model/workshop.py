"""Staff pools (technicians, consultants) as multi-server priority queues on the working-time clock.

A pool has ``round(count x staffing(day))`` servers (summer staffing lowers it). A job needs ``hours`` of
work; a server busy with it is occupied for ``hours / productive_share`` working hours, which pass only
inside opening hours on workdays (see :class:`sim.model.calendar.Calendar`). Jobs arriving when the centre
is closed wait for the next opening. At most one SimPy timeout per job (none in a pool without events, see
below); no process per job or per server.

Waiting jobs start by priority class, first come first served within a class: the pool's ``priority`` names
job kinds served before all others (e.g. corrective repairs before preventive maintenance, which a centre
postpones when short-staffed); kinds not named share the last class.

A pool without events (``events=False``: the service technicians, whose jobs change no device, stock or
route, and the reconditioning technicians, whose completions return devices to stock) keeps no SimPy event
per job: its running jobs' ends and its submissions due later (:meth:`ServerPool.submit_at`, e.g. a work
order waiting for parts) wait in the pool's own heap and are processed, in the order SimPy would have
processed them (time, then the order they were scheduled in), whenever the pool is next touched (a
submission, the daily pull, a read of its state, the end of the run) or its owner catches up with it before
reading what its completions change (:meth:`ServerPool.catch_up`; for the reconditioning pools,
:meth:`sim.model.depot.DepotStock.catch_up` before stock, backorders or ready queues are read).
Each completion still frees its server at its exact time and starts the next queued job then, and each
submission arrives at its own time, so every job's start and end are those of the event-per-job pool. The
one difference is a tie with another component's event: a completion or due submission at exactly the
instant of a direct submission is processed first here, while SimPy would order the two by when their
events were scheduled. With continuous work hours such ties do not occur; fixed hours (``dist: fixed``) can
produce them (a job ending exactly at the close or a vehicle's return), and then the completion comes first,
which can hand a different unit to a backorder than the event-per-job pool did. No shipped config draws
technicians' hours from a fixed distribution.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, get_args

import numpy as np
import simpy

from sim.config.schema import JobKind
from sim.model.calendar import Calendar
from sim.model.window import RowWindow
from sim.output import SpillFolder

JOB_KINDS: tuple[str, ...] = get_args(JobKind)  # declared once, in the schema
POOL_NAMES = ("reconditioning_technicians", "service_technicians", "consultants")


def _nothing() -> None:
    return None


JOB_COLUMNS = {
    "pool": "b", "kind": "b", "depot": "h", "municipality": "h", "category": "h", "device": "q",
    "created": "d", "times": "d", "hours": "d", "ref": "q",
}  # fmt: skip
# a job's start and end (days) and working-clock span (hours), TIMES_WIDTH values per job in one column: a job
# is logged with one extend of NO_TIMES (not started) instead of four appends, and its start sets all four
JOB_PACKED: dict[str, tuple[str, ...]] = {"times": ("start", "end", "w_start", "w_end")}
TIME_START, TIME_END, TIME_W_START, TIME_W_END = range(4)
TIMES_WIDTH = 4
NO_TIMES = array("d", [math.nan] * TIMES_WIDTH)


class JobLog:
    """Columnar record of every job: who, what, when (days) and working-clock span (hours).

    Job ``j``'s values are at position ``p = row(j)`` of each column (its times at
    ``p * TIMES_WIDTH + TIME_START`` etc.): jobs done are flushed to disk at year starts (:meth:`flush`, see
    sim/model/window.py).
    """

    def __init__(self, folder: SpillFolder | None = None) -> None:
        self.window = RowWindow(
            "jobs", JOB_COLUMNS, folder if folder is not None else SpillFolder(), JOB_PACKED
        )
        cols = self.window.columns
        self.pool = cols["pool"]
        self.kind = cols["kind"]
        self.depot = cols["depot"]
        self.municipality = cols["municipality"]
        self.category = cols["category"]
        self.device = cols["device"]
        self.created = cols["created"]
        self.times = cols["times"]  # start, end (days), w_start, w_end (working clock): NaN until started
        self.hours = cols["hours"]
        self.ref = cols["ref"]  # order id for fittings, rental id for other jobs (-1: initial backlog)
        self.row = self.window.row
        # called before each job is logged (the engine reports the work-order needs due by then, see
        # sim/model/fleet.py)
        self.before_add: Callable[[], None] = _nothing

    def add(
        self,
        pool: int,
        kind: int,
        depot: int,
        municipality: int,
        category: int,
        device: int,
        created: float,
        hours: float,
        ref: int = -1,
    ) -> int:
        self.before_add()
        self.pool.append(pool)
        self.kind.append(kind)
        self.depot.append(depot)
        self.municipality.append(municipality)
        self.category.append(category)
        self.device.append(device)
        self.created.append(created)
        self.times.extend(NO_TIMES)
        self.hours.append(hours)
        self.ref.append(ref)
        window = self.window
        job = window.count
        window.count = job + 1
        return job

    def __len__(self) -> int:
        return self.window.count

    def flush(self, now: float, pending: set[int]) -> None:
        """Write the jobs done by ``now`` to disk, except those logged since the last flush or the run's start
        and the ``pending`` ones (completions not yet processed by their pool)."""
        window = self.window
        times = np.frombuffer(self.times, dtype=np.float64)
        done = times[TIME_END::TIMES_WIDTH] < now  # a job not started has no end (NaN)
        del times
        if pending:
            done &= ~np.isin(window.ids(), np.fromiter(pending, dtype=np.int64, count=len(pending)))
        window.flush(done)


class ServerPool:
    """A pool of identical servers sharing one priority queue; ``on_done[kind](job, t)`` runs at completion
    (``t``: the completion time, which is the current time when the pool keeps SimPy events)."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        log: JobLog,
        count: int,
        productive_share: float,
        on_done: dict[int, Callable[[int, float], None]],
        priority: tuple[str, ...] = (),
        events: bool = True,
    ) -> None:
        self.env = env
        self.calendar = calendar
        self.log = log
        self.servers = [round(count * s) for s in calendar.staffing.tolist()]
        self.inflate = 1.0 / productive_share
        self.on_done = on_done
        last = len(priority)
        self.rank = [priority.index(k) if k in priority else last for k in JOB_KINDS]
        self.queues: list[deque[int]] = [deque() for _ in range(last + 1)]
        self._busy = 0
        self.events = events
        # pool without events: (time, order scheduled, job) of running jobs' ends and (time, order, -job - 1)
        # of submissions due later
        self._ends: list[tuple[float, int, int]] = []
        self._scheduled = 0

    @property
    def busy(self) -> int:
        """Servers busy now."""
        if self._ends:
            self._settle(self.env.now)
        return self._busy

    def __len__(self) -> int:
        """Jobs waiting (not yet started)."""
        if self._ends:
            self._settle(self.env.now)
        return sum(len(q) for q in self.queues)

    def set_count(self, count: int, staffing: list[float], day: int) -> None:
        """Staff ``count`` from ``day`` on (a dated change; ``staffing`` per day, summer staffing in it)."""
        for d in range(day, len(self.servers)):
            self.servers[d] = round(count * staffing[d])

    def submit(self, job: int) -> None:
        """Start ``job`` now if a server is free (work begins at the next opening), else queue it."""
        now = self.env.now
        if self._ends:
            self._settle(now)
        if self._busy < self.servers[int(now)]:
            self._start(job, now)
        else:
            log = self.log
            w = log.window
            p = job - w.shift if job >= w.base else w.row(job)  # the window's fast path, inlined
            self.queues[self.rank[log.kind[p]]].append(job)

    def submit_at(self, job: int, when: float) -> None:
        """Submit ``job`` at ``when`` (not before now): a SimPy event, or the pool's heap without events."""
        if self.events:
            self.env.timeout(when - self.env.now, value=job).callbacks.append(self._submit_event)
        else:
            self._scheduled += 1
            heapq.heappush(self._ends, (when, self._scheduled, -job - 1))

    def _submit_event(self, event: Any) -> None:
        self.submit(event.value)

    def _start(self, job: int, now: float) -> None:
        cal, log = self.calendar, self.log
        self._busy += 1
        w = log.window
        p = job - w.shift if job >= w.base else w.row(job)
        w0 = cal.work_clock(now)
        w1 = w0 + log.hours[p] * self.inflate
        end = cal.from_work_clock(w1)
        times, q = log.times, p * TIMES_WIDTH
        times[q + TIME_START] = cal.next_open(now)
        times[q + TIME_END] = end
        times[q + TIME_W_START] = w0
        times[q + TIME_W_END] = w1
        if self.events:
            self.env.timeout(end - now, value=job).callbacks.append(self._finish)
        else:  # at the time SimPy's timeout would end (now + (end - now) may differ from end in the last bit)
            self._scheduled += 1
            heapq.heappush(self._ends, (now + (end - now), self._scheduled, job))

    def _finish(self, event: Any) -> None:
        job: int = event.value
        self._busy -= 1
        log = self.log
        w = log.window
        now = self.env.now
        self.on_done[log.kind[job - w.shift if job >= w.base else w.row(job)]](job, now)
        self._pull(now)

    def _settle(self, now: float) -> None:
        """Process the completions and due submissions (pool without events) up to and including ``now``,
        each at its own time."""
        ends = self._ends
        log = self.log
        w = log.window
        while ends and ends[0][0] <= now:
            t, _, job = heapq.heappop(ends)
            if job >= 0:  # a completion
                self._busy -= 1
                self.on_done[log.kind[job - w.shift if job >= w.base else w.row(job)]](job, t)
                self._pull(t)
            else:  # a submission due at t
                job = -job - 1
                if self._busy < self.servers[int(t)]:
                    self._start(job, t)
                else:
                    p = job - w.shift if job >= w.base else w.row(job)
                    self.queues[self.rank[log.kind[p]]].append(job)

    def catch_up(self, now: float) -> None:
        """Process the completions and submissions up to and including ``now`` (pool without events: before
        anyone reads what its completions change)."""
        if self._ends:
            self._settle(now)

    def settle(self, until: float) -> None:
        """Process the completions and submissions before ``until`` (the end of the run: later ones never
        happen)."""
        ends = self._ends
        while ends and ends[0][0] < until:
            self._settle(ends[0][0])

    def pending(self) -> list[int]:
        """Jobs whose completion this pool has not processed yet (without events: in its heap)."""
        return [job for _, _, job in self._ends if job >= 0]

    def pull(self) -> None:
        """Start queued jobs while servers are free (called at completions and at each workday start)."""
        now = self.env.now
        if self._ends:
            self._settle(now)
        self._pull(now)

    def _pull(self, now: float) -> None:
        cap = self.servers[int(now)]
        for queue in self.queues:
            while queue and self._busy < cap:
                self._start(queue.popleft(), now)
            if self._busy >= cap:
                return
