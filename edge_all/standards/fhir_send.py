"""Sending the DiagnosticReport to a FHIR server as a conditional create (FHIR R4 3.1.0.8.1):
POST [base]/DiagnosticReport with `If-None-Exist: identifier=system|value`, so that sending it twice
makes one report (the server answers 201 the first time, 200 with the same report after).

Never raises for the server's trouble: every attempt comes back as an Outcome for the outbox.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import requests

from edge_all.standards.delivery import Destination, Outcome, State
from edge_all.standards.endpoints import Endpoint

TRANSIENT = {401, 403, 408, 425, 429, 500, 502, 503, 504}  # 401/403: fixed in settings, then goes on
FHIR_JSON = "application/fhir+json"


def _issues(response: requests.Response) -> str:
    """The OperationOutcome's diagnostics, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [
            issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code", "")
            for issue in body.get("issue", [])
        ]
        return "; ".join(t for t in texts if t)[:300]
    return ""


class FhirSender:
    """Conditional create of a DiagnosticReport on one FHIR base URL."""

    destination = Destination.FHIR

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.session = requests.Session()
        self.session.auth = endpoint.auth()
        self.session.headers.update(endpoint.headers())
        self.session.verify = endpoint.verify_tls

    def send(self, payload: bytes) -> Outcome:
        report = json.loads(payload)
        identifier = report["identifier"][0]
        headers = {
            "Content-Type": FHIR_JSON,
            "Accept": FHIR_JSON,
            "If-None-Exist": urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"}),
        }
        try:
            response = self.session.post(
                f"{self.endpoint.base}/DiagnosticReport",
                data=payload,
                headers=headers,
                timeout=self.endpoint.timeout_s,
            )
        except requests.Timeout:
            return Outcome(State.PENDING, f"no answer within {self.endpoint.timeout_s:g} s")
        except requests.ConnectionError as error:
            return Outcome(State.PENDING, f"cannot reach the FHIR server: {type(error).__name__}")
        except requests.RequestException as error:
            return Outcome(State.PENDING, f"request failed: {type(error).__name__}")
        if response.status_code == 201:
            return Outcome(State.SENT, "created " + response.headers.get("Location", "").strip())
        if response.status_code == 200:
            return Outcome(State.SENT, "already there")
        detail = f"HTTP {response.status_code}" + (f": {issues}" if (issues := _issues(response)) else "")
        return Outcome(State.PENDING if response.status_code in TRANSIENT else State.REFUSED, detail)
