# virga appliance defaults (sourced by diskimage-builder).
export DIB_RELEASE=${DIB_RELEASE:-bookworm}
# systemd-networkd configures the interfaces (finalise.d), not ifupdown's eth0/eth1.
export DIB_APT_MINIMAL_CREATE_INTERFACES=0
