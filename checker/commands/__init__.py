"""The `qinqing` subcommands, one module each with `register(app)`; they only wire the stages together."""
