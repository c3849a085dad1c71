"""dancu: epidemic response on top of the national population register."""

__version__ = "0.1.0"
