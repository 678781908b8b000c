"""Stand-ins for the Coral tools this machine cannot run, each doing what the real one does to files.

- `compile_like_edgetpu`: what `edgetpu_compiler` writes for a fully mapped model: the same tensors,
  the whole graph replaced by one `edgetpu-custom-op` operator from the input to the output, its
  custom options carrying the compiled program. A CPU interpreter cannot run it, as with a real one.
- `write_fake_compiler`: an `edgetpu_compiler` script for PATH that takes the real command line
  (`-s -o OUT MODEL`) and writes that file, or fails the way the real compiler does.
- `build_stand_in_delegate`: a `libedgetpu.so.1` built from C here, implementing the TFLite external
  delegate ABI (`tflite_plugin_create_delegate`) and claiming no operators, so the runtime's Edge TPU
  path (load the delegate, pick and check the model) runs without a Coral device. Whatever it is
  given still runs, or fails, on the CPU kernels.
The flatbuffers are edited with LiteRT's own generated schema and the flatbuffers package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

EDGETPU_OP = "edgetpu-custom-op"
REPO = Path(__file__).resolve().parents[1]


def _unpack(model: bytes):
    from ai_edge_litert import schema_py_generated as schema

    return schema, schema.ModelT.InitFromPackedBuf(bytearray(model), 0)


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def compile_like_edgetpu(model: bytes) -> bytes:
    """The model as edgetpu_compiler leaves a fully mapped one: one custom op does the whole graph."""
    schema, parsed = _unpack(model)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = EDGETPU_OP
    code.version = 1
    graph = parsed.subgraphs[0]
    op = schema.OperatorT()
    op.opcodeIndex = 0
    op.inputs, op.outputs = list(graph.inputs), list(graph.outputs)
    op.customOptions = list(b"stand-in for the compiled Edge TPU program")
    graph.operators = [op]
    parsed.operatorCodes = [code]
    return _pack(parsed)


def with_decoy_name(model: bytes) -> bytes:
    """A plain CPU model that merely carries the op's name as bytes: its output tensor and its
    description are called "edgetpu-custom-op". It is not compiled for anything."""
    _, parsed = _unpack(model)
    graph = parsed.subgraphs[0]
    graph.tensors[graph.outputs[0]].name = EDGETPU_OP
    parsed.description = EDGETPU_OP
    return _pack(parsed)


def write_fake_compiler(bin_dir: Path, failure: str | None = None) -> Path:
    """An `edgetpu_compiler` in bin_dir: compiles as above, or prints `failure` and exits 1."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "edgetpu_compiler"
    body = f"""\
        #!{sys.executable}
        import pathlib, sys
        sys.path.insert(0, {str(REPO)!r})
        args = sys.argv[1:]
        print("Edge TPU Compiler version 16.0.384591198 (a stand-in written by the test)")
        failure = {failure!r}
        if failure is not None:
            print(failure, file=sys.stderr)
            sys.exit(1)
        out, model = pathlib.Path(args[args.index("-o") + 1]), pathlib.Path(args[-1])
        from tests.edgetpu_stand_ins import compile_like_edgetpu, operator_count
        data = model.read_bytes()
        (out / f"{{model.stem}}_edgetpu.tflite").write_bytes(compile_like_edgetpu(data))
        print(f"Number of operations that will run on Edge TPU: {{operator_count(data)}}")
        print("Number of operations that will run on CPU: 0")
        """
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    script.chmod(0o755)
    return script


def operator_count(model: bytes) -> int:
    _, parsed = _unpack(model)
    return len(parsed.subgraphs[0].operators)


STAND_IN_DELEGATE_C = """
#include <stdint.h>
#include <stdlib.h>

/* TfLiteDelegate (tensorflow/lite/core/c/common.h), trailing fields zeroed: no buffer handles,
   no flags, no opaque builder. Prepare replaces no node, so the CPU kernels run the whole graph. */
typedef struct Delegate {
  void* data;
  int (*prepare)(void* context, struct Delegate* delegate);
  void* copy_from_buffer_handle;
  void* copy_to_buffer_handle;
  void* free_buffer_handle;
  int64_t flags;
  void* opaque_delegate_builder;
  void* reserved[8];
} Delegate;

static int prepare(void* context, Delegate* delegate) { (void)context; (void)delegate; return 0; }

Delegate* tflite_plugin_create_delegate(char** keys, char** values, size_t count,
                                        void (*report_error)(const char*)) {
  (void)keys; (void)values; (void)count; (void)report_error;
  Delegate* delegate = calloc(1, sizeof(Delegate));
  if (delegate) delegate->prepare = prepare;
  return delegate;
}

void tflite_plugin_destroy_delegate(Delegate* delegate) { free(delegate); }
"""


def build_stand_in_delegate(folder: Path) -> Path:
    """Compile the stand-in as folder/libedgetpu.so.1 (needs a C compiler, as CI's image has)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, (
        "the Edge TPU path tests build a stand-in delegate and need a C compiler (apt install gcc)"
    )
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "stand_in_delegate.c"
    source.write_text(STAND_IN_DELEGATE_C, encoding="utf-8")
    library = folder / "libedgetpu.so.1"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", library, source], check=True, timeout=60)
    return library
