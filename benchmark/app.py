"""The demo page (``serbench app``): pick a trained model, give it a recording, see why.

Runs with ``streamlit run``; every prediction goes through the logged MLflow model, the same
path as ``serbench predict`` and the REST endpoint.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import streamlit as st

from benchmark import audio
from benchmark.demo import DemoSettings, allowed_path, check_upload, ordered, trained_models
from benchmark.predict import _tracking
from benchmark.preprocessing import Normalisation

SETTINGS = DemoSettings.from_env()


@st.cache_resource
def load_model(uri: str, tracking: str):
    from benchmark.model_folder import load_verified

    return load_verified(uri)  # a changed model folder is refused, not run


def main() -> None:
    st.set_page_config(page_title="serbench demo", layout="wide")
    st.title("serbench: speech emotion recognition demo")
    results_dir = st.sidebar.selectbox("results folder", SETTINGS.results_dirs, key="results")
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
    uploaded = st.file_uploader(
        f"upload a recording (at most {SETTINGS.max_upload_mb:g} MB, "
        f"{SETTINGS.max_seconds:g} s)",
        type=sorted(e.lstrip(".") for e in audio.AUDIO_EXTENSIONS), key="upload")
    path = ""
    if SETTINGS.data_root:
        path = st.text_input(f"... or a file under {SETTINGS.data_root}",
                             st.query_params.get("path", ""), key="path")
    if uploaded is None and not path:
        st.info("Upload a file" + (" or give a path." if SETTINGS.data_root else "."))
        return
    data = uploaded.getvalue() if uploaded is not None else None
    name = uploaded.name if uploaded is not None else path
    try:
        if data is not None:
            check_upload(name, data, SETTINGS)
            y = audio.load(name, 16000, data=data)
        else:
            y = audio.load(allowed_path(path, SETTINGS.data_root), 16000)
    except ValueError as exc:  # AudioError, a limit, or a path outside the data root
        st.error(str(exc))
        return
    tracking = _tracking(results_dir, None)
    model = load_model(chosen["uri"], tracking)
    row = {"path": name}
    if data is not None:
        row["audio_b64"] = base64.b64encode(data).decode()
    rows = [row]
    mode = Normalisation.parse(model.unwrap_python_model().normalisation)
    if mode.enrols:  # statistics of the speaker's enrolment recordings, or no answer
        enrolment = st.file_uploader(
            f"enrolment recordings of the same speaker (the model was trained with "
            f"{mode.label})", type=sorted(e.lstrip(".") for e in audio.AUDIO_EXTENSIONS),
            accept_multiple_files=True, key="enrol")
        if not enrolment:
            st.error(f"This model standardises features with a speaker's enrolment recordings "
                     f"({mode.label}): upload some of the same speaker; it does not fall back "
                     "on a global model.")
            return
        try:
            for f in enrolment:
                check_upload(f.name, f.getvalue(), SETTINGS)
        except ValueError as exc:  # a limit: said, like the recording's
            st.error(str(exc))
            return
        rows = [{"path": f.name, "audio_b64": base64.b64encode(f.getvalue()).decode(),
                 "enrol": True} for f in enrolment] + [{**row, "enrol": False}]
    result = model.predict(pd.DataFrame(rows)).iloc[-1]
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
