"""The HTTP layer: FastAPI routes over one `NewsQA` (`create_app` in `rag.http.app`)."""
