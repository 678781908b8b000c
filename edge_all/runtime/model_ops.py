"""The custom operators a .tflite model uses, read from its flatbuffer without an interpreter.

An interpreter cannot be built for a model whose custom op it lacks (the Edge TPU's, without the
delegate), and an op's name can appear anywhere in a file's bytes (a tensor name, metadata), so the
model's own table of operator codes is read: `Model.operator_codes[i].custom_code` in the TFLite
schema (tensorflow/compiler/mlir/lite/schema/schema.fbs). Standard library only.
"""

from __future__ import annotations

import struct

FILE_IDENTIFIER = b"TFL3"
MODEL_OPERATOR_CODES = 1  # field number of Model.operator_codes
OPERATOR_CODE_CUSTOM_CODE = 1  # field number of OperatorCode.custom_code


class NotATfliteModel(ValueError):
    """The bytes are not a TFLite flatbuffer (or are cut short)."""


def custom_op_names(data: bytes) -> list[str]:
    """The names of the custom operators in a TFLite model's operator-code table, in table order."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise NotATfliteModel("no TFLite file identifier (TFL3)")
    try:
        model = _u32(data, 0)
        codes = _field(data, model, MODEL_OPERATOR_CODES)
        if codes is None:
            return []
        vector = codes + _u32(data, codes)
        names = []
        for i in range(_u32(data, vector)):
            element = vector + 4 + 4 * i
            custom = _field(data, element + _u32(data, element), OPERATOR_CODE_CUSTOM_CODE)
            if custom is not None:
                text = custom + _u32(data, custom)
                length = _u32(data, text)
                if text + 4 + length > len(data):
                    raise NotATfliteModel("a custom op name runs past the end of the file")
                names.append(data[text + 4 : text + 4 + length].decode("utf-8", "replace"))
    except struct.error:
        raise NotATfliteModel("the operator table points outside the file") from None
    return names


def _u32(data: bytes, position: int) -> int:
    if position < 0:
        raise struct.error("negative offset")
    return struct.unpack_from("<I", data, position)[0]


def _field(data: bytes, table: int, number: int) -> int | None:
    """Where field `number` of the table at `table` is stored, or None when the table omits it."""
    vtable = table - struct.unpack_from("<i", data, table)[0]
    if vtable < 0:
        raise struct.error("negative vtable offset")
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    entry = 4 + 2 * number
    if entry + 2 > vtable_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + entry)[0]
    return table + offset if offset else None
