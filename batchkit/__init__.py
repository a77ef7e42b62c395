"""batchkit: run batches of documents through a Story API from JupyterLab and study the results."""

__version__ = "0.1.0"
