#!/bin/bash
# make-disk.sh ROOTFS.raw VMLINUZ INITRD OUT.qcow2: a BIOS-bootable appliance disk without loop
# devices or device-mapper: an MBR with syslinux's boot code, a FAT boot partition (kernel,
# initrd, syslinux.cfg, written with mtools) and the ext4 root file system as the second partition.
set -eu -o pipefail

ROOTFS=$1
KERNEL=$2
INITRD=$3
OUT=$4
BOOT_MB=${VIRGA_BOOT_PARTITION_MB:-128}
LABEL=${VIRGA_ROOT_LABEL:-cloudimg-rootfs}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

mbr_code() {
    local path
    for path in /usr/lib/syslinux/mbr/mbr.bin /usr/lib/SYSLINUX/mbr.bin /usr/share/syslinux/mbr.bin; do
        [ -f "$path" ] && { printf '%s\n' "$path"; return 0; }
    done
    echo "make-disk: syslinux's mbr.bin not found (apt-get install syslinux-common)" >&2
    return 1
}

boot_partition() {
    cat > "$WORK/syslinux.cfg" <<CFG
DEFAULT virga
PROMPT 0
TIMEOUT 0
LABEL virga
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=$LABEL ro console=tty0 console=ttyS0,115200n8
CFG
    mkfs.fat -C -n VIRGABOOT "$WORK/boot.fat" $((BOOT_MB * 1024)) >/dev/null
    cp "$KERNEL" "$WORK/vmlinuz"
    cp "$INITRD" "$WORK/initrd.img"
    mcopy -i "$WORK/boot.fat" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
}

main() {
    local mbr start1=2048 size1=$((BOOT_MB * 2048)) start2 size2 disk=$WORK/disk.raw
    mbr=$(mbr_code)
    boot_partition
    start2=$((start1 + size1))
    size2=$(( ($(stat -c %s "$ROOTFS") + 511) / 512 ))
    truncate -s $(( (start2 + size2) * 512 )) "$disk"
    printf 'label: dos\nstart=%s, size=%s, type=c, bootable\nstart=%s, size=%s, type=83\n' \
        "$start1" "$size1" "$start2" "$size2" | sfdisk -q "$disk"
    dd if="$WORK/boot.fat" of="$disk" bs=1M seek=$((start1 * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
    dd if="$ROOTFS" of="$disk" bs=4M seek=$((start2 * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
    syslinux --install --offset $((start1 * 512)) "$disk"
    dd if="$mbr" of="$disk" bs=440 count=1 conv=notrunc status=none
    qemu-img convert -c -O qcow2 "$disk" "$OUT"
}

main "$@"
