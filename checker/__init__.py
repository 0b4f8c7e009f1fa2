"""The qinqing checker: inputs, evaluation of batches, findings, reports, storage, service and CLI."""

from policy_dsl import native

native.install(__name__)  # this package's compiled modules, if any (policy_dsl/native.py)
