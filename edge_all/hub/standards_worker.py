"""The background worker of `edge-all hub`: one thread builds requested exports, one per destination
sends what is due (the outbox's retry and backoff), so a PACS that hangs for its whole time-out holds
up neither the FHIR queue nor the building, and none of them ever runs in a page request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from edge_all.hub.standards_outbox import HubStandards

log = logging.getLogger("edge_all.hub.standards")


class StandardsWorker:
    def __init__(self, standards: HubStandards, interval_s: float) -> None:
        self.standards = standards
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def _loop(self, name: str, step: Callable[[], int]) -> None:
        while not self.stopping.is_set():
            try:
                busy = step()
            except Exception:  # the database restarting, a bug: logged, and tried again next round
                log.exception("standards worker %s: a step failed; trying again", name)
                busy = 0
            if not busy:
                self.stopping.wait(self.interval_s)

    def start(self) -> None:
        steps: list[tuple[str, Callable[[], int]]] = [("build", self.standards.build_requested)]
        for sender in self.standards.senders:
            steps.append((sender.destination.value, lambda s=sender: self.standards.send(s)))
        for name, step in steps:
            thread = threading.Thread(target=self._loop, args=(name, step), name=f"standards-{name}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self.threads.append(thread)
        log.info("standards worker: %s", ", ".join(name for name, _ in steps))

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
