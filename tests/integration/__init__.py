"""Integration tests against a real step-ca 0.19 (one per session, see conftest.py)."""
