# Included by the top-level Makefile: `make appliance` builds the appliance's root file system,
# the BIOS-bootable qcow2 and the Vagrant boxes (libvirt, virtualbox) when syslinux, mtools and
# dosfstools are installed (no loop devices or device-mapper needed); `make appliance-rootfs` only
# the root file system for direct kernel boot.
APPLIANCE_OUT ?= build/appliance

.PHONY: appliance appliance-rootfs
appliance:
	images/appliance/build.sh --output $(APPLIANCE_OUT) --disk auto

appliance-rootfs:
	images/appliance/build.sh --output $(APPLIANCE_OUT) --disk no
