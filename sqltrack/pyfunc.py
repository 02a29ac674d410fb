"""``mlflow.pyfunc``-style loading: every logged model loads the same way."""

from .sklearn import load_model, log_model

__all__ = ["load_model", "log_model"]
