"""Benchmarks that print virga's figures (run each as a script; `./dev.sh bench`, `./dev.sh bench --short`)."""
