"""The studio protocol on NATS JetStream: names, models, provisioning and operations.

Imports nothing from the other studio packages; everything else is built on it.
"""
