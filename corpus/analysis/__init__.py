"""What a corpus holds, measured: the op tally (`tally`), op coverage,
quality, diversity, the real-code reference distribution, and the tuner that
moves weights toward a target distribution (`targets`, `pilot`, `model`,
`tune`)."""
