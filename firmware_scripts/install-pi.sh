#!/usr/bin/env bash
# Set up a Raspberry Pi OS (64-bit) device, Trixie or Bookworm, or a Debian 13/12 PC, to run
# edge-all: numpy, OpenCV and the camera stack (picamera2, libcamera) from apt, a virtual
# environment that can see them, the edge-all device runtime with LiteRT from pip (no TensorFlow),
# the service user and systemd units (unattended capture, or the clinic station with --station),
# a model bundle, and checks that the camera and the model work. Safe to run again: it only does what is not done yet.
set -euo pipefail

EA_PROG=install-pi.sh
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() {
    cat <<EOF
Usage: sudo $EA_PROG [options]

Installs edge-all on Raspberry Pi OS (64-bit) Trixie or Bookworm, or on Debian 13 (trixie) or
12 (bookworm) on aarch64 or x86_64. Anything else (32-bit Raspberry Pi OS, other distributions or
releases) is refused before anything is done.

Options:
  --package SPEC   what to pip install: a wheel (.whl), an sdist (.tar.gz), a source checkout
                   directory, or a PyPI requirement (default: edge-all). Device runtime only:
                   extras such as [train] are refused (they bring TensorFlow).
  --bundle DIR     model bundle to install with update-bundle.sh (or install one later)
  --camera SOURCE  camera for the service, written to $EA_ENV_FILE when that file is first made
                   (default: picamera2 on a Raspberry Pi, opencv:0 (the first USB camera)
                   elsewhere; see edge-all capture-and-classify --help)
  --venv DIR       virtual environment to create (default $EA_VENV_DEFAULT)
  --station        start the clinic station (edge-all serve, a web application: docs/station.md)
                   at boot instead of the unattended capture service; both are installed, and
                   only one runs at a time (they share the camera)
  --no-service     do not install or enable the systemd services
  --skip-checks    do not check the camera and the model at the end
  --check-only     install nothing: only check the camera and the model (works offline)
  --root DIR       write every file inside DIR instead of / (for tests); commands are still shown
  --dry-run        print each action without doing it
  -h, --help       this help

Exit status: 0 installed and checked, 1 error or a failed check, 2 bad command line.
EOF
}

ARGS=("$@")
PACKAGE=edge-all
BUNDLE=""
CAMERA=""
VENV=$EA_VENV_DEFAULT
SERVICE=1
STATION=0
CHECKS=1
INSTALL=1

while [[ $# -gt 0 ]]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --dry-run) EA_DRY_RUN=1 ;;
        --root) need_value "$@"; set_root "$2"; shift ;;
        --package) need_value "$@"; PACKAGE=$2; shift ;;
        --bundle) need_value "$@"; BUNDLE=$2; shift ;;
        --camera) need_value "$@"; CAMERA=$2; shift ;;
        --venv) need_value "$@"; VENV=$2; shift ;;
        --station) STATION=1 ;;
        --no-service) SERVICE=0 ;;
        --skip-checks) CHECKS=0 ;;
        --check-only) INSTALL=0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
    shift
done

# Debian's own Python, whatever else is on PATH: only its site-packages hold apt's picamera2.
SYSTEM_PYTHON=/usr/bin/python3

# Raspberry Pi OS: its own apt archive (where picamera2 comes from) is configured, in the one-line
# format (raspi.list, Bookworm) or the deb822 format (raspi.sources, Trixie); or the board says so.
is_raspberry_pi() {
    [[ -f $(rootpath /etc/apt/sources.list.d/raspi.list) || -f $(rootpath /etc/apt/sources.list.d/raspi.sources) ]] ||
        grep -qs "Raspberry Pi" "$(rootpath /proc/device-tree/model)"
}

# A local wheel, sdist or checkout is passed to pip by absolute path; anything else is a PyPI
# requirement. Extras are refused: the device gets the runtime only.
resolve_package() {
    local spec=$1
    if [[ $spec == *"["* ]]; then
        die "--package $spec: extras are not installed on the device (this installs the runtime only; [train] would bring TensorFlow, and OpenCV and picamera2 come from apt)"
    fi
    if [[ $spec == */* || $spec == *.whl || $spec == *.tar.gz || $spec == . ]]; then
        [[ -e $spec ]] || die "--package $spec: no such file or directory"
        if [[ -d $spec && ! -f $spec/pyproject.toml ]]; then
            die "--package $spec: not an edge-all source checkout (no pyproject.toml)"
        fi
        spec=$(readlink -f "$spec")
    fi
    printf '%s' "$spec"
}

apt_packages() {
    # python3-venv: the venv; python3-numpy: the one numpy everything shares (1.24 on Bookworm,
    # 2.2 on Trixie); python3-opencv: USB cameras (V4L2) and video files, built against apt's
    # numpy like picamera2; v4l-utils: v4l2-ctl, to list USB cameras. The names are the same on
    # Bookworm and Trixie.
    local packages=(python3-venv python3-numpy python3-opencv v4l-utils)
    if is_raspberry_pi; then
        # picamera2 and libcamera (the Raspberry Pi camera stack) exist only in apt, never on PyPI.
        packages+=(python3-picamera2 python3-libcamera)
    else
        info "not a Raspberry Pi: skipping picamera2 (USB cameras work through OpenCV)"
    fi
    run_host apt-get update
    run_host env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

# The numpy apt installed for picamera2 and OpenCV. pip must not put another numpy in the venv:
# apt's compiled modules (simplejpeg, cv2) break against a different numpy ABI.
system_numpy() {
    "$SYSTEM_PYTHON" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true
}

create_venv() {
    local venv_python
    venv_python=$(rootpath "$VENV")/bin/python
    if [[ -x $venv_python ]]; then
        info "virtual environment $(rootpath "$VENV") exists"
    else
        # --system-site-packages: apt's picamera2, libcamera and OpenCV are visible inside it.
        run_host "$SYSTEM_PYTHON" -m venv --system-site-packages "$(rootpath "$VENV")"
    fi
}

install_edge_all() {
    local spec numpy_pin
    spec=$(resolve_package "$PACKAGE")
    numpy_pin=$(system_numpy)
    if [[ -z $numpy_pin ]]; then
        [[ $EA_DRY_RUN == 1 ]] || ! is_real_root || die "$SYSTEM_PYTHON cannot import numpy after the apt step; is python3-numpy installed?"
        numpy_pin="<apt's python3-numpy version>"
    fi
    run_host "$(rootpath "$VENV")/bin/python" -m pip install --upgrade "$spec" "numpy==$numpy_pin"
    if [[ $EA_DRY_RUN == 0 ]] && is_real_root; then
        "$(rootpath "$VENV")/bin/python" - <<'PY' || die "TensorFlow is installed in the venv; the device needs the runtime only (remove it: pip uninstall tensorflow)"
import importlib.util
import sys

sys.exit(1 if importlib.util.find_spec("tensorflow") else 0)
PY
    fi
}

# These scripts at a fixed place on the device (docs/deploy.md calls them there); install-pi.sh
# can be run again from there, since its unit and settings templates come along.
install_scripts() {
    local name dest mode
    for name in lib.sh install-pi.sh install-coral.sh update-bundle.sh edge-all.service edge-all-station.service \
        edge-all-sync.service edge-all-sync.timer edge-all.env; do
        dest=$(rootpath "$EA_SCRIPTS_DIR/$name")
        mode=0755
        [[ $name == *.sh ]] || mode=0644
        if cmp -s "$HERE/$name" "$dest"; then
            info "$dest is up to date"
        else
            run install -D -m "$mode" "$HERE/$name" "$dest"
        fi
    done
}

# `edge-all` on everyone's PATH, for the commands in docs/deploy.md.
link_command() {
    local link target
    link=$(rootpath /usr/local/bin/edge-all)
    target=$VENV/bin/edge-all
    if [[ -L $link && $(readlink "$link") == "$target" ]]; then
        info "$link -> $target exists"
        return 0
    fi
    run mkdir -p "$(dirname "$link")"
    run ln -sfn "$target" "$link"
}

service_user() {
    # A system user for the service, declared the systemd way (sysusers.d), in group video for
    # the camera. systemd-sysusers creates what is missing and leaves the rest alone.
    write_file "$EA_SYSUSERS_DIR/edge-all.conf" 0644 "# The edge-all service user (install-pi.sh).
u $EA_USER - \"edge-all screening service\" $EA_STATE_DIR /usr/sbin/nologin
m $EA_USER video"
    if is_real_root; then
        run systemd-sysusers edge-all.conf
    else
        run systemd-sysusers --root="$EA_ROOT" edge-all.conf
    fi
}

# The state directory, ready before the service first starts, so `sudo -u edge-all edge-all ...`
# (docs/deploy.md, slide by slide) can write results there: results.db is created empty with
# mode 0640 (SQLite gives its journal files the same mode), frames/ is private, bundles/ is root's.
state_dirs() {
    write_file "$EA_TMPFILES_DIR/edge-all.conf" 0644 "# edge-all's state directory (install-pi.sh). Nothing here is ever cleaned automatically.
d $EA_STATE_DIR 0751 $EA_USER $EA_USER -
d $EA_BUNDLES_DIR 0755 root root -
d $EA_STATE_DIR/frames 0750 $EA_USER $EA_USER -
f $EA_STATE_DIR/results.db 0640 $EA_USER $EA_USER -"
    if is_real_root; then
        run systemd-tmpfiles --create edge-all.conf
    else
        run systemd-tmpfiles --root="$EA_ROOT" --create edge-all.conf
    fi
}

service_files() {
    local camera unit
    camera=$CAMERA
    if [[ -z $camera ]]; then
        if is_raspberry_pi; then camera=picamera2; else camera=opencv:0; fi
    fi
    if [[ -f $(rootpath "$EA_ENV_FILE") ]]; then
        info "$(rootpath "$EA_ENV_FILE") exists: keeping its settings"
        [[ -z $CAMERA ]] || warn "--camera $CAMERA ignored: edit EDGE_ALL_CAMERA in $EA_ENV_FILE instead"
    else
        write_file "$EA_ENV_FILE" 0644 "$(sed "s|^EDGE_ALL_CAMERA=.*|EDGE_ALL_CAMERA=$camera|" "$HERE/edge-all.env")"
    fi
    unit=$(sed "s|$EA_VENV_DEFAULT/|$VENV/|g" "$HERE/edge-all.service")
    write_file "$EA_UNIT_FILE" 0644 "$unit"
    unit=$(sed "s|$EA_VENV_DEFAULT/|$VENV/|g" "$HERE/edge-all-station.service")
    write_file "$EA_STATION_UNIT_FILE" 0644 "$unit"
    # The hospital link (docs/hub.md): idle until the Pi is enrolled, then it syncs as fields come.
    unit=$(sed "s|$EA_VENV_DEFAULT/|$VENV/|g" "$HERE/edge-all-sync.service")
    write_file "$EA_SYNC_UNIT_FILE" 0644 "$unit"
    write_file "$EA_SYNC_TIMER_FILE" 0644 "$(cat "$HERE/edge-all-sync.timer")"
    # One of the two starts at boot: they share the camera (the station's unit says Conflicts=).
    local on=$EA_UNIT_NAME off=$EA_STATION_UNIT_NAME systemctl=(systemctl)
    if [[ $STATION == 1 ]]; then
        on=$EA_STATION_UNIT_NAME off=$EA_UNIT_NAME
    fi
    if is_real_root; then
        run systemctl daemon-reload
    else
        systemctl+=(--root="$EA_ROOT")
    fi
    if [[ -L $(rootpath "/etc/systemd/system/multi-user.target.wants/$off") ]]; then
        run "${systemctl[@]}" disable "$off"
    fi
    run "${systemctl[@]}" enable "$on"
    run "${systemctl[@]}" enable "$EA_SYNC_TIMER_NAME"
}

install_bundle() {
    local args=(--venv "$VENV" --no-restart)
    [[ $EA_DRY_RUN == 0 ]] || args+=(--dry-run)
    is_real_root || args+=(--root "$EA_ROOT")
    printf '+ %s\n' "update-bundle.sh ${args[*]} $BUNDLE"
    # Through bash: a copy on a USB stick (FAT) may have lost its executable bit.
    bash "$HERE/update-bundle.sh" "${args[@]}" "$BUNDLE"
}

# Checks run as the service user, so they prove what the service will be able to do.
as_service_user() {
    run_host runuser -u "$EA_USER" -- "$@"
}

run_checks() {
    local failed=() python edge_all model
    python=$VENV/bin/python
    edge_all=$VENV/bin/edge-all
    model=$EA_BUNDLES_DIR/current
    as_service_user "$python" -c "import edge_all.cli.main" || failed+=("edge-all does not import in $VENV")
    # The interpreter edge-all will use: LiteRT, on every release (tflite-runtime has no wheels for
    # Trixie's Python 3.13, so nothing may quietly fall back to it).
    as_service_user "$python" -c "import ai_edge_litert.interpreter" || failed+=("LiteRT (ai-edge-litert) does not import in $VENV")
    if is_raspberry_pi; then
        as_service_user "$python" -c 'import picamera2' || failed+=("picamera2 is not visible in $VENV")
    fi
    if is_real_root && systemctl is-active --quiet "$EA_UNIT_NAME" 2>/dev/null; then
        warn "the $EA_UNIT_NAME service is running and holds the camera, so the camera check may fail; stop it first:  sudo systemctl stop $EA_UNIT_NAME"
    fi
    # Any camera will do: a Raspberry Pi camera (libcamera) or a USB camera (V4L2 via OpenCV).
    as_service_user "$python" - <<'PY' || failed+=("no camera found (see docs/deploy.md, Troubleshooting)")
import sys

found = []
try:
    from picamera2 import Picamera2

    found += [f"Raspberry Pi camera: {cam.get('Model', cam)}" for cam in Picamera2.global_camera_info()]
except ImportError:
    pass
import cv2

capture = cv2.VideoCapture(0)
if capture.isOpened() and capture.read()[0]:
    found.append("USB camera 0 (V4L2)")
capture.release()
print("\n".join(found) or "no camera found")
sys.exit(0 if found else 1)
PY
    if [[ -e $(rootpath "$model") || $EA_DRY_RUN == 1 ]]; then
        as_service_user "$edge_all" info --model "$model" || failed+=("the model in $model does not load")
    else
        warn "no model bundle installed yet: install one with  sudo $EA_SCRIPTS_DIR/update-bundle.sh BUNDLE_DIR"
    fi
    if [[ ${#failed[@]} -gt 0 ]]; then
        printf '%s: check failed: %s\n' "$EA_PROG" "${failed[@]}" >&2
        die "installed, but ${#failed[@]} check(s) failed (fix them and run $EA_PROG again)"
    fi
    info "checks passed"
}

if [[ $INSTALL == 0 && $CHECKS == 0 ]]; then
    usage_error "--check-only and --skip-checks together leave nothing to do"
fi
require_root_user "${ARGS[@]}"
check_platform
if [[ $INSTALL == 0 ]]; then
    run_checks
    exit 0
fi
apt_packages
create_venv
install_edge_all
link_command
install_scripts
if [[ $SERVICE == 1 ]]; then
    service_user
    state_dirs
    service_files
fi
if [[ -n $BUNDLE ]]; then
    install_bundle
fi
if [[ $CHECKS == 1 ]]; then
    run_checks
fi
if [[ $SERVICE == 1 && $STATION == 1 ]]; then
    info "done. The clinic station starts at boot; start it now with:  sudo systemctl start $EA_STATION_UNIT_NAME  (then open http://127.0.0.1:8080)"
    # No site profile is installed: a clinic's microscope is measured on its own control smear.
    info "the station is not commissioned yet: commission it on a normal control smear (its Commission page; docs/commissioning.md)"
elif [[ $SERVICE == 1 ]]; then
    info "done. The service starts at boot; start it now with:  sudo systemctl start $EA_UNIT_NAME"
else
    info "done."
fi
