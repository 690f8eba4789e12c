"""The demo page (``serbench app``): pick a trained model, give it a recording, see why.

Runs with ``streamlit run``; every prediction goes through the logged MLflow model, the same
path as ``serbench predict`` and the REST endpoint.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from benchmark import audio
from benchmark.predict import _tracking

RESULTS = os.environ.get("SERBENCH_RESULTS", "results")


@st.cache_resource
def load_model(uri: str, tracking: str):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(uri)


def trained_models(results_dir: str) -> pd.DataFrame:
    """Every cell with a logged final model: experiment, dataset, model, UAR, model URI."""
    rows = []
    for summary in sorted(Path(results_dir).glob("*/summary.csv")):
        table = pd.read_csv(summary)
        for _, r in table.iterrows():
            final = summary.parent / "folds" / r["cell_id"] / "final.json"
            if final.exists():
                uri = json.loads(final.read_text()).get("model_uri")
                if uri:
                    rows.append({"experiment": summary.parent.name, "dataset": r["dataset"],
                                 "model": r["model"], "normalisation": r["normalisation"],
                                 "features": r["features"], "uar": r["uar_mean"], "uri": uri})
    return pd.DataFrame(rows)


def ordered(models: pd.DataFrame) -> pd.DataFrame:
    """Global-normalisation models first, best UAR first: a speaker-normalised model needs
    several recordings of a speaker, and the page predicts one file."""
    key = models.assign(_spk=models["normalisation"] != "global", _neg=-models["uar"])
    return key.sort_values(["_spk", "_neg"], kind="stable").drop(columns=["_spk", "_neg"]
                                                                ).reset_index(drop=True)


def main() -> None:
    st.set_page_config(page_title="serbench demo", layout="wide")
    st.title("serbench: speech emotion recognition demo")
    results_dir = st.sidebar.text_input("results folder", RESULTS, key="results")
    models = trained_models(results_dir)
    if models.empty:
        st.warning(f"No trained model under {results_dir!r}: run `make benchmark` (or "
                   "`serbench run experiments/smoke.toml`) first.")
        return
    models = ordered(models)
    labels = [f"{r.experiment} / {r.dataset} / {r.model} ({r.normalisation}, {r.features}) "
              f"- UAR {r.uar:.3f}" for r in models.itertuples()]
    choice = st.sidebar.selectbox("model", range(len(labels)), format_func=lambda i: labels[i],
                                  key="model")
    chosen = models.iloc[choice]
    st.sidebar.caption(f"MLflow model: `{chosen['uri']}`")
    if chosen["normalisation"] != "global":
        st.sidebar.warning("This model standardises features per speaker: on a single file it "
                           "cannot, so its answers here are not meaningful.")
    uploaded = st.file_uploader("upload a recording", type=sorted(
        e.lstrip(".") for e in audio.AUDIO_EXTENSIONS), key="upload")
    path = st.text_input("... or a file path (e.g. from a corpus)",
                         st.query_params.get("path", ""), key="path")
    if uploaded is None and not path:
        st.info("Upload a file or give a path.")
        return
    data = uploaded.getvalue() if uploaded is not None else None
    name = uploaded.name if uploaded is not None else path
    try:
        y = audio.load(name, 16000, data=data) if data is not None else audio.load(path, 16000)
    except audio.AudioError as exc:
        st.error(str(exc))
        return
    tracking = _tracking(results_dir, None)
    model = load_model(chosen["uri"], tracking)
    row = {"path": name}
    if data is not None:
        row["audio_b64"] = base64.b64encode(data).decode()
    result = model.predict(pd.DataFrame([row])).iloc[0]
    if result["error"]:
        st.error(result["error"])
        return
    st.metric("predicted emotion", result["emotion"])
    st.caption(f"probability {result['confidence']:.2f}")
    probs = pd.DataFrame({"emotion": [c[2:] for c in result.index if c.startswith("p_")],
                          "probability": [float(result[c]) for c in result.index
                                          if c.startswith("p_")]}).set_index("emotion")
    st.bar_chart(probs)
    left, right = st.columns(2)
    with left:
        st.caption("waveform")
        step = max(1, y.size // 4000)
        st.line_chart(pd.DataFrame({"amplitude": y[::step]},
                                   index=np.arange(0, y.size, step) / 16000))
    with right:
        import matplotlib.pyplot as plt

        from features import FeatureBank

        logmel = FeatureBank().logmel(y, 16000)
        fig, ax = plt.subplots(figsize=(5, 2.4))
        ax.imshow(logmel, origin="lower", aspect="auto", cmap="magma",
                  extent=(0, logmel.shape[1] / 100, 0, logmel.shape[0]))
        ax.set_xlabel("s")
        ax.set_ylabel("mel band")
        ax.set_title("log-mel spectrogram")
        st.pyplot(fig)
    st.dataframe(probs.T)


main()
