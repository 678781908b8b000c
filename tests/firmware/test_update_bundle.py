"""update-bundle.sh, run for real on a fake root with real bundle directories.

The tiny bundles' model.tflite is a few bytes, which passes the sha256 and labels checks but is
not a model: those tests pass --no-load-check. The load check itself is tested with Coral's real
MobileNetV2 model wrapped in a bundle (and with the tiny one, which it must refuse).
"""

from __future__ import annotations

import os
import resource
import subprocess

import pytest

from edge_all.runtime.bundle import MODEL_FILE, read_manifest

from .helpers import SCRIPTS, VENV, ScriptResult, make_bundle, run_script, tree

STORE = "var/lib/edge-all/bundles"


def update(root, *args):
    return run_script("update-bundle.sh", "--root", root, "--venv", VENV, *args)


def link(root, name: str) -> str | None:
    path = root / STORE / name
    return os.readlink(path) if path.is_symlink() else None


def sha12(bundle) -> str:
    return read_manifest(bundle).model_sha256[:12]


@pytest.fixture
def bundles(tmp_path):
    return {
        name: make_bundle(tmp_path / "src" / name, f"model {name}".encode()) for name in ("a", "b", "c", "d")
    }


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


def test_install_then_update_keeps_the_old_one_for_rollback(root, bundles):
    first = update(root, "--no-load-check", bundles["a"])
    assert first.returncode == 0, first.stderr
    assert link(root, "current") == sha12(bundles["a"])  # relative link inside the store
    installed = root / STORE / sha12(bundles["a"])
    assert read_manifest(root / STORE / "current").model_sha256 == read_manifest(bundles["a"]).model_sha256
    assert (installed / MODEL_FILE).read_bytes() == b"model a"
    assert link(root, "previous") is None

    second = update(root, "--no-load-check", bundles["b"])
    assert second.returncode == 0, second.stderr
    assert link(root, "current") == sha12(bundles["b"])
    assert link(root, "previous") == sha12(bundles["a"])
    assert installed.is_dir()
    # The swap is a rename of a new link over the old one, never a delete-then-create.
    swaps = [line for line in second.actions if "current" in line]
    assert swaps == [
        f"ln -sfn {sha12(bundles['b'])} {root}/{STORE}/.current.new",
        f"mv -T {root}/{STORE}/.current.new {root}/{STORE}/current",
    ]
    leftovers = [p.name for p in (root / STORE).iterdir() if p.name.startswith(".") and p.name != ".lock"]
    assert leftovers == []


def test_tampered_bundle_is_refused_and_current_is_unchanged(root, bundles, tmp_path):
    assert update(root, "--no-load-check", bundles["a"]).returncode == 0
    tampered = make_bundle(tmp_path / "src" / "tampered", b"original model")
    (tampered / MODEL_FILE).write_bytes(b"swapped model")
    before = tree(root)

    result = update(root, "--no-load-check", tampered)
    assert result.returncode == 1
    assert f"refusing the bundle: {tampered}/model.tflite: sha256" in result.stderr
    assert "does not match bundle.json" in result.stderr
    assert tree(root) == before
    assert link(root, "current") == sha12(bundles["a"])


def test_wrong_labels_are_refused(root, bundles):
    (bundles["b"] / "labels.txt").write_text("Benign\nEarly\nPro\nPre\n", encoding="utf-8")
    result = update(root, "--no-load-check", bundles["b"])
    assert result.returncode == 1
    assert "labels differ from bundle.json" in result.stderr
    assert not (root / STORE / "current").exists()


def test_not_a_bundle_is_refused(root, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = update(root, "--no-load-check", empty)
    assert result.returncode == 1
    assert f"{empty}: not a bundle (no bundle.json)" in result.stderr
    missing = update(root, "--no-load-check", tmp_path / "missing")
    assert missing.returncode == 1
    assert "no such bundle directory" in missing.stderr


def test_rollback_switches_back_and_forth(root, bundles):
    for name in ("a", "b"):
        assert update(root, "--no-load-check", bundles[name]).returncode == 0

    back = update(root, "--rollback")
    assert back.returncode == 0, back.stderr
    assert (link(root, "current"), link(root, "previous")) == (sha12(bundles["a"]), sha12(bundles["b"]))
    assert read_manifest(root / STORE / "current").labels == ["Benign", "Early", "Pre", "Pro"]

    forward = update(root, "--rollback")
    assert forward.returncode == 0, forward.stderr
    assert (link(root, "current"), link(root, "previous")) == (sha12(bundles["b"]), sha12(bundles["a"]))


def test_rollback_refuses_a_damaged_previous_bundle(root, bundles):
    for name in ("a", "b"):
        assert update(root, "--no-load-check", bundles[name]).returncode == 0
    (root / STORE / sha12(bundles["a"]) / MODEL_FILE).write_bytes(b"bit rot")
    result = update(root, "--rollback")
    assert result.returncode == 1
    assert "does not match bundle.json" in result.stderr
    assert link(root, "current") == sha12(bundles["b"])


def test_rollback_without_a_previous_bundle(root, bundles):
    assert update(root, "--no-load-check", bundles["a"]).returncode == 0
    result = update(root, "--rollback")
    assert result.returncode == 1
    assert "no previous model to roll back to" in result.stderr
    assert link(root, "current") == sha12(bundles["a"])


def test_installing_the_current_bundle_again_does_nothing(root, bundles):
    assert update(root, "--no-load-check", bundles["a"]).returncode == 0
    before = tree(root)
    again = update(root, "--no-load-check", bundles["a"])
    assert again.returncode == 0, again.stderr
    assert "already the current model: nothing to do" in again.stdout
    assert again.actions == []
    assert tree(root) == before


def test_reinstalling_an_older_bundle_reuses_its_copy(root, bundles):
    for name in ("a", "b", "a"):
        assert update(root, "--no-load-check", bundles[name]).returncode == 0
    assert (link(root, "current"), link(root, "previous")) == (sha12(bundles["a"]), sha12(bundles["b"]))


def test_old_versions_beyond_keep_are_pruned(root, bundles):
    for name in ("a", "b", "c", "d"):
        assert update(root, "--no-load-check", "--keep", "3", bundles[name]).returncode == 0
    kept = sorted(p.name for p in (root / STORE).iterdir() if not p.name.startswith(".") and p.is_dir())
    kept = [name for name in kept if name not in ("current", "previous")]
    assert sorted(kept) == sorted(sha12(bundles[name]) for name in ("b", "c", "d"))


def test_dry_run_changes_nothing(root, bundles):
    assert update(root, "--no-load-check", bundles["a"]).returncode == 0
    before = tree(root)
    result = update(root, "--no-load-check", "--dry-run", bundles["b"])
    assert result.returncode == 0, result.stderr
    assert f"mv -T {root}/{STORE}/.current.new {root}/{STORE}/current" in result.actions
    assert "systemctl try-restart edge-all.service" in result.actions
    assert "systemctl try-restart edge-all-station.service" in result.actions
    assert tree(root) == before


def test_list_marks_current_and_previous(root, bundles):
    for name in ("a", "b"):
        assert update(root, "--no-load-check", bundles[name]).returncode == 0
    listing = update(root, "--list")
    assert listing.returncode == 0
    assert f"{sha12(bundles['b'])}  installed" in listing.stdout
    assert listing.stdout.count("<- current") == 1 and listing.stdout.count("<- previous") == 1


def test_missing_runtime_is_a_clear_error(root, bundles, tmp_path):
    result = run_script("update-bundle.sh", "--root", root, "--venv", tmp_path / "no-venv", bundles["a"])
    assert result.returncode == 1
    assert f"{tmp_path}/no-venv/bin/python not found" in result.stderr


def test_load_check_accepts_a_real_model_and_refuses_a_fake_one(root, bundles, real_bundle):
    good = update(root, real_bundle)
    assert good.returncode == 0, good.stdout + good.stderr
    assert link(root, "current") == sha12(real_bundle)

    fake = update(root, bundles["a"])  # right sha256, but not a TFLite model
    assert fake.returncode == 1
    assert "could not load it" in fake.stderr
    assert link(root, "current") == sha12(real_bundle)
    assert not (root / STORE / sha12(bundles["a"])).exists()


def test_links_inside_a_bundle_are_copied_as_files(root, tmp_path):
    """A bundle whose model.tflite links to another file of the bundle is stored as a real file."""
    source = make_bundle(tmp_path / "src" / "linked", b"linked model")
    (source / "models").mkdir()
    (source / MODEL_FILE).rename(source / "models" / "v1.tflite")
    (source / MODEL_FILE).symlink_to("models/v1.tflite")
    result = update(root, "--no-load-check", source)
    assert result.returncode == 0, result.stderr
    stored = root / STORE / sha12(source) / MODEL_FILE
    assert not stored.is_symlink() and stored.read_bytes() == b"linked model"


def stored_bytes(root) -> bytes:
    """Everything under the fake root, concatenated: whatever leaked into the store shows here."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize("linked", [MODEL_FILE, "labels.txt", "notes.txt"])
def test_a_link_that_leaves_the_bundle_is_refused_and_its_target_never_copied(root, tmp_path, linked):
    """Run as root, a bundle must not carry out a file only root may read (cp -L did, world-readable)."""
    secret = tmp_path / "root-only.key"
    secret.write_bytes(b"TOP SECRET 7d1c")
    secret.chmod(0o600)
    source = make_bundle(tmp_path / "src" / "hostile", b"model")
    (source / linked).unlink(missing_ok=True)
    (source / linked).symlink_to(secret)
    result = update(root, "--no-load-check", source)
    assert result.returncode == 1
    assert f"{source / linked} is a symbolic link to {secret}, outside the bundle" in result.stderr
    assert result.stderr.count("\n") == 1
    assert b"TOP SECRET" not in stored_bytes(root)
    assert link(root, "current") is None


def test_a_link_swapped_in_after_the_check_is_caught_in_the_copy(root, tmp_path):
    """The copy (in the root-owned store) is checked again, so a race on the source gains nothing."""
    secret = tmp_path / "root-only.key"
    secret.write_bytes(b"TOP SECRET 7d1c")
    secret.chmod(0o600)
    source = make_bundle(tmp_path / "src" / "racy", b"model")
    store = root / STORE
    store.mkdir(parents=True)
    # Play the race deterministically: the check of the source passes, then the copy holds a link
    # (cp -P copies links as links; what the script must never do is follow one).
    incoming = store / f".incoming-{sha12(source)}"
    (source / "notes.txt").symlink_to(secret)
    hidden = tmp_path / "hidden-notes"
    (source / "notes.txt").rename(hidden)
    fake_cp = tmp_path / "bin" / "cp"
    fake_cp.parent.mkdir()
    fake_cp.write_text(
        "#!/bin/bash\n"
        f'/bin/cp "$@" && if [[ -d {incoming} && ! -e {incoming}/notes.txt ]]; then '
        f"/bin/cp -P {hidden} {incoming}/notes.txt; fi\n"
    )
    fake_cp.chmod(0o755)
    result = run_script(
        "update-bundle.sh", "--root", root, "--venv", VENV, "--no-load-check", source,
        env={"PATH": f"{fake_cp.parent}:{os.environ['PATH']}"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "notes.txt is a symbolic link to" in result.stderr and "outside the bundle" in result.stderr
    assert b"TOP SECRET" not in stored_bytes(root)
    assert not incoming.exists() and link(root, "current") is None


def test_permissions_are_kept_or_tightened_never_widened(root, tmp_path):
    source = make_bundle(tmp_path / "src" / "modes", b"model")
    (source / MODEL_FILE).chmod(0o664)  # group-writable: tightened
    (source / "labels.txt").chmod(0o444)  # read-only: kept
    result = update(root, "--no-load-check", source)
    assert result.returncode == 0, result.stderr
    stored = root / STORE / sha12(source)
    modes = {p.name: p.stat().st_mode & 0o7777 for p in stored.iterdir()}
    assert modes[MODEL_FILE] == 0o644 and modes["labels.txt"] == 0o444
    for name, mode in modes.items():
        assert mode & ~((source / name).stat().st_mode & 0o7777) == 0, name  # no bit added


def test_a_file_others_cannot_read_is_refused_not_made_readable(root, tmp_path):
    source = make_bundle(tmp_path / "src" / "private", b"model")
    (source / "notes.txt").write_bytes(b"private notes")
    (source / "notes.txt").chmod(0o640)
    result = update(root, "--no-load-check", source)
    assert result.returncode == 1
    assert f"{source}/notes.txt is not readable by other users (mode 640)" in result.stderr
    assert b"private notes" not in stored_bytes(root)
    assert not list((root / STORE).glob(".incoming-*")) and link(root, "current") is None


def test_a_fifo_or_a_link_to_a_device_never_hangs_the_script(root, tmp_path):
    fifo = make_bundle(tmp_path / "src" / "fifo", b"model")
    (fifo / "labels.txt").unlink()
    os.mkfifo(fifo / "labels.txt")
    result = update(root, "--no-load-check", fifo)  # run_script's timeout fails the test on a hang
    assert result.returncode == 1
    assert f"{fifo}/labels.txt is not a regular file (a FIFO, device or socket)" in result.stderr

    zero = make_bundle(tmp_path / "src" / "zero", b"model")
    (zero / "labels.txt").unlink()
    (zero / "labels.txt").symlink_to("/dev/zero")

    def limit() -> None:  # a regression reads /dev/zero: let it fail, not take the machine's memory
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    done = subprocess.run(
        ["bash", SCRIPTS / "update-bundle.sh", "--root", root, "--venv", VENV, "--no-load-check", zero],
        capture_output=True, text=True, timeout=120, preexec_fn=limit,
    )  # fmt: skip
    result = ScriptResult(done.returncode, done.stdout, done.stderr)
    assert result.returncode == 1
    assert f"{zero}/labels.txt is a symbolic link to /dev/zero, outside the bundle" in result.stderr
    assert link(root, "current") is None
