"""Real servers for the standards tests, started on loopback with their own temporary state:
Orthanc with its DICOMweb plugin (Debian's orthanc and orthanc-dicomweb), and Medplum's FHIR R4
engine (tests/standards/fhir_engine, npm). Where one cannot start, the tests that need it skip and
say why, except under EDGE_ALL_REQUIRE_STANDARDS=1 (set by .ci/run): there they fail."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REQUIRE = "EDGE_ALL_REQUIRE_STANDARDS"
ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")  # Debian's orthanc-dicomweb
ENGINE = Path(__file__).resolve().parents[1] / "standards" / "fhir_engine"
USER, PASSWORD = "edge-hub", "test-password"
REFUSED_ACCESSION = "REFUSE-ME"  # Orthanc's filter below drops instances with this accession number
LUA_FILTER = f"""
function ReceivedInstanceFilter(dicom, origin, info)
   return dicom.AccessionNumber ~= "{REFUSED_ACCESSION}"
end
"""


def unavailable(problem: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {problem}")
    pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, auth=None, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if requests.get(url, auth=auth, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@dataclass
class Orthanc:
    http: str
    process: subprocess.Popen
    log: Path
    config: Path | None = None

    def stop(self) -> None:
        """The PACS goes down (its storage stays)."""
        stop(self.process)

    def start_again(self) -> None:
        """The PACS comes back on the same port with the same storage."""
        assert self.config is not None and self.process.poll() is not None
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [ORTHANC, str(self.config)], stdout=out, stderr=subprocess.STDOUT, cwd=self.config.parent
            )
        _wait(f"{self.http}/system", self.process, auth=self.auth)

    @property
    def dicomweb(self) -> str:
        return f"{self.http}/dicom-web"

    @property
    def auth(self) -> tuple[str, str]:
        return USER, PASSWORD

    def rest(self, path: str):
        return requests.get(f"{self.http}{path}", auth=self.auth, timeout=30).json()


def start_orthanc(folder: Path, port: int | None = None) -> Orthanc:
    if not Path(ORTHANC).is_file():
        unavailable("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")
    if not DICOMWEB_PLUGIN.is_file():
        unavailable(
            f"Orthanc's DICOMweb plugin is not at {DICOMWEB_PLUGIN} (apt-get install orthanc-dicomweb)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "filter.lua").write_text(LUA_FILTER, encoding="utf-8")
    port = port or free_port()
    config = {
        "Name": "edge-all-tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomPort": free_port(),
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,  # loopback clients only
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [str(DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "LuaScripts": [str(folder / "filter.lua")],
        "StableAge": 1,
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    log = folder / "orthanc.log"
    with log.open("wb") as out:
        process = subprocess.Popen([ORTHANC, str(path)], stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    server = Orthanc(f"http://127.0.0.1:{port}", process, log, path)
    try:
        _wait(f"{server.http}/system", process, auth=server.auth)
    except RuntimeError as error:
        stop(process)
        unavailable(f"Orthanc did not start: {error}; {log.read_text(errors='replace')[-500:]}")
    if "dicom-web" not in server.rest("/plugins"):
        stop(process)
        unavailable("Orthanc started without its DICOMweb plugin")
    return server


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class FhirEngine:
    base: str
    process: subprocess.Popen


def _node_major(node: str) -> int:
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().lstrip("v").split(".")[0])


def start_fhir_engine(folder: Path) -> FhirEngine:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed (apt-get install nodejs)")
    if not (ENGINE / "node_modules" / "@medplum" / "fhir-router").is_dir():
        unavailable(f"the FHIR engine's packages are not installed (npm ci --prefix {ENGINE})")
    port = free_port()
    # Medplum's core uses the global WebSocket, which node 20 keeps behind a flag (22 has it on).
    flags = ["--experimental-websocket"] if _node_major(node) < 22 else []
    log = folder / "fhir-engine.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, *flags, str(ENGINE / "server.mjs"), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ENGINE,
        )
    engine = FhirEngine(f"http://127.0.0.1:{port}/fhir/R4", process)
    try:
        _wait(f"{engine.base}/metadata", process, seconds=60)
    except RuntimeError as error:
        stop(process)
        unavailable(f"the FHIR engine did not start: {error}; {log.read_text(errors='replace')[-500:]}")
    return engine


# The fixtures, defined once here: tests/standards/conftest.py and the hub's tests import them.
@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    stop(server.process)


@pytest.fixture(scope="module")
def fhir_engine(tmp_path_factory):
    engine = start_fhir_engine(tmp_path_factory.mktemp("fhir"))
    yield engine
    stop(engine.process)
