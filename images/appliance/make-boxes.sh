#!/bin/bash
# make-boxes.sh DISK.qcow2 OUTDIR: Vagrant boxes for the libvirt and virtualbox providers from the
# bootable appliance disk (built with diskimage-builder's vm element).
set -eu -o pipefail

DISK=$1
OUT=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

virtual_gb() {
    qemu-img info --output=json "$DISK" | python3 -c \
        'import json,sys; print(-(-json.load(sys.stdin)["virtual-size"] // 2**30))'
}

libvirt_box() {
    mkdir -p "$WORK/libvirt"
    cp "$DISK" "$WORK/libvirt/box.img"
    printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %s}\n' "$(virtual_gb)" \
        > "$WORK/libvirt/metadata.json"
    cat > "$WORK/libvirt/Vagrantfile" <<'VF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.driver = "kvm"
    lv.disk_bus = "virtio"
  end
end
VF
    tar -C "$WORK/libvirt" -cf "$OUT/virga-appliance-libvirt.box" metadata.json Vagrantfile box.img
}

virtualbox_box() {
    mkdir -p "$WORK/vbox"
    qemu-img convert -O vmdk -o subformat=streamOptimized "$DISK" "$WORK/vbox/box-disk001.vmdk"
    local size
    size=$(qemu-img info --output=json "$DISK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
    sed -e "s/@SIZE@/$size/" "$(dirname "$0")/box.ovf.in" > "$WORK/vbox/box.ovf"
    printf '{"provider": "virtualbox"}\n' > "$WORK/vbox/metadata.json"
    tar -C "$WORK/vbox" -cf "$OUT/virga-appliance-virtualbox.box" metadata.json box.ovf box-disk001.vmdk
}

libvirt_box
virtualbox_box
echo "make-boxes: $OUT/virga-appliance-libvirt.box $OUT/virga-appliance-virtualbox.box"
