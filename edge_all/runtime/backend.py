"""Find a TFLite interpreter on this device, without ever pulling in TensorFlow by accident.

A Raspberry Pi in a clinic has LiteRT (`ai_edge_litert`) or the older `tflite_runtime`; a
workstation may also have TensorFlow. Importing TensorFlow costs seconds and hundreds of MB,
so `tensorflow.lite` is the last resort, used only when neither small runtime is installed.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from edge_all.errors import EdgeAllError
from edge_all.extras import installed

# In the order they are tried; the last one is only a fallback for workstations.
BACKENDS = ("ai_edge_litert", "tflite_runtime", "tensorflow")
EDGETPU_LIBRARY = {"Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}.get(
    platform.system(), "libedgetpu.so.1"
)
# `EDGE_ALL_BACKEND=tflite_runtime edge-all ...` forces one backend (for comparisons and debugging).
BACKEND_ENV = "EDGE_ALL_BACKEND"


class BackendError(EdgeAllError):
    """No usable interpreter, or an accelerator delegate that cannot be loaded."""


@dataclass(frozen=True)
class Backend:
    """What runs the model: reported by `edge-all info` and recorded with results."""

    name: str  # "ai_edge_litert", "tflite_runtime" or "tensorflow"
    version: str
    delegate: str | None  # e.g. "libedgetpu.so.1", None for the CPU (XNNPACK) path
    threads: int | None  # None: the interpreter's own default


@dataclass(frozen=True)
class InterpreterModule:
    """The `interpreter` module of one backend: its Interpreter class and load_delegate."""

    name: str
    version: str
    module: Any

    def make(
        self, model_path: str, threads: int | None, delegate: Delegate | None = None
    ) -> tuple[Any, Backend]:
        """Build an interpreter (tensors allocated) for a model file, with an optional delegate."""
        with native_stderr() as native:
            try:
                interpreter = self.module.Interpreter(
                    model_path=model_path,
                    num_threads=threads,
                    experimental_delegates=[delegate.handle] if delegate else None,
                )
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                error = exc
            else:
                error = None
        if error is not None:
            details = [line for line in native.lines if not line.startswith("INFO:")]
            text = " ".join((details or [str(error).strip() or type(error).__name__])[0].split())
            raise BackendError(f"{model_path}: {self.name} cannot load this model ({text})")
        for line in native.lines:  # warnings and errors still reach the user; "INFO: created" does not
            if not line.startswith("INFO:"):
                print(line, file=sys.stderr)
        return interpreter, Backend(self.name, self.version, delegate.library if delegate else None, threads)


@dataclass(frozen=True)
class Delegate:
    """A loaded accelerator delegate and the library it came from."""

    library: str
    handle: Any


@dataclass
class NativeOutput:
    lines: list[str]


@contextlib.contextmanager
def native_stderr() -> Iterator[NativeOutput]:
    """Capture what the interpreter's C++ code writes to file descriptor 2 while loading a model.

    LiteRT announces "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every load,
    which would drown the one-line-per-problem error output of a batch.
    """
    captured = NativeOutput([])
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreter): nothing to capture
        yield captured
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            captured.lines.extend(line for line in text.splitlines() if line.strip())


def _version(module: ModuleType) -> str:
    return str(getattr(module, "__version__", "unknown"))


def _import(name: str) -> InterpreterModule | None:
    """Import one backend's interpreter module, or None when it is not installed."""
    try:
        if name == "tensorflow":
            tensorflow = importlib.import_module("tensorflow")
            return InterpreterModule(name, _version(tensorflow), tensorflow.lite)
        package = importlib.import_module(name)
        return InterpreterModule(name, _version(package), importlib.import_module(f"{name}.interpreter"))
    except ImportError:
        return None


def find_interpreter(preferred: str | None = None) -> InterpreterModule:
    """Return the first installed backend (or the one named by `preferred` / $EDGE_ALL_BACKEND)."""
    preferred = preferred or os.environ.get(BACKEND_ENV) or None
    if preferred is not None:
        if preferred not in BACKENDS:
            raise BackendError(
                f"unknown interpreter backend {preferred!r} (choose from {', '.join(BACKENDS)})"
            )
        found = _import(preferred) if installed(preferred) else None
        if found is None:
            raise BackendError(f"interpreter backend {preferred!r} is not installed")
        return found
    for name in BACKENDS:
        if installed(name):
            found = _import(name)
            if found is not None:
                return found
    raise BackendError(
        "no TFLite interpreter found: install LiteRT (`pip install ai-edge-litert`) "
        "or tflite-runtime on this device"
    )


# Which Coral stack works today, and how to install it: docs/hardware.md ("Coral USB Accelerator").
EDGETPU_ADVICE = (
    "install an Edge TPU runtime (a community libedgetpu1-std build: sudo bash install-coral.sh --deb FILE; "
    "docs/hardware.md), plug in the Coral device, or drop --edgetpu"
)


def load_delegate(backend: InterpreterModule, library: str = EDGETPU_LIBRARY) -> Delegate:
    """Load an accelerator delegate (the Edge TPU's libedgetpu), with an error that says what to do.

    Through the backend's own `load_delegate`, which fails with OSError when the library is missing
    or not a shared library (LiteRT and tflite_runtime; not ValueError, which older TensorFlow used),
    AttributeError when it is a library but no TensorFlow Lite delegate, ValueError or RuntimeError
    when the delegate itself fails (no Edge TPU plugged in).
    """
    loader = getattr(backend.module, "load_delegate", None)
    if loader is None:  # tensorflow keeps it under lite.experimental
        loader = backend.module.experimental.load_delegate
    with _unraisable_silenced():  # a failed load leaves a half-made Delegate whose __del__ complains
        try:
            return Delegate(library, loader(library))
        except AttributeError as exc:
            detail = f"not a TensorFlow Lite delegate ({' '.join(str(exc).split())})"
        except (OSError, ValueError, RuntimeError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
    raise BackendError(
        f"Edge TPU delegate {library} could not be loaded by {backend.name} ({detail}); {EDGETPU_ADVICE}"
    )


@contextlib.contextmanager
def _unraisable_silenced() -> Iterator[None]:
    """Drop the 'Exception ignored in __del__' reports Python prints meanwhile (one line per problem)."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda _report: None
    try:
        yield
    finally:
        gc.collect()  # the failed Delegate is collected here, while its complaint is still silenced
        sys.unraisablehook = previous


def edgetpu_runtime_present(library: str = EDGETPU_LIBRARY) -> bool:
    """Whether the Edge TPU runtime library can be loaded (says nothing about a plugged-in device)."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True
