"""The ground floor: small pieces every layer may import (errors, lazy imports, units, atomic
writes, process lifetime).

``datagen`` imports only this and itself, ``workloads`` also ``datagen``, ``bakeoff`` all
three; nothing here imports any of them (tests/test_structure.py holds the rule).
"""
