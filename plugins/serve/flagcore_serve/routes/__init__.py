"""The server's routers: OpenAI-style embeddings (:mod:`.embeddings`), rerank (:mod:`.rerank`), and models, health
and metrics (:mod:`.info`)."""
