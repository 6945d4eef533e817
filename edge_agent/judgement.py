"""Per-camera judgement in the agent's process: raw checks, reference learning, confirmation.

Probes run in worker processes and return measures; the memory across probes (the reference view, the
confirmation counters) lives here, in the parent, so a restarted worker loses nothing.

`step` is pure computation; the reference file is written by `save_learned` and deleted by `relearn`, in a
thread, so the agent's event loop never waits for the disk (loading it, `open`, is run in a thread by the agent).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from contract import OFFLINE_PROBLEMS, Problem
from edge_agent.checks import PictureMetrics, changed_since, judge
from edge_agent.config import Thresholds
from edge_agent.confirm import Confirmation
from edge_agent.probe import ProbeResult
from edge_agent.reference import Reference, ReferenceStore, describe, learn

log = logging.getLogger(__name__)


@dataclass
class CameraJudge:
    camera: str
    url: str
    store: ReferenceStore
    learn_probes: int
    confirmation: Confirmation
    reference: Reference | None = None
    samples: list[PictureMetrics] = field(default_factory=list)
    unsaved: Reference | None = None  # learned, not yet written to the store
    last_signature: np.ndarray | None = None  # the previous probe's picture, in block means

    @classmethod
    def open(
        cls, camera: str, url: str, store: ReferenceStore, learn_probes: int, th: Thresholds
    ) -> CameraJudge:
        judge_ = cls(camera, url, store, learn_probes, Confirmation(th.raise_after, th.clear_after))
        judge_.reference = store.load(camera, url)
        if judge_.reference is not None:
            log.info("camera %s: reference view %s", camera, describe(judge_.reference))
        return judge_

    @property
    def learning(self) -> bool:
        return self.reference is None

    async def relearn(self) -> None:
        """Forget the reference view (memory and disk); the next healthy probes teach a new one."""
        self.reference = None
        self.unsaved = None
        self.samples.clear()
        await asyncio.to_thread(self.store.delete, self.camera)

    async def save_learned(self) -> None:
        """Write a reference learned by `step` to the store (in a thread); a failure is logged, not raised."""
        ref, self.unsaved = self.unsaved, None
        if ref is None:
            return
        try:
            await asyncio.to_thread(self.store.save, self.camera, self.url, ref)
        except OSError as exc:
            log.error(
                "camera %s: reference view not saved (%s): it is relearned after a restart", self.camera, exc
            )

    def step(
        self, result: ProbeResult, expected_fps: float | None, th: Thresholds, now: float
    ) -> list[Problem]:
        """The problems to report for this probe."""
        self.confirmation.raise_after, self.confirmation.clear_after = th.raise_after, th.clear_after
        if not result.online:
            # No picture, no evidence about it: the view problems keep their state; the cause is reported now.
            return [result.problem or Problem.NO_FRAMES]
        raw: list[Problem] = []
        if result.metrics is not None:
            raw = judge(result.metrics, result.span_s, result.fps, expected_fps, th, self.reference)
            if Problem.FROZEN in raw and (
                self.last_signature is None or changed_since(self.last_signature, result.metrics, th)
            ):
                # Still for half a second, but not (or not known to be) since the last probe.
                raw.remove(Problem.FROZEN)
            sig = result.metrics.signal
            self.last_signature = sig.signature if sig is not None else None
            if self.reference is None and not raw:
                self._learn_from(result.metrics, now)
        return [p for p in self.confirmation.step(raw) if p not in OFFLINE_PROBLEMS]

    def _learn_from(self, m: PictureMetrics, now: float) -> None:
        if m.thumb is None or m.detail is None or m.focus is None:
            return
        if (
            self.samples
            and self.samples[0].thumb is not None
            and self.samples[0].thumb.shape != m.thumb.shape
        ):
            self.samples.clear()  # the camera changed resolution while learning: start again
        self.samples.append(m)
        if len(self.samples) < self.learn_probes:
            return
        self.reference = learn(self.samples, now)
        self.samples.clear()
        self.unsaved = self.reference
        log.info("camera %s: reference view %s", self.camera, describe(self.reference))
