"""Build and run govmomi's vCenter simulator (tests/vcsim/main.go) for the VMware driver tests."""
