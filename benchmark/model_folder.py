"""A logged model folder is code: checked against the digest its run recorded before loading.

MLflow loads a pyfunc by running the folder's ``model_code.py``, and the folder's
``meta.json`` names the classes its outputs mean. Whoever can edit the folder can run code on
the machine that loads it, or relabel "angry" as "happy" without a word. So a run records the
SHA-256 of the whole folder (every file's relative path and bytes) when it logs the model, as a
tag of the logged model and of its MLflow run; ``predict``, ``register`` and the app copy the
folder out of the store, recompute the digest on that copy and load only that copy, only when
it matches. A folder the store has no digest for (logged elsewhere, or by an older serbench) is
refused unless the caller says it trusts the folder's author, as it would for a pickle.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

DIGEST_TAG = "serbench.model_digest"


class UntrustedModel(ValueError):
    """A model folder whose content does not match its recorded digest, or has none."""


def folder_digest(folder: str | Path) -> str:
    """SHA-256 over every file under ``folder``: its relative path, its size and its bytes,
    in sorted order; a link or anything that is not a regular file is refused."""
    root = Path(folder)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not (p.is_file() or p.is_dir()):
            raise UntrustedModel(f"{p} in the model folder is not a regular file")
        if p.is_dir():
            continue
        data = p.read_bytes()
        h.update(f"{p.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def local_copy(model_uri: str, dst: str | Path) -> Path:
    """The model's folder copied out of its store (or a local folder) into ``dst``."""
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))


def record(client, run_id: str, model_uri: str) -> str:
    """Digest a just-logged model's folder and record it on the logged model and its run;
    returns the digest."""
    from mlflow.models import Model

    with tempfile.TemporaryDirectory() as tmp:
        folder = local_copy(model_uri, tmp)
        digest = folder_digest(folder)
        model_id = Model.load(str(folder)).model_id
    if model_id:
        client.set_logged_model_tags(model_id, {DIGEST_TAG: digest})
    client.set_tag(run_id, DIGEST_TAG, digest)
    return digest


def recorded_digest(folder: Path) -> str | None:
    """The digest the store recorded for the model in ``folder``. The folder's ``MLmodel``
    only says where to look (its logged model, else its run); what is looked up there is the
    store's, which editing the folder cannot change."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    try:
        meta = Model.load(str(folder))
    except (MlflowException, OSError, ValueError) as exc:
        raise UntrustedModel(f"{folder} is not an MLflow model folder ({exc})") from exc
    client = MlflowClient()
    try:
        if meta.model_id:
            found = client.get_logged_model(meta.model_id).tags.get(DIGEST_TAG)
            if found:
                return found
        if meta.run_id:
            return client.get_run(meta.run_id).data.tags.get(DIGEST_TAG)
    except MlflowException:
        return None
    return None


def verified_copy(model_uri: str, dst: str | Path, trust: bool = False) -> Path:
    """The model's folder copied into ``dst``, after checking the copy's digest against the
    store's record.

    Raises :class:`UntrustedModel` (one line naming the model) when the content differs, or
    when the store has no digest for it and ``trust`` is false.
    """
    import mlflow

    folder = local_copy(model_uri, dst)
    expected = recorded_digest(folder)
    if expected is None and not trust:
        raise UntrustedModel(
            f"{model_uri}: the MLflow store {mlflow.get_tracking_uri()} has no digest of this "
            "model folder (logged elsewhere, or by an older serbench). A model folder is "
            "code, like a pickle: load it only if you trust who wrote it "
            "(--trust-model-code)")
    if expected is not None and folder_digest(folder) != expected:
        raise UntrustedModel(
            f"{model_uri}: the model folder's content does not match the digest its run "
            "recorded when it was logged (a file was changed, added or removed); refusing to "
            "load it: loading runs its model_code.py")
    return folder


def load_verified(model_uri: str, trust: bool = False):
    """The pyfunc at ``model_uri``, loaded from a verified copy (:func:`verified_copy`), so
    nothing can change between the check and the load."""
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory() as tmp:
        return mlflow.pyfunc.load_model(str(verified_copy(model_uri, tmp, trust)))
