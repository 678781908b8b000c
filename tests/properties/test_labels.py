"""Labels files (edge_all/runtime/labels.py), by property: any bytes are a list of labels or one
LabelsError line naming the file; labels written in either convention (`label`, `index label`, in any
order, with `:` or spaces) read back as they were; write_labels writes what read_labels reads back
exactly, or refuses a label no line can hold.

Found: write_labels wrote labels that all looked like `index label` ("0 Benign") as they were, and
read_labels then read them as indexes; and it wrote labels with a line break or space at an end,
which came back as other labels (the device refused the bundle: "labels differ").
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_all.runtime.labels import LabelsError, read_labels, write_labels

from .strategies import CHECKS, INPUT_LIMIT, MEMORY_LIMIT, answer, odd_text, peak_memory

# A label a line can hold: no line break, no space at its ends (the file is read line by line).
label = st.text(st.characters(exclude_categories=["Cs", "Zl", "Zp", "Cc"]), min_size=1, max_size=16).filter(
    lambda text: text == text.strip() and len(text.splitlines()) == 1 and not text.startswith("\ufeff")
)
labels = st.lists(label, min_size=1, max_size=12, unique=True)


@CHECKS
@given(content=st.binary(max_size=INPUT_LIMIT) | odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_are_labels_or_one_error_in_bounded_memory(tmp_path, content):
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    read = answer(lambda: read_labels(path), LabelsError, f"{path}: ")
    if read is not None:
        assert read and all(isinstance(item, str) and item == item.strip() and item for item in read)
    assert peak_memory(lambda: read_labels(path)) < MEMORY_LIMIT


@CHECKS
@given(names=labels, separator=st.sampled_from([" ", "  ", ":", ": ", "\t"]), data=st.data())
def test_indexed_labels_in_any_order_read_back_by_index(tmp_path, names, separator, data):
    order = data.draw(st.permutations(range(len(names))))
    lines = [f"{i}{separator}{names[i]}" for i in order]
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(lines) + data.draw(st.sampled_from(["", "\n", "\r\n\n"])), encoding="utf-8")
    read = answer(lambda: read_labels(path), LabelsError, f"{path}: ")
    if not any(name.startswith(":") for name in names):  # which `index: label` cannot hold
        assert read == names


@CHECKS
@given(
    names=st.lists(odd_text, max_size=8)
    | labels
    | st.lists(st.from_regex(r"\d{1,2} \w{1,6}", fullmatch=True), min_size=1, max_size=6, unique=True)
)
def test_what_write_labels_writes_reads_back_as_it_was_or_is_refused(tmp_path, names):
    path = tmp_path / "labels.txt"
    path.unlink(missing_ok=True)  # tmp_path is the same for every example
    written = answer(lambda: write_labels(path, names), LabelsError, f"{path}: ")
    if written is None and not path.exists():  # refused: a label no line can hold
        return
    assert read_labels(path) == names
