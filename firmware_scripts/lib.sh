# shellcheck shell=bash
# shellcheck disable=SC2034  # the EA_* settings are used by the scripts that source this file
# Shared helpers for edge-all's device scripts (sourced, never run).
#
# Every script does its work through `run` (one place that prints "+ cmd" and skips it under
# --dry-run) and `write_file` (prints the file it would write, writes it atomically and only when
# the content changed), and finds every file it touches through `rootpath` (so --root DIR points
# the whole script at a fake root for tests). That is what keeps dry runs honest and re-runs safe.

EA_DRY_RUN=0
EA_ROOT=/
EA_PROG=${EA_PROG:-$(basename "$0")}

# Where things live on the device (paths inside the target root).
EA_VENV_DEFAULT=/opt/edge-all/venv
EA_SCRIPTS_DIR=/opt/edge-all/scripts
EA_STATE_DIR=/var/lib/edge-all
EA_BUNDLES_DIR=$EA_STATE_DIR/bundles
EA_CONFIG_DIR=/etc/edge-all
EA_ENV_FILE=$EA_CONFIG_DIR/edge-all.env
EA_UNIT_NAME=edge-all.service
EA_UNIT_FILE=/etc/systemd/system/$EA_UNIT_NAME
EA_STATION_UNIT_NAME=edge-all-station.service
EA_STATION_UNIT_FILE=/etc/systemd/system/$EA_STATION_UNIT_NAME
EA_SYNC_UNIT_NAME=edge-all-sync.service
EA_SYNC_UNIT_FILE=/etc/systemd/system/$EA_SYNC_UNIT_NAME
EA_SYNC_TIMER_NAME=edge-all-sync.timer
EA_SYNC_TIMER_FILE=/etc/systemd/system/$EA_SYNC_TIMER_NAME
EA_SYSUSERS_DIR=/etc/sysusers.d
EA_TMPFILES_DIR=/etc/tmpfiles.d
EA_USER=edge-all

info() {
    printf '%s: %s\n' "$EA_PROG" "$*"
}

warn() {
    printf '%s: warning: %s\n' "$EA_PROG" "$*" >&2
}

die() {
    printf '%s: error: %s\n' "$EA_PROG" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s: %s (see %s --help)\n' "$EA_PROG" "$*" "$EA_PROG" >&2
    exit 2
}

# The value of an option that takes one ("--root DIR"); $2 is what followed it on the command line.
need_value() {
    [[ $# -ge 2 && -n $2 && $2 != --* ]] || usage_error "$1 needs a value"
}

set_root() {
    [[ -d $1 ]] || usage_error "--root $1: no such directory"
    EA_ROOT=$(cd "$1" && pwd)
}

# A path inside the target root: rootpath /etc/os-release -> $EA_ROOT/etc/os-release.
rootpath() {
    if [[ $EA_ROOT == / ]]; then
        printf '%s' "$1"
    else
        printf '%s%s' "$EA_ROOT" "$1"
    fi
}

is_real_root() {
    [[ $EA_ROOT == / ]]
}

# Print a command as "+ cmd args", shell-quoted so it can be copied and run by hand.
show_cmd() {
    local quoted
    printf -v quoted ' %q' "$@"
    printf '+%s\n' "$quoted"
}

# Show a command and run it, unless --dry-run.
run() {
    show_cmd "$@"
    [[ $EA_DRY_RUN == 1 ]] || "$@"
}

# run, with the command's own output discarded (the "+ cmd" line still shows).
run_quiet() {
    show_cmd "$@"
    [[ $EA_DRY_RUN == 1 ]] || "$@" >/dev/null
}

# run, for commands that act on this machine itself (apt-get, pip, systemctl, udevadm...): under
# --root DIR they are shown but not run, since they cannot be pointed at a fake root.
run_host() {
    if is_real_root; then
        run "$@"
        return
    fi
    show_cmd "$@"
    [[ $EA_DRY_RUN == 1 ]] || info "(not run: --root $EA_ROOT is not this machine)"
}

# write_file PATH MODE CONTENT: PATH is inside the target root. Prints what it writes; leaves an
# identical file alone (so a re-run changes nothing) and replaces a different one atomically.
write_file() {
    local dest mode content tmp
    dest=$(rootpath "$1")
    mode=$2
    content=$3
    if [[ -f $dest ]] && [[ "$(cat "$dest")" == "$content" ]]; then
        info "$dest is up to date"
        return 0
    fi
    printf '+ write %s (mode %s):\n' "$dest" "$mode"
    printf '%s\n' "$content" | sed 's/^/    | /'
    if [[ $EA_DRY_RUN == 1 ]]; then
        return 0
    fi
    mkdir -p "$(dirname "$dest")"
    tmp=$(mktemp "$dest.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dest"
}

# What the device scripts run on. Raspberry Pi OS (64-bit) reports itself as Debian (ID=debian),
# so one check covers both; its 32-bit edition says ID=raspbian and is stopped by check_arch.
EA_SUPPORTED_OS="Raspberry Pi OS (64-bit) Trixie or Bookworm, or Debian 13 (trixie) or 12 (bookworm)"

# Refuse anything but Debian 13 "trixie" or 12 "bookworm" (and Raspberry Pi OS built on them).
# Reads $ROOT/etc/os-release as data (never sources it). Sets EA_OS (its PRETTY_NAME); prints
# nothing unless it refuses.
check_os() {
    local file key value id="" codename="" version_id="" pretty=""
    file=$(rootpath /etc/os-release)
    [[ -r $file ]] || die "cannot read $file: supported: $EA_SUPPORTED_OS"
    while IFS='=' read -r key value; do
        value=${value%\"}
        value=${value#\"}
        case $key in
            ID) id=$value ;;
            VERSION_CODENAME) codename=$value ;;
            VERSION_ID) version_id=$value ;;
            PRETTY_NAME) pretty=$value ;;
        esac
    done <"$file"
    if [[ $id != debian || ($codename != trixie && $codename != bookworm) ]]; then
        die "unsupported OS: ${pretty:-${id:-unknown} ${version_id}} (from $file); supported: $EA_SUPPORTED_OS"
    fi
    EA_OS=${pretty:-Debian $version_id ($codename)}
}

# Refuse 32-bit ARM loudly: there are no LiteRT wheels for it, and pip would fail much later with
# an obscure resolver error. EDGE_ALL_ARCH and EDGE_ALL_DPKG_ARCH override `uname -m` and
# `dpkg --print-architecture` (tests use them to play other machines). Sets EA_ARCH (aarch64 or
# x86_64) and EA_ARCH_DESC; prints nothing unless it refuses.
check_arch() {
    local machine userland flash="Flash Raspberry Pi OS (64-bit) instead."
    machine=${EDGE_ALL_ARCH:-$(uname -m)}
    case $machine in
        aarch64 | arm64) EA_ARCH=aarch64 ;;
        x86_64 | amd64) EA_ARCH=x86_64 ;;
        armv7l | armv6l | armhf | armel | arm)
            die "32-bit ARM ($machine) is not supported: LiteRT (ai-edge-litert) publishes no wheels for 32-bit ARM. $flash" ;;
        *) die "unsupported CPU architecture: $machine (supported: aarch64 and x86_64)" ;;
    esac
    userland=${EDGE_ALL_DPKG_ARCH:-$(dpkg --print-architecture 2>/dev/null || true)}
    case $userland in
        armhf | armel)
            die "32-bit Raspberry Pi OS ($userland packages on a $machine kernel) is not supported: LiteRT (ai-edge-litert) publishes no wheels for 32-bit ARM. $flash" ;;
    esac
    EA_ARCH_DESC="$machine${userland:+ ($userland packages)}"
}

# Both checks, the architecture first (its advice, "flash the 64-bit OS", is the right one for a
# 32-bit system of any release), then one line saying what was found. A refusal is one line on
# stderr and nothing on stdout.
check_platform() {
    check_arch
    check_os
    info "platform: $EA_OS, $EA_ARCH_DESC (supported)"
}

# Installing for real needs root; dry runs and fake roots do not.
require_root_user() {
    if [[ $EA_DRY_RUN == 0 ]] && is_real_root && [[ $EUID -ne 0 ]]; then
        die "must run as root: try  sudo $0 $*"
    fi
}
