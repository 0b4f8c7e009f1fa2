"""Reading records: loaders for JSONL, JSON, YAML, CSV and XLSX, validation against each kind's JSON Schema, normalisation, ids."""
