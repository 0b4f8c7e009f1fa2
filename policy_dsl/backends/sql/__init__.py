"""The SQL backend: the IR lowered to one sqlglot expression tree, rendered for DuckDB and Spark."""
