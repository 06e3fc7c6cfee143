"""What a service team runs: the secret, the Sentinel check, updates and adoption."""
