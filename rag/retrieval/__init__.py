"""Finding the evidence: Italian BM25, dense search, fusion, re-ranking, dates, passages."""
