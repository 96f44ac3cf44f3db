"""HTTP plumbing shared by every capability: envelopes, error mapping, dependencies."""
