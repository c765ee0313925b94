"""Database machinery: counters, per-day paper counts, search SQL, triggers."""
