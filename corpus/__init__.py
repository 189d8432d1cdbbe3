"""The corpus layer, in four rooms: `run` (the corpus on disk and the run that
makes it), `analysis` (coverage, quality, diversity, tuning), `publish` (the
dataset card, Parquet export, the HTML report) and `cli` (the `jaxsynth`
command). Corpora are written under `./corpus/out/` of the working directory
by default (git-ignored in this repository)."""
