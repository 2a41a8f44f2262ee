#!/bin/bash
# Build the virga appliance with diskimage-builder.
#
#   images/appliance/build.sh [--output DIR] [--disk auto|yes|no]
#
# Always: OUT/virga-appliance.tar (the root filesystem), OUT/vmlinuz + OUT/initrd.img and
# OUT/virga-appliance-rootfs.qcow2 (an ext4 root file system for direct kernel boot). With
# --disk yes (or auto where syslinux, mtools and sfdisk are installed): the BIOS-bootable
# OUT/virga-appliance.qcow2 (with a vagrant user) and the Vagrant boxes
# OUT/virga-appliance-{libvirt,virtualbox}.box. Nothing needs loop devices or device-mapper.
# Downloads are cached under ~/.cache/virga (debootstrap tarball, .debs, wheels, DIB itself).
set -eu -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${VIRGA_CACHE_DIR:-$HOME/.cache/virga}
OUT=$REPO/build/appliance
DISK=${VIRGA_APPLIANCE_DISK:-auto}
ROOTFS_SIZE=${VIRGA_APPLIANCE_ROOTFS_SIZE:-6G}

log() { printf 'build-appliance: %s\n' "$*"; }
die() { log "error: $*" >&2; exit 1; }

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --output) OUT=$2; shift 2 ;;
            --disk) DISK=$2; shift 2 ;;
            -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}"; exit 0 ;;
            *) die "unknown option $1" ;;
        esac
    done
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
}

# diskimage-builder from PATH, else from its own cached venv (pip install diskimage-builder).
find_dib() {
    if command -v disk-image-create >/dev/null; then
        DIB=$(command -v disk-image-create)
        return 0
    fi
    DIB=$CACHE/dib-venv/bin/disk-image-create
    [ -x "$DIB" ] && return 0
    log "installing diskimage-builder into $CACHE/dib-venv"
    python3 -m venv "$CACHE/dib-venv"
    "$CACHE/dib-venv/bin/pip" install -q diskimage-builder
}

# The Debian and Debian-security mirrors apt is configured with, read at run time.
apt_mirror() {
    python3 "$HERE/apt_mirror.py" "$1"
}

disk_supported() {
    command -v syslinux >/dev/null && command -v mcopy >/dev/null && command -v mkfs.fat >/dev/null \
        && command -v sfdisk >/dev/null
}

# The guest template: built by images/guest/build.sh when present, cached between builds.
guest_template() {
    local guest_out=$CACHE/guest
    if [ ! -x "$REPO/images/guest/build.sh" ]; then
        log "WARNING: images/guest/build.sh is missing: the appliance ships no guest template" >&2
        return 0
    fi
    if ! find "$guest_out" -maxdepth 1 -name '*.qcow2' 2>/dev/null | grep -q .; then
        log "building the tiny guest template" >&2
        "$REPO/images/guest/build.sh" "$guest_out" >&2
    fi
    find "$guest_out" -maxdepth 1 -name '*.qcow2' | sort | head -n 1
}

# Fail early when the wheel lacks data files the appliance runs with (the router's templates).
check_wheel() {
    local missing listed
    listed=$(python3 -m zipfile -l "$1" | awk 'NR > 1 {print $1}')
    missing=$(find "$REPO/appliance/router/templates" -type f -printf 'virga/appliance/router/templates/%f\n' \
        | grep -vxF -e "$listed" || true)
    [ -z "$missing" ] || die "the virga wheel lacks package data: $(echo "$missing" | tr '\n' ' ')(pyproject's package-data must list templates/*.j2)"
}

make_payload() {
    PAYLOAD=$OUT/payload
    rm -rf "$PAYLOAD"
    mkdir -p "$PAYLOAD/dist" "$PAYLOAD/guest" "$CACHE/wheelhouse"
    cp -a "$REPO/appliance/install.sh" "$REPO/appliance/systemd" "$REPO/appliance/firstboot" "$PAYLOAD/"
    local pip=${VIRGA_PIP:-$REPO/.venv/bin/pip}
    [ -x "$pip" ] || pip="python3 -m pip"
    $pip wheel -q --no-deps "$REPO" -w "$PAYLOAD/dist"
    local wheel
    wheel=$(find "$PAYLOAD/dist" -name 'virga-*.whl' | head -n 1)
    check_wheel "$wheel"
    # libvirt-python comes from Debian (python3-libvirt), so the wheelhouse skips it.
    $pip wheel -q --find-links "$CACHE/wheelhouse" -w "$CACHE/wheelhouse" "$wheel"
    rm -f "$CACHE"/wheelhouse/virga-*.whl
    cp -a "$CACHE/wheelhouse" "$PAYLOAD/wheelhouse"
    local template
    template=$(guest_template)
    [ -n "$template" ] && cp "$template" "$PAYLOAD/guest/virga-tiny.qcow2"
    return 0
}

run_dib() {
    local types=tar elements=(debian-minimal virga-appliance)
    if [ "$DISK" = yes ]; then
        elements+=(virga-vagrant)
        export VIRGA_VAGRANT_PUBKEY
        VIRGA_VAGRANT_PUBKEY=$(find /usr/share/rubygems-integration /opt/vagrant /usr/lib/ruby \
            -path '*vagrant*/keys/vagrant.pub' 2>/dev/null | head -n 1)
        [ -n "$VIRGA_VAGRANT_PUBKEY" ] || die "Vagrant's insecure key not found (install vagrant)"
    fi
    DIB_DISTRIBUTION_MIRROR=$(apt_mirror debian)
    DIB_DEBIAN_SECURITY_MIRROR=$(apt_mirror debian-security)
    export DIB_DISTRIBUTION_MIRROR DIB_DEBIAN_SECURITY_MIRROR
    export DIB_RELEASE=bookworm DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE=1 DIB_DEBOOTSTRAP_CACHE=1
    export DIB_IMAGE_CACHE=$CACHE/dib ELEMENTS_PATH=$HERE/elements
    export VIRGA_APPLIANCE_PAYLOAD=$PAYLOAD
    log "diskimage-builder: ${elements[*]} -> $types (mirror $DIB_DISTRIBUTION_MIRROR)"
    "$DIB" -a amd64 --no-tmpfs -t "$types" -o "$OUT/virga-appliance" "${elements[@]}"
}

# An ext4 root file system image and the kernel + initrd, for QEMU's direct kernel boot.
make_direct_boot() {
    local tree=$OUT/rootfs.tree
    rm -rf "$tree"
    mkdir -p "$tree"
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$OUT/virga-appliance.tar" -C "$tree"
    # diskimage-builder's tar leaves out the API file system mount points.
    mkdir -p "$tree/proc" "$tree/sys" "$tree/dev" "$tree/run"
    cp "$(find "$tree/boot" -name 'vmlinuz-*' | sort -V | tail -n 1)" "$OUT/vmlinuz"
    cp "$(find "$tree/boot" -name 'initrd.img-*' | sort -V | tail -n 1)" "$OUT/initrd.img"
    rm -f "$OUT/rootfs.raw"
    # Label the file system as the image's fstab expects its root (DIB: cloudimg-rootfs).
    local label
    label=$(awk '$2 == "/" && $1 ~ /^LABEL=/ {sub("LABEL=", "", $1); print $1}' "$tree/etc/fstab" 2>/dev/null)
    mkfs.ext4 -q -F -L "${label:-virga-root}" -d "$tree" "$OUT/rootfs.raw" "$ROOTFS_SIZE"
    qemu-img convert -c -O qcow2 "$OUT/rootfs.raw" "$OUT/virga-appliance-rootfs.qcow2"
    rm -rf "$tree"
}

# The bootable disk (BIOS, syslinux) and the Vagrant boxes, from the same root file system.
make_disk_and_boxes() {
    "$HERE/make-disk.sh" "$OUT/rootfs.raw" "$OUT/vmlinuz" "$OUT/initrd.img" "$OUT/virga-appliance.qcow2"
    "$HERE/make-boxes.sh" "$OUT/virga-appliance.qcow2" "$OUT"
}

main() {
    parse_args "$@"
    local start=$SECONDS
    [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null || die "diskimage-builder needs root or sudo"
    if [ "$DISK" = auto ]; then
        if disk_supported; then DISK=yes; else DISK=no; fi
    fi
    find_dib
    make_payload
    run_dib
    make_direct_boot
    if [ "$DISK" = yes ]; then
        make_disk_and_boxes
    else
        log "built the root file system for direct kernel boot only (no bootable qcow2, no boxes);"
        log "install syslinux, mtools and dosfstools and run with --disk yes for them"
    fi
    rm -f "$OUT/rootfs.raw"
    printf '%s\n' "$((SECONDS - start))" > "$OUT/build-seconds"
    log "done in $((SECONDS - start)) s:"
    find "$OUT" -maxdepth 1 -type f -printf "  %f %s bytes\n"
}

main "$@"
