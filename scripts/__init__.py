"""The ``takasago`` command line for city officers and operators."""
