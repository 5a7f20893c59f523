"""Models saved in the sentence-transformers layout: reading their description (``description``, JSON only) and
running the modules it declares after the transformer (``head``, torch)."""
