"""Sending DICOM instances to a PACS over DICOMweb STOW-RS (PS3.18 10.5), with dicomweb-client.

Why STOW-RS and not DIMSE C-STORE: it is HTTP(S), so it passes the hospital's proxies and TLS the
way the hub's other traffic does, with the PACS's own accounts; it answers per instance with a
reason (the FailedSOPSequence); and Orthanc, dcm4chee and the cloud PACSs all speak it. C-STORE
(pynetdicom) would need an AE title agreed with the PACS and a port opened through the firewall.

Never raises for the PACS's trouble: every attempt comes back as an Outcome for the outbox.
"""

from __future__ import annotations

from io import BytesIO

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread
from pydicom.dataset import Dataset

from edge_all.standards.delivery import Destination, Outcome, State
from edge_all.standards.endpoints import Endpoint

# Status codes that a later attempt may pass (PS3.18 10.5.3 and HTTP): busy, time-outs, server faults,
# and credentials the PACS does not take (fixed in the hub's settings, then the queue goes on by itself).
TRANSIENT = {401, 403, 408, 425, 429, 500, 502, 503, 504}
# Failure Reason (0008,1197) values of PS3.18 Table 10.5.3-2 and PS3.4 C-STORE statuses.
REASONS = {
    0x0110: "processing failure",
    0x0122: "SOP class not supported",
    0x0124: "not authorized",
    0xA700: "out of resources",
    0xA900: "data set does not match SOP class",
    0xC000: "cannot understand",
    0xC122: "referenced transfer syntax not supported",
}


def _failure_reasons(response: Dataset | None) -> list[str]:
    if response is None or "FailedSOPSequence" not in response:
        return []
    codes = [int(item.get("FailureReason", 0)) for item in response.FailedSOPSequence]
    return [f"failure reason 0x{c:04X}" + (f" ({REASONS[c]})" if c in REASONS else "") for c in codes]


def _response_dataset(response: requests.Response) -> Dataset | None:
    """The STOW-RS response body (DICOM JSON), when the PACS sent one."""
    try:
        return Dataset.from_json(response.json())
    except ValueError:
        return None


class StowSender:
    """STOW-RS to one DICOMweb root. `send` takes one instance's Part 10 bytes."""

    destination = Destination.PACS

    def __init__(self, endpoint: Endpoint, *, confirm: bool = True) -> None:
        self.endpoint = endpoint
        self.confirm = confirm
        session = requests.Session()
        session.auth = endpoint.auth()
        session.headers.update(endpoint.headers())
        session.verify = endpoint.verify_tls
        self.client = DICOMwebClient(endpoint.base, session=session, timeout=endpoint.timeout_s)
        self.client.set_http_retry_params(retry=False)  # the outbox retries, with its own backoff

    def send(self, payload: bytes) -> Outcome:
        dataset = dcmread(BytesIO(payload))
        try:
            answer = self.client.store_instances([dataset])
        except requests.Timeout:
            return Outcome(State.PENDING, f"no answer within {self.endpoint.timeout_s:g} s")
        except requests.ConnectionError as error:
            return Outcome(State.PENDING, f"cannot reach the PACS: {type(error).__name__}")
        except requests.HTTPError as error:
            response = error.response
            status = response.status_code if response is not None else 0
            reasons = _failure_reasons(_response_dataset(response)) if response is not None else []
            text = (response.text[:200] if response is not None else "").strip()
            detail = f"HTTP {status}" + (
                f": {', '.join(reasons)}" if reasons else (f": {text}" if text else "")
            )
            return Outcome(State.PENDING if status in TRANSIENT else State.REFUSED, detail)
        except requests.RequestException as error:
            return Outcome(State.PENDING, f"request failed: {type(error).__name__}")
        reasons = _failure_reasons(answer)
        if reasons:
            return Outcome(State.REFUSED, "PACS refused it: " + ", ".join(reasons))
        if self.confirm:
            return self._confirmed(dataset.SOPInstanceUID)
        return Outcome(State.SENT, "stored")

    def _confirmed(self, sop_instance_uid: str) -> Outcome:
        """Ask (QIDO-RS) whether the PACS has the instance it said it stored: a PACS may answer a
        STOW-RS with success for an instance a filter of its own then drops (Orthanc's DICOMweb plugin
        1.7 does, for its ReceivedInstanceFilter), and "sent" must mean "in the PACS"."""
        try:
            found = self.client.search_for_instances(search_filters={"SOPInstanceUID": sop_instance_uid})
        except requests.RequestException as error:
            return Outcome(
                State.PENDING, f"stored, but the check that it is there failed: {type(error).__name__}"
            )
        if not found:
            return Outcome(
                State.REFUSED, "the PACS answered stored but does not have it (dropped by a filter?)"
            )
        return Outcome(State.SENT, "stored")
