"""Articles on disk to chunks in Chroma: loaders, chunking, embedding and the store."""
