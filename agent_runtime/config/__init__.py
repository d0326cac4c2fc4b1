"""The assistant and call config: models, loading, templating and the resolved ``CallSpec``."""
