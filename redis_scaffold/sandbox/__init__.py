"""What the demo, the tests and the benchmarks share: the AWS emulator, the loopback topology, a load generator."""
