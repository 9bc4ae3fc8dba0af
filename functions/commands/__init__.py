"""Operator commands run as `python -m functions <command>` (never imported by the deployed functions).

publish (one event by hand), sweep (dead token documents a lost trigger left), report (a summary of
the functions' log lines), replay (dead letters back to the events topic), surge (the failures held as one fault).
"""
