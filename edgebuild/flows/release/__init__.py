"""Release engineering: a plan's model x recipe x target matrix, built on Dask, profiled side by side
against the previous release, gated, and written to dist/<version>/ with provenance (release.py);
`verify` checks a released folder (verify.py)."""
