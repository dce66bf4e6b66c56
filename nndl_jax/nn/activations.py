"""Activation functions and their analytic derivatives."""

__all__: list[str] = []
