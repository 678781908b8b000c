#!/usr/bin/env bash
# Install a model bundle safely, or roll back to the one before.
#
# The new bundle is checked first (sha256 of model.tflite and the labels against bundle.json, then
# a real model load), copied into /var/lib/edge-all/bundles/<first 12 hex digits of its sha256>,
# checked again there, and only then made live by replacing the `current` symlink atomically
# (ln -s + mv -T: a reader sees the old bundle or the new one, never half of one). The bundle it
# replaces stays on disk as `previous`, so --rollback is one rename away.
#
# A bundle comes from outside (a USB stick, a download) and this script runs as root, so it must
# not be a way to read what only root may: a symbolic link that leaves the bundle is refused (it is
# checked again in the copy, which only root can change, so swapping a file for a link while the
# script runs gains nothing), a FIFO, device or socket is refused (no read ever blocks), and file
# permissions are kept or tightened (group and other write removed), never widened: every file
# must already be readable by others (the service runs as its own user), or the bundle is refused.
set -euo pipefail

EA_PROG=update-bundle.sh
# shellcheck source=lib.sh
source "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
    cat <<EOF
Usage: $EA_PROG [options] BUNDLE_DIR   install BUNDLE_DIR and make it the current model
       $EA_PROG [options] --rollback   switch back to the previous model
       $EA_PROG [options] --list       show the installed models

A bundle is refused (and the current model left as it is) when its model.tflite does not match
the sha256 in its bundle.json, its labels differ, or the model does not load.
Bundles live in $EA_BUNDLES_DIR/<sha12>; 'current' and 'previous' are symlinks there.

A bundle is also refused when it holds a symbolic link that leads outside it, a FIFO, device or
socket, or a file that other users cannot read (the service could not read it either).

Options:
  --venv DIR        edge-all's virtual environment, used to check bundles (default $EA_VENV_DEFAULT;
                    a path on this machine, never taken inside --root)
  --no-load-check   check sha256 and labels only; skip loading the model with 'edge-all info'
  --keep N          keep at most N installed models, current and previous included (default 3)
  --no-restart      do not restart the edge-all services (by default those running are restarted)
  --root DIR        act on a fake root: every path is taken inside DIR (for tests)
  --dry-run         print each action without doing it
  -h, --help        this help

Exit status: 0 done (or nothing to do), 1 refused or failed, 2 bad command line.
EOF
}

ARGS=("$@")
INCOMING=""
VENV=$EA_VENV_DEFAULT
LOAD_CHECK=1
KEEP=3
RESTART=1
MODE=install
SOURCE=""

while [[ $# -gt 0 ]]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --dry-run) EA_DRY_RUN=1 ;;
        --root) need_value "$@"; set_root "$2"; shift ;;
        --venv) need_value "$@"; VENV=$2; shift ;;
        --no-load-check) LOAD_CHECK=0 ;;
        --keep)
            need_value "$@"
            [[ $2 =~ ^[0-9]+$ && $2 -ge 2 ]] || usage_error "--keep needs a whole number of at least 2 (current and previous)"
            KEEP=$2
            shift ;;
        --no-restart) RESTART=0 ;;
        --rollback) MODE=rollback ;;
        --list) MODE=list ;;
        -*) usage_error "unknown option $1" ;;
        *)
            [[ -z $SOURCE ]] || usage_error "one bundle at a time (got $SOURCE and $1)"
            SOURCE=$1 ;;
    esac
    shift
done

if [[ $MODE == install && -z $SOURCE ]]; then
    usage_error "give a bundle directory, --rollback or --list"
fi
if [[ $MODE != install && -n $SOURCE ]]; then
    usage_error "--$MODE takes no bundle directory"
fi

STORE=$(rootpath "$EA_BUNDLES_DIR")
PYTHON=$VENV/bin/python
EDGE_ALL=$VENV/bin/edge-all

# The 64 hex digits of the bundle's model sha256, after read_manifest has checked the model file
# and labels against bundle.json (the same check the runtime makes before classifying).
verified_sha256() {
    local dir=$1
    [[ -x $PYTHON ]] || die "$PYTHON not found: install edge-all first (install-pi.sh) or pass --venv DIR"
    "$PYTHON" - "$dir" <<'PY'
import sys

from edge_all.runtime.bundle import BundleError, read_manifest

try:
    print(read_manifest(sys.argv[1]).model_sha256)
except BundleError as exc:
    sys.exit(f"update-bundle.sh: error: refusing the bundle: {exc}")
PY
}

# Load the model the way the service will (catches a file that hashes right but is not a model
# this runtime can run, e.g. an op LiteRT lacks).
check_loads() {
    local dir=$1
    [[ $LOAD_CHECK == 1 ]] || return 0
    [[ -x $EDGE_ALL ]] || die "$EDGE_ALL not found: install edge-all first (install-pi.sh), pass --venv DIR, or --no-load-check"
    info "loading the model: $EDGE_ALL info --model $dir"
    "$EDGE_ALL" info --model "$dir" || die "refusing the bundle: $dir: 'edge-all info --model' could not load it (see above)"
}

link_target() {
    if [[ -L $STORE/$1 ]]; then
        basename "$(readlink "$STORE/$1")"
    fi
}

# Point STORE/NAME at VERSION atomically: make the new link beside it, then rename over the old.
swap_link() {
    local name=$1 version=$2
    run ln -sfn "$version" "$STORE/.$name.new"
    run mv -T "$STORE/.$name.new" "$STORE/$name"
}

restart_service() {
    if [[ $RESTART == 0 ]]; then
        return 0
    fi
    if ! is_real_root && [[ $EA_DRY_RUN == 0 ]]; then
        info "--root given: not restarting the service of this machine"
        return 0
    fi
    # try-restart restarts the service only if it is running; a stopped service stays stopped.
    run systemctl try-restart "$EA_UNIT_NAME"
    run systemctl try-restart "$EA_STATION_UNIT_NAME"
}

# The installed version directories (named by 12 hex digits), most recently activated first.
installed_versions() {
    [[ -d $STORE ]] || return 0
    find "$STORE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
        -regex '.*/[0-9a-f]{12}' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-
}

# Delete the oldest versions beyond --keep; current and previous are never deleted.
prune() {
    local current previous dir name kept=0
    current=$(link_target current)
    previous=$(link_target previous)
    while IFS= read -r dir; do
        name=$(basename "$dir")
        if [[ $name == "$current" || $name == "$previous" ]]; then
            continue
        fi
        if ((kept + 2 < KEEP)); then
            kept=$((kept + 1))
            continue
        fi
        run rm -rf -- "$dir"
    done < <(installed_versions)
}

# Refuse what a bundle must not hold, in DIR (the source, then the copy): links leading outside DIR
# (or to anything but a file in it), FIFOs, devices and sockets.
check_contents() {
    local dir entry target
    dir=$(cd "$1" && pwd -P)
    entry=$(find "$dir" ! -type f ! -type d ! -type l -print -quit)
    [[ -z $entry ]] || die "refusing the bundle: $entry is not a regular file (a FIFO, device or socket)"
    while IFS= read -r -d '' entry; do
        target=$(readlink -f -- "$entry") || target=""
        if [[ -z $target || $target != "$dir"/* || ! -f $target ]]; then
            die "refusing the bundle: $entry is a symbolic link to $(readlink -- "$entry"), outside the bundle (or to no file in it); copy the file itself into the bundle"
        fi
    done < <(find "$dir" -type l -print0)
}

# Make the copy in DIR self-contained and no more open than its source: links (checked to stay
# inside) become copies of their files; group/other write and set-id bits go; folders are made
# traversable so the service can reach the files; a file others cannot read is refused.
settle_copy() {
    local dir=$1 entry target mode
    while IFS= read -r -d '' entry; do
        target=$(readlink -f -- "$entry")
        run cp --remove-destination -- "$target" "$entry"
    done < <(find "$dir" -type l -print0)
    run chmod -R go-w,a-s "$dir"
    run find "$dir" -type d -exec chmod u=rwx,go=rx {} +
    entry=$(find "$dir" -type f ! -perm -o=r -print -quit)
    if [[ -n $entry ]]; then
        mode=$(stat -c %a -- "$entry")
        die "refusing the bundle: $SOURCE/${entry#"$dir"/} is not readable by other users (mode $mode), so the edge-all service could not read it; if it may be installed, run chmod a+r on it first"
    fi
}

lock_store() {
    [[ $EA_DRY_RUN == 0 ]] || return 0
    mkdir -p "$STORE"
    exec 9>>"$STORE/.lock"
    flock -n 9 || die "another update-bundle.sh is running on $STORE; try again when it has finished"
}

install_bundle() {
    local src sha sha12 target current incoming
    [[ -d $SOURCE ]] || die "$SOURCE: no such bundle directory"
    src=$(cd "$SOURCE" && pwd -P)
    check_contents "$src"
    if [[ $EA_DRY_RUN == 1 && ! -x $PYTHON ]]; then
        info "dry run: $PYTHON is not installed yet, so the bundle is not checked here"
        sha12="<sha12>"
    else
        sha=$(verified_sha256 "$src") || exit 1
        [[ $sha =~ ^[0-9a-f]{64}$ ]] || die "$src: bundle.json has no valid model sha256 ($sha)"
        sha12=${sha:0:12}
        info "$src: sha256 and labels match bundle.json (model $sha12)"
        check_loads "$src"
    fi
    target=$STORE/$sha12
    lock_store
    current=$(link_target current)

    if [[ -d $target ]]; then
        if ! cmp -s "$src/bundle.json" "$target/bundle.json" || ! verified_sha256 "$target" >/dev/null; then
            die "$target already holds a different or damaged bundle for the same model; remove it (sudo rm -r $target) and run this again"
        fi
        if [[ $current == "$sha12" ]]; then
            info "model $sha12 is already the current model: nothing to do"
            return 0
        fi
        info "model $sha12 is already installed in $target; making it current"
    else
        incoming=$STORE/.incoming-$sha12
        INCOMING=$incoming  # removed if anything below refuses the bundle
        trap '[[ -z $INCOMING ]] || rm -rf -- "$INCOMING"' EXIT
        run mkdir -p "$STORE"
        run rm -rf -- "$incoming"
        # -P: links are copied as links, never followed; the copy is checked, then settled.
        run cp -R -P -- "$src" "$incoming"
        if [[ $EA_DRY_RUN == 0 ]]; then
            check_contents "$incoming"
            settle_copy "$incoming"
            # Check the copy too: the SD card, not only the source, can damage a file.
            verified_sha256 "$incoming" >/dev/null || exit 1
        fi
        run mv -T "$incoming" "$target"
        INCOMING=""
        # The new files must be on disk before a link points at them (power cuts happen).
        run sync
    fi
    run touch "$target"
    if [[ -n $current && $current != "$sha12" ]]; then
        swap_link previous "$current"
    fi
    swap_link current "$sha12"
    info "current model: $sha12${current:+ (previous: $current, kept for --rollback)}"
    prune
    restart_service
}

rollback() {
    local current previous
    lock_store
    current=$(link_target current)
    previous=$(link_target previous)
    [[ -n $previous ]] || die "no previous model to roll back to ($STORE/previous does not exist)"
    [[ -d $STORE/$previous ]] || die "the previous model $STORE/$previous is gone; install a bundle instead"
    if [[ $EA_DRY_RUN == 0 || -x $PYTHON ]]; then
        verified_sha256 "$STORE/$previous" >/dev/null || exit 1
    fi
    if [[ -n $current ]]; then
        swap_link previous "$current"
    fi
    swap_link current "$previous"
    info "current model: $previous (rolled back from ${current:-none}; run --rollback again to undo)"
    restart_service
}

list_versions() {
    local current previous dir name mark versions=()
    current=$(link_target current)
    previous=$(link_target previous)
    mapfile -t versions < <(installed_versions)
    if [[ ${#versions[@]} -eq 0 ]]; then
        info "no models installed in $STORE"
        return 0
    fi
    for dir in "${versions[@]}"; do
        name=$(basename "$dir")
        mark=""
        [[ $name == "$current" ]] && mark="  <- current"
        [[ $name == "$previous" ]] && mark="  <- previous"
        printf '%s  installed %s%s\n' "$name" "$(date -r "$dir" '+%Y-%m-%d %H:%M')" "$mark"
    done
}

if [[ $MODE != list ]]; then
    require_root_user "${ARGS[@]}"
fi
case $MODE in
    install) install_bundle ;;
    rollback) rollback ;;
    list) list_versions ;;
esac
