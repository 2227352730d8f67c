"""Rehearse the repository's documented life against a local moto server by running the workflows' own
`run:` steps (see `python -m rehearsal --help`)."""
