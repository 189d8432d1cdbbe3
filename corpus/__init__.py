"""The corpus layer: records (JSONL + manifest), coverage reports, and the
`jaxsynth` command line. Corpora are written under `./corpus/out/` of the
working directory by default (git-ignored in this repository)."""
