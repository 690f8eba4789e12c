"""The logged audio-in model, as MLflow "models from code": MLflow stores this file and runs
it on load, so no pickled Python object is ever written or loaded (see benchmark.serving)."""

from mlflow.models import set_model

from benchmark.serving import AudioEmotionModel

set_model(AudioEmotionModel())
