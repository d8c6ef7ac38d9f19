"""Named random streams: one SeedSequence per run, one independent child stream per stochastic source.

A stream's seed depends only on the run seed and the stream's name, so adding a process or changing how
often one source draws never shifts the numbers of another source, and replication ``r`` gets the same
streams in every scenario of a batch (common random numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np


def uniform(gen: np.random.Generator, n: int) -> np.ndarray:
    """Block draw of uniforms on [0, 1) (for :meth:`Streams.buffered`)."""
    return gen.random(n)


def _name_key(name: str) -> tuple[int, int]:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")


class Streams:
    """Factory of named ``numpy.random.Generator`` objects derived from one run seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._made: dict[str, np.random.Generator] = {}

    def generator(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` (created once per run, then reused)."""
        gen = self._made.get(name)
        if gen is None:
            seq = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._made[name] = gen
        return gen

    def buffered(
        self, name: str, draw: Callable[[np.random.Generator, int], np.ndarray], block: int = 512
    ) -> BufferedDraws:
        """Draws from stream ``name`` served one at a time from blocks (fast in hot loops)."""
        return BufferedDraws(self.generator(name), draw, block)


class BufferedDraws:
    """Serve scalar draws from vectorised blocks; the sequence equals that of one long vector draw."""

    __slots__ = ("_block", "_buf", "_draw", "_gen", "_i")

    def __init__(
        self, gen: np.random.Generator, draw: Callable[[np.random.Generator, int], np.ndarray], block: int
    ) -> None:
        self._gen = gen
        self._draw = draw
        self._block = block
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        i = self._i
        if i >= len(self._buf):
            self._buf = self._draw(self._gen, self._block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]

    def take(self, n: int) -> list[float]:
        """The next ``n`` draws (the same numbers as ``n`` calls of :meth:`next`)."""
        out: list[float] = []
        while len(out) < n:
            i = self._i
            if i >= len(self._buf):
                self._buf = self._draw(self._gen, self._block).tolist()
                i = 0
            j = min(len(self._buf), i + n - len(out))
            out.extend(self._buf[i:j])
            self._i = j
        return out
