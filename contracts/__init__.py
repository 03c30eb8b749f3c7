"""Solidity sources, their committed build artifacts, and the Python code that builds and loads them."""
