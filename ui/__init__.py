"""The Gradio chat, mounted on the API's FastAPI app."""
