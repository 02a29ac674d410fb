"""The classic MLflow tracking tutorial, on sqltrack: one run per PCA setting, then reload the best model.

    python examples/pca_sweep.py [--store PATH_OR_URL]

StandardScaler -> PCA -> LinearRegression on scikit-learn's diabetes data. Each run
logs the param ``pca_var``, the held-out ``MSE``, the cumulative explained variance
per component as a metric history, and the fitted pipeline as a model. Only the
import line differs from the MLflow version of this script.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import sqltrack as mlflow

PCA_SETTINGS = [0.3, 0.8, 0.95, 1]


def train_one(pca_var: float, data: tuple) -> None:
    """Fit one pipeline and log everything about it as a run."""
    x_train, x_test, y_train, y_test = data
    pipeline = Pipeline([("scaler", StandardScaler()), ("pca", PCA(n_components=pca_var)),
                         ("regression", LinearRegression())])
    with mlflow.start_run(run_name=f"pca-{pca_var}"):
        pipeline.fit(x_train, y_train)
        mse = mean_squared_error(y_test, pipeline.predict(x_test))
        mlflow.log_param("pca_var", pca_var)
        mlflow.log_metric("MSE", mse)
        explained = np.cumsum(pipeline.named_steps["pca"].explained_variance_ratio_)
        for step, value in enumerate(explained):
            mlflow.log_metric("explained_variance", float(value), step=step)
        mlflow.sklearn.log_model(pipeline, "model")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="SQLite file or SQLAlchemy URL (default: ./sqltrack.db)")
    args = parser.parse_args()
    if args.store:
        mlflow.set_tracking_uri(args.store)
    mlflow.set_experiment("pca-sweep")

    features, target = load_diabetes(return_X_y=True)
    data = train_test_split(features, target, test_size=0.25, random_state=42)
    for pca_var in PCA_SETTINGS:
        train_one(pca_var, data)

    best = mlflow.search_runs(order_by=["metrics.MSE ASC"], max_results=1)
    best_id = best["run_id"].iloc[0]
    model = mlflow.load_model(f"runs:/{best_id}/model")
    predictions = model.predict(data[1][:3])
    print(f"Best run {best_id} (pca_var={best['params.pca_var'].iloc[0]}); "
          f"its model predicts {np.round(predictions, 1).tolist()} for the first 3 test rows.\n")

    runs = mlflow.search_runs(order_by=["metrics.MSE ASC"])
    table = runs[["run_id", "tags.mlflow.runName", "params.pca_var", "metrics.MSE"]].copy()
    table["run_id"] = table["run_id"].str[:12]
    table.columns = ["run_id", "run_name", "pca_var", "MSE"]
    print(table.to_string(index=False))
    print(f"\nStore: {mlflow.get_tracking_uri()}  (try: sqltrack runs list)")


if __name__ == "__main__":
    main()
