"""MLflow "model from code" entry: logged as the pyfunc's code, never imported by the product.

MLflow runs this file when it loads the registered model; ``set_model`` tells it which
object serves predictions. Logging code instead of a pickled object keeps the registered
model readable and independent of the pickling library.
"""

from mlflow.models import set_model

from training.pyfunc import BundleModel

set_model(BundleModel())
