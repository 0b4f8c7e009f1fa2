"""The qinqing policy language: grammar, parser, checks, IR and backends (no dependency on `checker`)."""

from . import native

native.install(__name__)  # before any other module of the package: see native.py
