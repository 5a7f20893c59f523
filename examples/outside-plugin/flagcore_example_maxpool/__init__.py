"""An example flagcore plugin distributed outside flagcore: the ``encoder-max-pool`` embedder.

Importing this package (what plugin discovery does) imports neither torch nor transformers;
the model class lives in ``flagcore_example_maxpool.embedder`` and loads only when it is chosen.
"""

__version__ = "0.1.0"
