"""What the benchmarks need besides virga itself; the tests import the helpers they share from here.

Benchmarks import nothing from tests/ (a test checks it), so a change to the tests cannot break them.
"""
