"""pystep's tests; a package so that ``tests.harness`` can be imported."""
