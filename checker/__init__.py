import policy_dsl  # noqa: F401  (installs the finder of compiled modules, policy_dsl/native.py)
