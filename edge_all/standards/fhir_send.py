"""Sending the DiagnosticReport to a FHIR server as a conditional update (FHIR R4 3.1.0.4.3):
PUT [base]/DiagnosticReport?identifier=system|value. No report with that identifier: the server
creates it (201). One: it updates that one (200), keeping the old version in its history. So sending
twice still makes one report, and the report of a second sign-off (status amended) replaces the first
on the same resource, rather than being answered "already there" as a conditional create would be.
Two or more with the identifier: 412, refused (a person must look).

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


def _where(response: requests.Response) -> str:
    """The report's address, with its version: from Location, else the resource the server returned."""
    location = response.headers.get("Location", "").strip()
    if location:
        return location
    try:
        body = response.json()
        version = (body.get("meta") or {}).get("versionId")
        return f"DiagnosticReport/{body['id']}" + (f"/_history/{version}" if version else "")
    except (ValueError, KeyError, AttributeError, TypeError):
        return ""


class FhirSender:
    """Conditional update of a DiagnosticReport on one FHIR base URL."""

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
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        query = urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"})
        try:
            response = self.session.put(
                f"{self.endpoint.base}/DiagnosticReport?{query}",
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
            return Outcome(State.SENT, "created " + _where(response))
        if response.status_code == 200:
            return Outcome(State.SENT, f"updated {_where(response)} ({report['status']})".replace("  ", " "))
        detail = f"HTTP {response.status_code}" + (f": {issues}" if (issues := _issues(response)) else "")
        return Outcome(State.PENDING if response.status_code in TRANSIENT else State.REFUSED, detail)
