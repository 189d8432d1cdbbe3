"""The corpus layer: records (JSONL + manifest), coverage reports, and the
`jaxsynth` command line. Corpora are written under `corpus/out/` by default
(git-ignored), beside this code."""
