"""Answers from evidence: extractive sentences or an optional LLM, with verified citations."""
