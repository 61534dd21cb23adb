"""`nlp-lstm push`: a model directory to a Hugging Face hub model repository, with its model card; loading
hf://OWNER/NAME is `model_dir.local_model_dir`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .errors import ModelDirError
from .evaluation.model_card import CARD, model_card
from .io import atomic_write_text
from .model_dir import REPO_ID, load_model_dir


def push(model_dir: str | Path, repo_id: str, private: bool = False, message: str | None = None,
         token: str | None = None) -> str:
    """Upload the model in `model_dir` to the hub repository `repo_id` (created if missing), with a model card
    whose examples load hf://REPO_ID; returns the repository's URL. The model directory itself is not changed."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    model_dir = Path(model_dir)
    repo_id = repo_id.removeprefix("hf://")
    if not REPO_ID.match(repo_id) or "@" in repo_id:
        raise ModelDirError(f"{repo_id!r} is not a hub repository id; expected OWNER/NAME, e.g. alice/sst2-bilstm")
    load_model_dir(model_dir, "cpu")  # a complete, loadable model directory, or a ModelDirError naming what is wrong
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="nlp-lstm-push-") as tmp:
        folder = Path(tmp) / "model"
        shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns(".*"))
        # the card from the model directory and its run, with examples that load the hub copy
        atomic_write_text(folder / CARD, model_card(model_dir, repo_id=repo_id))
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model",
                              commit_message=message or f"nlp-lstm model from {model_dir.resolve().name}")
        except OfflineModeIsEnabled:
            raise ModelDirError(f"push {repo_id}: HF_HUB_OFFLINE is set, so the hub cannot be reached") from None
        except (HfHubHTTPError, OSError) as err:
            raise ModelDirError(f"push {repo_id}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    return str(url)
