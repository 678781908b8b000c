"""Real servers for the tests: PostgreSQL, SeaweedFS (S3) and the hub, each a process on loopback."""
