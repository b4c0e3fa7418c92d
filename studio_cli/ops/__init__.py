"""Operating a broker, not speaking its protocol: nats-server processes (the embedded broker
of `studio up`, and a loopback cluster for tests and benchmarks), cluster configurations,
per-node credentials and a private CA. The `studio broker` commands use them; the protocol
(`broker/`), the daemon and the gateway do not.
"""
