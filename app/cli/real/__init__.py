"""`virga demo --real`: a sandbox zone on this machine's libvirt (check prerequisites, build, tear down)."""
