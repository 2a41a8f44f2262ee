#!/bin/bash
# Build the tiny guest template: a qcow2 disk whose FAT filesystem holds a Debian cloud
# kernel, a busybox initramfs and a syslinux boot sector, so it boots through the BIOS.
# Usage: images/guest/build.sh OUTDIR   (idempotent; needs Debian's apt registry, mtools,
# dosfstools, qemu-utils, cpio, gzip)
set -eu -o pipefail

OUT=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
DISK_MB=${VIRGA_GUEST_DISK_MB:-40}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEBS="$OUT/debs"
WORK="$OUT/work"

fetch() {  # fetch PACKAGE: download a .deb once into the cache
    local pkg=$1
    if ! ls "$DEBS/${pkg}"_*.deb >/dev/null 2>&1; then
        (cd "$DEBS" && apt-get download -q "$pkg" 2>/dev/null)
    fi
}

kernel_package() {  # the versioned cloud kernel package the meta package points at
    apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}'
}

mkdir -p "$DEBS"
rm -rf "$WORK"
mkdir -p "$WORK/pkg" "$WORK/root"
KPKG=${VIRGA_GUEST_KERNEL_PKG:-$(kernel_package)}
for pkg in "$KPKG" busybox-static syslinux; do
    fetch "$pkg"
done
for deb in "$DEBS"/*.deb; do
    dpkg-deb -x "$deb" "$WORK/pkg"
done

KVER=$(basename "$(ls -d "$WORK"/pkg/lib/modules/*)")
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt,var/www,usr/share/udhcpc}
cp "$WORK/pkg/bin/busybox" "$ROOT/bin/busybox"
cp "$HERE/init" "$ROOT/init"
cp "$HERE/udhcpc.script" "$ROOT/usr/share/udhcpc/default.script"
chmod 755 "$ROOT/init" "$ROOT/usr/share/udhcpc/default.script"

# Only the drivers a small guest needs (virtio, IDE/SATA, e1000, FAT/ext4/iso9660).
MODS="virtio_pci virtio_blk virtio_net virtio_scsi virtio_rng ata_piix sd_mod e1000 vfat isofs button evdev"
KMOD="$WORK/pkg/lib/modules/$KVER"
depmod -b "$WORK/pkg" "$KVER"
DEST="$ROOT/lib/modules/$KVER"
mkdir -p "$DEST"
for mod in $MODS; do
    rel=$(awk -F: -v m="/$mod.ko" 'index($1, m) {print $1 $2; exit}' "$KMOD/modules.dep")
    for f in $rel; do
        mkdir -p "$DEST/$(dirname "$f")"
        cp "$KMOD/$f" "$DEST/$f"
    done
done
grep -E "/($(echo "$MODS" | tr ' ' '|'))\.ko" "$KMOD/modules.dep" >"$DEST/modules.dep" || true
[ -n "$(find "$DEST" -name 'virtio_blk.ko*')" ] || { echo "virtio_blk module missing" >&2; exit 1; }
# dependencies of the chosen modules need their own (empty) lines too
for f in $(cd "$DEST" && find . -name '*.ko' | sed 's|^\./||'); do
    grep -q "^$f:" "$DEST/modules.dep" || grep "^$f:" "$KMOD/modules.dep" >>"$DEST/modules.dep"
done
echo "$KVER" >"$ROOT/etc/kernel-release"

(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) | gzip -9n >"$WORK/initrd.gz"
cp "$WORK/pkg/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

cat >"$WORK/syslinux.cfg" <<CFG
DEFAULT virga
PROMPT 0
TIMEOUT 0
LABEL virga
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=tty0 console=ttyS0,115200 quiet loglevel=3 panic=5
CFG

RAW="$WORK/disk.raw"
rm -f "$RAW"
mkfs.fat -C -n VIRGATINY "$RAW" $((DISK_MB * 1024)) >/dev/null
"$WORK/pkg/usr/bin/syslinux" --install "$RAW"
mcopy -i "$RAW" "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg" ::/
qemu-img convert -c -f raw -O qcow2 "$RAW" "$OUT/virga-tiny.qcow2.tmp"
mv "$OUT/virga-tiny.qcow2.tmp" "$OUT/virga-tiny.qcow2"
# direct kernel boot artefacts (used by bench/boot.py for the raw QEMU baseline)
cp "$WORK/vmlinuz" "$WORK/initrd.gz" "$OUT/"
rm -rf "$WORK"
echo "$OUT/virga-tiny.qcow2"
