"""The `check` pipeline: inputs read once or twice, evaluated serially or by forked workers, the report written."""
