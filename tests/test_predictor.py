import numpy as np
import torch

from nlp_lstm.config import ModelConfig
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.predictor import predict_proba_ids


def test_batched_sorted_inference_returns_input_order():
    torch.manual_seed(0)
    model = BiLSTMClassifier(30, 3, ModelConfig(embedding_dim=8, hidden_size=8))
    generator = torch.Generator().manual_seed(0)
    sequences = [torch.randint(2, 30, (int(n),), generator=generator).tolist()
                 for n in torch.randint(0, 25, (37,), generator=generator)]
    batched = predict_proba_ids(model, sequences, torch.device("cpu"), batch_size=8)
    one_by_one = np.concatenate([predict_proba_ids(model, [seq], torch.device("cpu")) for seq in sequences])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-6)
    assert model.training  # the model's mode is restored


def test_truncation_applies_at_inference():
    torch.manual_seed(0)
    model = BiLSTMClassifier(30, 2, ModelConfig(embedding_dim=8, hidden_size=8)).eval()
    long = list(range(2, 30)) * 3
    cut = predict_proba_ids(model, [long], torch.device("cpu"), max_length=10)
    np.testing.assert_allclose(cut, predict_proba_ids(model, [long[:10]], torch.device("cpu")), atol=1e-6)


def test_no_texts_gives_an_empty_array():
    model = BiLSTMClassifier(30, 2, ModelConfig(embedding_dim=8, hidden_size=8))
    assert predict_proba_ids(model, [], torch.device("cpu")).shape == (0, 2)
