from . import native

native.install()  # before any other module of the package: see native.py
