"""One sync pass, and the loop that repeats it: enqueue what is new, send it, bring sign-offs down.

A pass sends pictures before the records that name them (HEAD, then PUT when missing), then up to
BATCH records in one POST, and removes from the outbox only what the hub confirmed. Anything cut off
half-way is simply sent again: the hub stores a record once (its id) and a picture once (its sha256).

The loop (`edge-all sync --watch`): while the link is up it looks for new rows every POLL seconds, so
a recorded field reaches the hub within about a second; on a failure it backs off, doubling from
BACKOFF_START to BACKOFF_CAP (a few seconds, so the first field after the link returns still goes
within the 5-second target), and resets the moment the hub answers again (a pass cut off after
the hub answered part of it is retried at once, so a flaky link still makes progress).
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from edge_all.sync.credentials import Credential
from edge_all.sync.link import HubRefused, Link, LinkDown
from edge_all.sync.outbox import Outbox, outbox_path
from edge_all.sync.protocol import MAX_BLOB_BYTES, PROTOCOL, body_sha256

log = logging.getLogger("edge_all.sync")
BATCH = 50
POLL = 0.5
BACKOFF_START, BACKOFF_CAP = 0.5, 4.0
RETRY_LATER = (409,)  # a picture or a reviewed field not there yet: the next pass sends it first
OLD_HUB = 426  # HubRefused's status when the hub speaks an older sync protocol than this clinic


@dataclass(frozen=True)
class PassResult:
    enqueued: int
    sent: int
    refused: int
    signoffs: int
    pending: int


class Syncer:
    def __init__(self, results_db: Path, credential: Credential, outbox: Path | None = None) -> None:
        self.results_db = results_db
        self.credential = credential
        self.outbox = Outbox(outbox or outbox_path(results_db))
        self.link = Link(credential.url, credential.token, credential.trust, credential.certificate)
        self.hub_protocol: int | None = None

    def close(self) -> None:
        self.link.close()
        self.outbox.close()

    def run_pass(self) -> PassResult:
        """Raises LinkDown when the hub cannot be reached (what was confirmed so far stays confirmed)."""
        enqueued = self.outbox.enqueue_from(self.results_db, self.credential.clinic)
        self._check_protocol()  # after filling the outbox: what was recorded waits there, whatever the hub
        sent = refused = 0
        while True:
            batch = self.outbox.pending(BATCH)
            if not batch:
                break
            done, failed = self._send(batch)
            sent += done
            refused += failed
            if done == 0:
                break  # everything left waits for something (or was refused): do not spin
            more = self.outbox.enqueue_from(self.results_db, self.credential.clinic)
            enqueued += more
        signoffs = self._pull()
        self.outbox.link(ok=True)
        return PassResult(enqueued, sent, refused, signoffs, self.outbox.state().pending)

    def _check_protocol(self) -> None:
        """Once per run: a hub older than this clinic's protocol would refuse every record (its schema
        does not know the new keys), so nothing is sent to it and the outbox keeps everything."""
        if self.hub_protocol is None:
            answer = self.link.request("GET", "/whoami")
            if answer.status != 200:
                raise LinkDown(f"the hub answered {answer.status} for whoami")
            self.hub_protocol = int(answer.json().get("protocol", 1))
        if self.hub_protocol < PROTOCOL:
            raise HubRefused(
                OLD_HUB,
                f"the hub speaks sync protocol {self.hub_protocol}, this clinic sends protocol {PROTOCOL}: "
                "upgrade the hub's edge-all (nothing was sent; the outbox keeps everything)",
            )

    def _upload(self, sha256: str, path: str) -> bool:
        """Make sure the hub holds this picture; False when the file is gone or changed on the card."""
        if self.link.request("HEAD", f"/blobs/{sha256}").status == 200:
            return True
        try:
            data = Path(path).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != sha256 or len(data) > MAX_BLOB_BYTES:
            return False
        answer = self.link.request("PUT", f"/blobs/{sha256}", data, "application/octet-stream")
        if answer.status not in (200, 201):
            raise LinkDown(f"the hub refused a picture: {answer.status} {answer.body[:200]!r}")
        return True

    def _send(self, batch) -> tuple[int, int]:
        records = []
        for item in batch:
            body, sha = item.body, item.sha256
            picture = item.kind == "field" and body["image_sha256"] and item.image_path
            if picture and not self._upload(body["image_sha256"], item.image_path):
                body = {**body, "image_sha256": None}
                sha = body_sha256(body)
                self.outbox.replace_body(item.seq, body, sha)
                log.warning("field %s: its picture is gone from this card; sent without it", item.record_id)
            records.append({"id": item.record_id, "kind": item.kind, "sha256": sha, "body": body})
        answer = self.link.post_json("/records", {"records": records})
        if answer.status != 200:  # the whole batch was refused (400, 413): keep it, say why
            why = answer.body[:300].decode(errors="replace")
            for item in batch:
                self.outbox.failed(item.record_id, answer.status, why, permanent=True)
            log.error("the hub refused a batch of %d records: %d %s", len(batch), answer.status, why)
            return 0, len(batch)
        confirmed, refused = [], 0
        for result in answer.json()["results"]:
            if result["outcome"] in ("stored", "duplicate"):
                confirmed.append(result["id"])
            else:
                permanent = result["status"] not in RETRY_LATER
                refused += permanent
                self.outbox.failed(result["id"], result["status"], result["why"], permanent)
                log.warning("record %s: %d %s", result["id"], result["status"], result["why"])
        self.outbox.confirmed(confirmed)
        return len(confirmed), refused

    def _pull(self) -> int:
        added = 0
        while True:
            after = self.outbox.mark("signoffs")
            answer = self.link.request("GET", f"/signoffs?after={after}")
            if answer.status != 200:
                raise LinkDown(f"the hub answered {answer.status} for sign-offs")
            data = answer.json()
            if not data["signoffs"]:
                return added
            added += self.outbox.store_hub_reviews(data["signoffs"], int(data["next"]))


class Stop:
    """SIGTERM / SIGINT end the loop after the exchange in hand (systemd's stop)."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, *_: object) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def watch(syncer: Syncer, *, until_idle: bool = False, max_seconds: float | None = None) -> PassResult | None:
    """Repeat passes until stopped (or, with until_idle, until the outbox is empty)."""
    stop = Stop()
    delay = BACKOFF_START
    started = time.monotonic()
    last: PassResult | None = None
    while not stop.requested:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        answered = syncer.link.answers
        try:
            last = syncer.run_pass()
            delay = BACKOFF_START
            if until_idle and last.pending == 0:
                break
            stop.sleep(POLL)
        except LinkDown as down:
            syncer.outbox.link(ok=False, error=str(down))
            if syncer.link.answers > answered:  # cut mid-pass, but the hub answers: go on at once
                delay = BACKOFF_START
            log.info("hub not reachable (%s); next try in %.1f s", down, delay)
            stop.sleep(delay)
            delay = min(BACKOFF_CAP, delay * 2)
        except HubRefused:
            raise
    return last
