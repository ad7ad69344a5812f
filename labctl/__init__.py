"""labctl: lab automation for memory-centric neuromorphic nanodevice experiments."""

__version__ = "0.1.0"
