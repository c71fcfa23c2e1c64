"""albumtag's album engine: store, imaging, vocabulary, tagger, policy, query, indexer.

No Qt here; torch is imported only by the modules that run a model.
"""
