"""VMware driver tests against govmomi's vCenter simulator."""
