#!/usr/bin/env bash
# Add a Coral USB Accelerator (Edge TPU) to an edge-all device: the Edge TPU runtime
# libedgetpu1-std with its udev rules (USB access for group plugdev), either a community build
# given with --deb or Google's from Coral's apt repository (trusted through its own keyring in
# /etc/apt/keyrings: signed-by, not the removed apt-key), the service user in plugdev, and a check
# that the library loads and the accelerator is plugged in.
# Best-effort: Google's own packages stopped at libedgetpu 16.0, which crashes with TensorFlow Lite
# runtimes newer than 2.11 (google-coral/edgetpu#812), and LiteRT is newer; community builds for
# current TensorFlow exist (https://github.com/feranick/libedgetpu/releases). docs/hardware.md.
# Safe to run again: files that are already right are left alone.
set -euo pipefail

EA_PROG=install-coral.sh
HERE=$(dirname "$(readlink -f "$0")")
# shellcheck source=lib.sh
source "$HERE/lib.sh"

CORAL_KEY_URL=https://packages.cloud.google.com/apt/doc/apt-key.gpg
CORAL_REPO_URL=https://packages.cloud.google.com/apt
CORAL_SUITE=coral-edgetpu-stable
KEYRING=/etc/apt/keyrings/coral-edgetpu.gpg
SOURCES_FILE=/etc/apt/sources.list.d/coral-edgetpu.list
# Community builds of libedgetpu for current TensorFlow versions (Google's stopped at 16.0).
COMMUNITY_BUILDS_URL=https://github.com/feranick/libedgetpu/releases
# USB ids of the accelerator: before its firmware is loaded, and after (it re-enumerates).
CORAL_USB_IDS=(1a6e:089a 18d1:9302)

usage() {
    cat <<EOF
Usage: sudo $EA_PROG [options]

Installs the Coral Edge TPU runtime on Raspberry Pi OS (64-bit) Trixie or Bookworm, or Debian
13 or 12 (aarch64 or x86_64), after install-pi.sh. Then add --edgetpu to EDGE_ALL_EXTRA_ARGS in
$EA_ENV_FILE and restart the service (docs/deploy.md).

Coral support is best-effort. Google's own runtime (libedgetpu1-std 16.0 from Coral's apt
repository, used when --deb is not given) is known to crash with TensorFlow Lite runtimes newer
than 2.11, and edge-all runs on LiteRT, which is newer. Prefer a community build made for a
current TensorFlow: download the libedgetpu1-std .deb for your OS release and architecture from
$COMMUNITY_BUILDS_URL and pass it with --deb.

Options:
  --deb FILE       install this libedgetpu1-std .deb (a community build: recommended) instead of
                   Google's from Coral's repository; the repository is then not added
  --venv DIR       edge-all's virtual environment, used for the check (default $EA_VENV_DEFAULT)
  --skip-checks    do not check the library and the accelerator at the end
  --root DIR       write every file inside DIR instead of / (for tests); commands are still shown
  --dry-run        print each action without doing it
  -h, --help       this help

Exit status: 0 installed and checked, 1 error or a failed check, 2 bad command line.
EOF
}

ARGS=("$@")
DEB=""
VENV=$EA_VENV_DEFAULT
CHECKS=1

while [[ $# -gt 0 ]]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --dry-run) EA_DRY_RUN=1 ;;
        --root) need_value "$@"; set_root "$2"; shift ;;
        --deb) need_value "$@"; DEB=$2; shift ;;
        --venv) need_value "$@"; VENV=$2; shift ;;
        --skip-checks) CHECKS=0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
    shift
done

# Fetch Coral's signing key into its own keyring, trusted for Coral's repository only. The key is
# fetched every time, so a re-run also picks up a key Google has rotated (EXPKEYSIG errors).
install_keyring() {
    local download keyring
    keyring=$(rootpath "$KEYRING")
    download=$(mktemp)
    # shellcheck disable=SC2064  # expand now: the path is local to this function
    trap "rm -f '$download'" EXIT
    run install -d -m 0755 "$(dirname "$keyring")"
    run_host curl -fsSL --retry 3 -o "$download" "$CORAL_KEY_URL"
    if [[ $EA_DRY_RUN == 1 ]] || ! is_real_root; then
        show_cmd gpg --dearmor --yes -o "$keyring" "$download"
        return 0
    fi
    if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$download"; then
        run gpg --dearmor --yes -o "$keyring" "$download"
    else
        run install -m 0644 "$download" "$keyring"  # already a binary keyring
    fi
    run chmod 0644 "$keyring"
}

add_repository() {
    write_file "$SOURCES_FILE" 0644 "# Coral Edge TPU runtime (install-coral.sh). Trusted only with Coral's own key.
deb [signed-by=$KEYRING] $CORAL_REPO_URL $CORAL_SUITE main"
}

install_runtime() {
    run_host apt-get update
    if [[ -z $DEB ]]; then
        warn "installing Google's libedgetpu 16.0, which is known to crash with TensorFlow Lite runtimes newer than 2.11 (edge-all's LiteRT is newer); if the check at the end fails, install a community build with --deb (see --help)"
    fi
    if [[ -n $DEB ]]; then
        run_host env DEBIAN_FRONTEND=noninteractive apt-get install -y usbutils "$(readlink -f "$DEB")"
    else
        # libedgetpu1-std: the standard clock (libedgetpu1-max runs hotter; see docs/deploy.md).
        run_host env DEBIAN_FRONTEND=noninteractive apt-get install -y libedgetpu1-std usbutils
    fi
}

# The package's udev rules give group plugdev the accelerator's USB device; put the service user
# (and whoever ran sudo, for manual tests) in that group, and apply the rules to a plugged device.
usb_access() {
    write_file "$EA_SYSUSERS_DIR/edge-all-coral.conf" 0644 "# The edge-all service user may use a Coral USB Accelerator (install-coral.sh).
m $EA_USER plugdev"
    if is_real_root; then
        run systemd-sysusers edge-all-coral.conf
    else
        run systemd-sysusers --root="$EA_ROOT" edge-all-coral.conf
    fi
    if [[ -n ${SUDO_USER:-} && ${SUDO_USER} != root ]]; then
        run_host usermod -aG plugdev "$SUDO_USER"
    fi
    run_host udevadm control --reload-rules
    run_host udevadm trigger --subsystem-match=usb --action=add
    # A running service picks up its new group only when it restarts.
    run_host systemctl try-restart "$EA_UNIT_NAME"
}

run_checks() {
    local failed=() found="" id
    if [[ $EA_DRY_RUN == 1 ]] || ! is_real_root; then
        show_cmd ldconfig -p
        show_cmd lsusb -d "${CORAL_USB_IDS[0]}"
        show_cmd runuser -u "$EA_USER" -- "$VENV/bin/python" -c "load_delegate('libedgetpu.so.1')"
        return 0
    fi
    if ldconfig -p | grep -q 'libedgetpu\.so\.1'; then
        info "Edge TPU runtime: libedgetpu.so.1 installed"
    else
        failed+=("libedgetpu.so.1 is not installed")
    fi
    if compgen -G '/lib/udev/rules.d/*edgetpu*.rules' >/dev/null || compgen -G '/usr/lib/udev/rules.d/*edgetpu*.rules' >/dev/null; then
        info "udev rules for the accelerator installed (USB access for group plugdev)"
    else
        failed+=("the Edge TPU udev rules are missing (reinstall libedgetpu1-std)")
    fi
    for id in "${CORAL_USB_IDS[@]}"; do
        if lsusb -d "$id" >/dev/null 2>&1; then
            found=$id
        fi
    done
    if [[ -z $found ]]; then
        failed+=("no Coral USB Accelerator found on USB (plug it into a blue USB 3 port, then run this again)")
    elif [[ -x $VENV/bin/python ]]; then
        # Open the accelerator the way edge-all will, as the service user (tests the udev rules).
        run runuser -u "$EA_USER" -- "$VENV/bin/python" -c \
            "from ai_edge_litert.interpreter import load_delegate; load_delegate('libedgetpu.so.1'); print('Edge TPU opened')" ||
            failed+=("the Edge TPU did not open for user $EA_USER (unplug and replug it, or reboot; a crash such as 'Segmentation fault' means this libedgetpu does not match LiteRT: install a community build with --deb, see --help)")
    else
        warn "$VENV/bin/python not found: run install-pi.sh first to check the Edge TPU from edge-all"
    fi
    if [[ ${#failed[@]} -gt 0 ]]; then
        printf '%s: check failed: %s\n' "$EA_PROG" "${failed[@]}" >&2
        die "installed, but ${#failed[@]} check(s) failed"
    fi
    info "checks passed"
}

if [[ -n $DEB ]]; then
    [[ -f $DEB ]] || usage_error "--deb $DEB: no such file"
fi
require_root_user "${ARGS[@]}"
check_platform
if [[ -z $DEB ]]; then
    run_host apt-get update
    run_host env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl gnupg
    install_keyring
    add_repository
fi
install_runtime
usb_access
if [[ $CHECKS == 1 ]]; then
    run_checks
fi
info "done. To use it: add --edgetpu to EDGE_ALL_EXTRA_ARGS in $EA_ENV_FILE, then: sudo systemctl restart $EA_UNIT_NAME"
