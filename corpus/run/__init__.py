"""The corpus on disk and the run that makes it: records and their schema,
a run's recipe, its shards and the executors that make them (processes, a
Ray cluster), the compositional lowering and validation."""
