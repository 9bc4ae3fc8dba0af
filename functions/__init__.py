"""BYOK key-failure notifications: the Cloud Functions' core, as plain Python.

Importing this package is cheap: clients are created on first use (see clients.py).
"""
