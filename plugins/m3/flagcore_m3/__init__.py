"""flagcore family plugin: BGE-M3. Importing it imports neither torch nor transformers."""

__version__ = "0.1.0"
