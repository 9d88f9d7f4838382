"""Studies behind the command line ``python -m sklearn_aimc <study>``, one module each."""
