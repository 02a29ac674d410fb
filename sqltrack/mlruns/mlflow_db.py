def import_mlflow_db(*a, **k): raise NotImplementedError
