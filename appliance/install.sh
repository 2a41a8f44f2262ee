#!/bin/bash
# virga appliance installer: the ONE installer used by the diskimage-builder element, by the
# Vagrant provisioner and by hand on a bare Debian 12 host.
#
# Idempotent: every step detects what is already in place and skips it; the run ends with a
# report of what changed ("0 changes" on a second run). Offline-capable: --wheelhouse DIR and
# --debs DIR make pip and apt use local files only.
set -eu -o pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/virga
WHEEL=""
WHEELHOUSE=""
DEBS_DIR=""
GUEST_TEMPLATE=""
REPORT=""
START=auto
TUI_USERS=(virga)
CHANGES=()

PACKAGES=(
    ca-certificates curl dnsmasq-base genisoimage haproxy iproute2 iptables ipxe-qemu
    libnfs13 libvirt-clients libvirt-daemon-driver-qemu libvirt-daemon-system nfs-kernel-server
    nftables openssh-server python3 python3-libvirt python3-venv qemu-block-extra qemu-system-x86 qemu-utils
    sudo systemd-sysv
)
UNITS=(virga-firstboot.service virga-router-host.service virga-router.service virga-server.service virga-status.service virga-storage.service)

usage() {
    cat <<'EOF'
usage: install.sh [options]
  --wheel FILE           the virga wheel (default: the newest dist/virga-*.whl beside this script's repo)
  --wheelhouse DIR       install Python dependencies from DIR only (offline)
  --debs DIR             install Debian packages from the .deb files in DIR only (offline)
  --guest-template FILE  the tiny guest template (qcow2) to ship for the sandbox zone
  --tui-user NAME        also land NAME in the TUI on login (repeatable; 'virga' always does)
  --prefix DIR           the virga venv (default /opt/virga)
  --no-start             never start services (image builds, chroots)
  --report FILE          also write the list of changes to FILE
EOF
}

log() { printf 'virga-install: %s\n' "$*"; }
changed() { CHANGES+=("$1"); log "changed: $1"; }
die() { log "error: $*" >&2; exit 1; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --wheel) WHEEL=$2; shift 2 ;;
            --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
            --debs) DEBS_DIR=$2; shift 2 ;;
            --guest-template) GUEST_TEMPLATE=$2; shift 2 ;;
            --tui-user) TUI_USERS+=("$2"); shift 2 ;;
            --prefix) PREFIX=$2; shift 2 ;;
            --no-start) START=no; shift ;;
            --report) REPORT=$2; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option $1" ;;
        esac
    done
}

# --- Debian packages ---------------------------------------------------------------------------

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = installed ] || printf '%s\n' "$pkg"
    done
}

ensure_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    [ ${#missing[@]} -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "$DEBS_DIR" ]; then
        apt-get install -y -q --no-install-recommends "$DEBS_DIR"/*.deb
    else
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    mapfile -t left < <(missing_packages)
    [ ${#left[@]} -eq 0 ] || die "packages still missing after apt: ${left[*]}"
    changed "apt packages installed: ${missing[*]}"
}

# --- files -------------------------------------------------------------------------------------

# put_file SRC DEST MODE: copy SRC to DEST only when the content or mode differs.
put_file() {
    local src=$1 dest=$2 mode=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
        return 0
    fi
    install -D -m "$mode" "$src" "$dest"
    changed "$dest"
}

# put_text DEST MODE: write stdin to DEST only when it differs.
put_text() {
    local dest=$1 mode=$2 tmp
    tmp=$(mktemp)
    cat > "$tmp"
    put_file "$tmp" "$dest" "$mode"
    rm -f "$tmp"
}

ensure_dir() {
    local dir=$1 mode=$2 owner=$3
    if [ -d "$dir" ] && [ "$(stat -c '%a %U:%G' "$dir")" = "${mode#0} $owner" ]; then
        return 0
    fi
    install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
    changed "directory $dir"
}

ensure_symlink() {
    local target=$1 link=$2
    [ "$(readlink "$link" 2>/dev/null || true)" = "$target" ] && return 0
    ln -sfn "$target" "$link"
    changed "symlink $link -> $target"
}

# --- users -------------------------------------------------------------------------------------

ensure_user() {
    if ! getent group virga >/dev/null; then
        groupadd --system virga
        changed "group virga"
    fi
    if ! getent passwd virga >/dev/null; then
        useradd --create-home --shell /bin/bash --gid virga --comment "virga appliance" virga
        changed "user virga"
    fi
    local user grp
    for user in "${TUI_USERS[@]}"; do
        getent passwd "$user" >/dev/null || die "--tui-user $user: no such user"
        for grp in virga libvirt kvm; do
            getent group "$grp" >/dev/null || continue
            [[ " $(id -nG "$user") " == *" $grp "* ]] && continue
            usermod -a -G "$grp" "$user"
            changed "user $user joined group $grp"
        done
    done
}

# --- the virga venv ----------------------------------------------------------------------------

find_wheel() {
    [ -n "$WHEEL" ] && { [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file"; return 0; }
    local dist
    dist=$(find "$SRC_DIR/../dist" -maxdepth 1 -name 'virga-*.whl' 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dist" ] || die "no virga wheel: pass --wheel FILE (build one with 'pip wheel --no-deps . -w dist/')"
    WHEEL=$dist
}

# The wheel's RECORD lists every file's hash, so it identifies the content whatever the zip's
# timestamps are (a rebuilt, identical tree gives the same identity).
wheel_identity() {
    python3 - "$1" <<'EOF'
import hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as whl:
    record = [n for n in whl.namelist() if n.endswith(".dist-info/RECORD")][0]
    print(hashlib.sha256(whl.read(record)).hexdigest())
EOF
}

ensure_venv() {
    if [ ! -x "$PREFIX/bin/python" ] || ! "$PREFIX/bin/python" -c 'import sys; sys.exit(0)' 2>/dev/null; then
        # System site-packages let the venv use Debian's python3-libvirt (no compiler needed).
        python3 -m venv --system-site-packages "$PREFIX"
        changed "venv $PREFIX"
    fi
    local ident stamp="$PREFIX/.virga-wheel"
    ident=$(wheel_identity "$WHEEL")
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ident" ] && return 0
    local pip=("$PREFIX/bin/pip" install -q --disable-pip-version-check)
    [ -n "$WHEELHOUSE" ] && pip+=(--no-index --find-links "$WHEELHOUSE")
    "${pip[@]}" --force-reinstall --no-deps "$WHEEL"
    "${pip[@]}" "${WHEEL}[libvirt]"
    printf '%s\n' "$ident" > "$stamp"
    changed "virga $(basename "$WHEEL") into $PREFIX"
}

# --- configuration -----------------------------------------------------------------------------

render_env() {
    cat <<EOF
# virga appliance settings: read by the systemd units (EnvironmentFile) and login shells.
VIRGA_DATA_DIR=/var/lib/virga
VIRGA_CONFIG_DIR=/etc/virga
VIRGA_API_URL=http://127.0.0.1:8080
VIRGA_GUEST_TEMPLATE=/var/lib/virga/templates/virga-tiny.qcow2
VIRGA_SECONDARY_STORAGE=/srv/virga/secondary
VIRGA_PREFIX=$PREFIX
EOF
}

render_exports() {
    cat <<'EOF'
# virga secondary storage (image store): the appliance itself and private guest networks.
/srv/virga/secondary 127.0.0.1(rw,async,no_subtree_check,no_root_squash,insecure) 10.0.0.0/8(rw,async,no_subtree_check,no_root_squash,insecure) 172.16.0.0/12(rw,async,no_subtree_check,no_root_squash,insecure) 192.168.0.0/16(rw,async,no_subtree_check,no_root_squash,insecure)
EOF
}

ensure_config() {
    ensure_dir /etc/virga 0755 root:root
    ensure_dir /var/lib/virga 0755 root:root
    ensure_dir /var/lib/virga/templates 0755 root:root
    ensure_dir /var/lib/virga/primary 0711 root:root
    ensure_dir /srv/virga 0755 root:root
    ensure_dir /srv/virga/secondary 0755 root:root
    render_env | put_text /etc/virga/virga.env 0644
    render_exports | put_text /etc/exports.d/virga.exports 0644
    printf 'options kvm_intel nested=1\noptions kvm_amd nested=1\n' | put_text /etc/modprobe.d/virga-kvm.conf 0644
    printf 'net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 1\n' | put_text /etc/sysctl.d/60-virga.conf 0644
    put_file "$SRC_DIR/firstboot/virga-firstboot" /usr/lib/virga/virga-firstboot 0755
    put_file "$SRC_DIR/firstboot/virga-banner" /usr/lib/virga/virga-banner 0755
    put_file "$SRC_DIR/firstboot/virga-tui" /usr/lib/virga/virga-tui 0755
    put_file "$SRC_DIR/firstboot/virga-status" /usr/lib/virga/virga-status 0755
    put_file "$SRC_DIR/firstboot/sandbox-zone.yaml" /usr/lib/virga/sandbox-zone.yaml 0644
    put_file "$SRC_DIR/firstboot/virga-profile.sh" /etc/profile.d/virga.sh 0644
    ensure_symlink "$PREFIX/bin/virga" /usr/local/bin/virga
    if [ -n "$GUEST_TEMPLATE" ]; then
        [ -f "$GUEST_TEMPLATE" ] || die "--guest-template $GUEST_TEMPLATE: no such file"
        put_file "$GUEST_TEMPLATE" /var/lib/virga/templates/virga-tiny.qcow2 0644
    fi
}

# --- systemd -----------------------------------------------------------------------------------

# An image boots first with an empty machine-id, so systemd enables every unit its presets allow;
# libvirtd's TCP and TLS sockets (no certificates here) would then keep libvirtd from starting.
render_preset() {
    cat <<'EOF'
# virga appliance: libvirtd listens on its local sockets only.
disable libvirtd-tcp.socket
disable libvirtd-tls.socket
EOF
}

UNITS_CHANGED=0

ensure_units() {
    local before=${#CHANGES[@]} unit
    for unit in "${UNITS[@]}"; do
        put_file "$SRC_DIR/systemd/$unit" "/etc/systemd/system/$unit" 0644
    done
    put_file "$SRC_DIR/systemd/getty-tty1-virga.conf" /etc/systemd/system/getty@tty1.service.d/virga-tui.conf 0644
    render_preset | put_text /etc/systemd/system-preset/20-virga.preset 0644
    [ ${#CHANGES[@]} -gt "$before" ] && UNITS_CHANGED=1
    for unit in "${UNITS[@]}" libvirtd.service nfs-server.service; do
        [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ] && continue
        systemctl enable "$unit" >/dev/null 2>&1 || die "systemctl enable $unit failed"
        changed "enabled $unit"
    done
}

systemd_running() { [ -d /run/systemd/system ]; }

start_services() {
    [ "$START" = no ] && return 0
    systemd_running || { log "systemd is not running here: services start on next boot"; return 0; }
    [ "$UNITS_CHANGED" = 1 ] && systemctl daemon-reload
    local unit
    for unit in virga-storage.service virga-router-host.service virga-server.service virga-router.service virga-firstboot.service virga-status.service; do
        systemctl is-active -q "$unit" && continue
        systemctl start "$unit" || die "systemctl start $unit failed (journalctl -u $unit)"
        changed "started $unit"
    done
}

report() {
    local n=${#CHANGES[@]}
    if [ "$n" -eq 0 ]; then
        log "nothing to do: 0 changes"
    else
        log "$n change(s)"
    fi
    if [ -n "$REPORT" ]; then
        {
            printf 'changes: %s\n' "$n"
            if [ "$n" -gt 0 ]; then printf 'changed: %s\n' "${CHANGES[@]}"; fi
        } > "$REPORT"
    fi
}

main() {
    parse_args "$@"
    [ "$(id -u)" -eq 0 ] || die "run as root"
    [ -r /etc/debian_version ] || die "this installer targets Debian 12 (bookworm)"
    ensure_packages
    find_wheel
    ensure_user
    ensure_venv
    ensure_config
    ensure_units
    start_services
    report
}

main "$@"
