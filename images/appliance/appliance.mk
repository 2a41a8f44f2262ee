# Included by the top-level Makefile: `make appliance` builds the appliance image and, where
# loop devices and device-mapper work, the bootable qcow2 and the Vagrant boxes.
APPLIANCE_OUT ?= build/appliance

.PHONY: appliance appliance-rootfs
appliance:
	images/appliance/build.sh --output $(APPLIANCE_OUT) --disk auto

appliance-rootfs:
	images/appliance/build.sh --output $(APPLIANCE_OUT) --disk no
