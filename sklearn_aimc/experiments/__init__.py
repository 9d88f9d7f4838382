"""The studies behind ``python -m sklearn_aimc <study>``, one module each (``build_parser``, ``main``)."""
