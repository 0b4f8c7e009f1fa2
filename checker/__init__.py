"""The qinqing checker: inputs, evaluation of batches, findings, reports, storage, service and CLI."""

import policy_dsl  # noqa: F401  (installs the finder of compiled modules, policy_dsl/native.py)
