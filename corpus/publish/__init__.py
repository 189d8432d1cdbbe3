"""A corpus made for others: its dataset card, Parquet export and HTML report."""
