"""trustrec retrieval: text encoder, FAISS index, candidate generators."""
