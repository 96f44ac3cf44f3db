"""The scaled mode across several hosts: each host a network namespace the test makes (tests/multihost/hosts.py)."""
