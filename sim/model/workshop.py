"""Staff pools (technicians, consultants) as multi-server priority queues on the working-time clock.

A pool has ``round(count x staffing(day))`` servers (summer staffing lowers it). A job needs ``hours`` of
work; a server busy with it is occupied for ``hours / productive_share`` working hours, which pass only
inside opening hours on workdays (see :class:`sim.model.calendar.Calendar`). Jobs arriving when the centre
is closed wait for the next opening. One SimPy timeout per job; no process per job or per server.

Waiting jobs start by priority class, first come first served within a class: the pool's ``priority`` names
job kinds served before all others (e.g. corrective repairs before preventive maintenance, which a centre
postpones when short-staffed); kinds not named share the last class.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import Any, get_args

import simpy

from sim.config.schema import JobKind
from sim.model.calendar import Calendar

JOB_KINDS: tuple[str, ...] = get_args(JobKind)  # declared once, in the schema
POOL_NAMES = ("reconditioning_technicians", "service_technicians", "consultants")


class JobLog:
    """Columnar record of every job: who, what, when (days) and working-clock span (hours)."""

    def __init__(self) -> None:
        self.pool = array("b")
        self.kind = array("b")
        self.depot = array("h")
        self.municipality = array("h")
        self.category = array("h")
        self.device = array("q")
        self.created = array("d")
        self.start = array("d")
        self.end = array("d")
        self.hours = array("d")
        self.w_start = array("d")
        self.w_end = array("d")
        self.ref = array("q")  # order id for fittings, rental id for other jobs (-1: initial backlog)

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
        self.pool.append(pool)
        self.kind.append(kind)
        self.depot.append(depot)
        self.municipality.append(municipality)
        self.category.append(category)
        self.device.append(device)
        self.created.append(created)
        self.start.append(float("nan"))
        self.end.append(float("nan"))
        self.hours.append(hours)
        self.w_start.append(float("nan"))
        self.w_end.append(float("nan"))
        self.ref.append(ref)
        return len(self.pool) - 1

    def __len__(self) -> int:
        return len(self.pool)


class ServerPool:
    """A pool of identical servers sharing one priority queue; ``on_done[kind](job)`` runs at completion."""

    def __init__(
        self,
        env: simpy.Environment,
        calendar: Calendar,
        log: JobLog,
        count: int,
        productive_share: float,
        on_done: dict[int, Callable[[int], None]],
        priority: tuple[str, ...] = (),
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
        self.busy = 0

    def __len__(self) -> int:
        """Jobs waiting (not yet started)."""
        return sum(len(q) for q in self.queues)

    def submit(self, job: int) -> None:
        """Start ``job`` now if a server is free (work begins at the next opening), else queue it."""
        if self.busy < self.servers[int(self.env.now)]:
            self._start(job)
        else:
            self.queues[self.rank[self.log.kind[job]]].append(job)

    def _start(self, job: int) -> None:
        env, cal, log = self.env, self.calendar, self.log
        now = env.now
        self.busy += 1
        w0 = cal.work_clock(now)
        w1 = w0 + log.hours[job] * self.inflate
        end = cal.from_work_clock(w1)
        log.start[job] = cal.next_open(now)
        log.w_start[job] = w0
        log.w_end[job] = w1
        log.end[job] = end
        env.timeout(end - now, value=job).callbacks.append(self._finish)

    def _finish(self, event: Any) -> None:
        job: int = event.value
        self.busy -= 1
        self.on_done[self.log.kind[job]](job)
        self.pull()

    def pull(self) -> None:
        """Start queued jobs while servers are free (called at completions and at each workday start)."""
        cap = self.servers[int(self.env.now)]
        for queue in self.queues:
            while queue and self.busy < cap:
                self._start(queue.popleft())
            if self.busy >= cap:
                return
