"""Secrets of the service: API keys, custodial key encryption, document encryption, invoice hashes."""
