"""Losses, weight penalties and loss/task refusals do exactly what their names say."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from tests.training.conftest import make_config
from workers.training.config import LossConfig, ModelConfig
from workers.training.data import load_dataset
from workers.training.engine import train
from workers.training.losses import build_loss, focal_loss, weight_penalty
from workers.training.models import build_model, penalized_weights
from workers.training.reporter import NullReporter

torch.manual_seed(0)
LOGITS = torch.randn(16, 4)
LABELS = torch.randint(0, 4, (16,))


def test_focal_with_gamma_zero_is_cross_entropy():
    assert focal_loss(LOGITS, LABELS, 0.0) == pytest.approx(float(F.cross_entropy(LOGITS, LABELS)), rel=1e-6)


def test_focal_down_weights_confident_correct_predictions():
    easy = torch.tensor([[6.0, 0.0]])
    hard = torch.tensor([[0.0, 0.0]])
    y = torch.tensor([0])
    ratio_easy = focal_loss(easy, y, 2.0) / F.cross_entropy(easy, y)
    ratio_hard = focal_loss(hard, y, 2.0) / F.cross_entropy(hard, y)
    assert ratio_easy < 0.01 and ratio_hard == pytest.approx(0.25)  # (1 − p)² with p = 0.5


def test_label_smoothing_trains_against_the_smoothed_distribution():
    eps, k = 0.2, 4
    loss = build_loss(LossConfig(name="cross_entropy", label_smoothing=eps), "classification", k)
    target = torch.full((16, k), eps / k)
    target[torch.arange(16), LABELS] += 1 - eps
    expected = -(target * F.log_softmax(LOGITS, 1)).sum(1).mean()
    assert float(loss(LOGITS, LABELS)) == pytest.approx(float(expected), rel=1e-6)
    assert float(loss(LOGITS, LABELS)) != pytest.approx(float(F.cross_entropy(LOGITS, LABELS)))


def test_bce_uses_one_logit():
    out, y = torch.tensor([[2.0], [-1.0]]), torch.tensor([1, 0])
    expected = -(torch.log(torch.sigmoid(torch.tensor(2.0))) + torch.log(1 - torch.sigmoid(torch.tensor(-1.0)))) / 2
    assert float(build_loss(LossConfig(name="bce"), "classification", 2)(out, y)) == pytest.approx(float(expected))


@pytest.mark.parametrize(
    "name,expected", [("mse", (4 + 0.25) / 2), ("mae", (2 + 0.5) / 2), ("huber", (1.5 + 0.125) / 2)]
)
def test_regression_losses_follow_their_formulas(name, expected):
    out, y = torch.tensor([[3.0], [0.5]]), torch.tensor([1.0, 1.0])
    assert float(build_loss(LossConfig(name=name), "regression", None)(out, y)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "dataset,loss,message",
    [
        ("diabetes", "cross_entropy", "needs class labels"),
        ("digits", "mse", "is for regression"),
        ("digits", "bce", "binary"),
        ("iris", "focal", None),
    ],
)
def test_an_incompatible_loss_and_task_are_refused_before_queueing(dataset, loss, message):
    if message is None:
        make_config(dataset={"name": dataset}, loss={"name": loss})  # compatible: accepted
        return
    with pytest.raises(ValidationError, match=message):
        make_config(dataset={"name": dataset}, loss={"name": loss})


def test_label_smoothing_is_refused_for_other_losses():
    with pytest.raises(ValidationError, match="label_smoothing"):
        make_config(loss={"name": "focal", "label_smoothing": 0.1})


def test_bce_on_a_multiclass_csv_is_refused_at_training(tmp_path):
    (tmp_path / "3.csv").write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(30)))
    config = make_config(dataset={"name": "csv", "upload": 3, "target": "b"}, loss={"name": "bce"})
    with pytest.raises(ValueError, match="'bce' is for two classes"):
        train(config, NullReporter(), data_dir=tmp_path)


def _mlp():
    return build_model(ModelConfig(hidden=[8, 8], batchnorm=True, dropout=0.0), (5,), 3)


def test_the_l1_gradient_is_lambda_sign_w_on_weights_only():
    model, lam = _mlp(), 0.01
    weight_penalty(penalized_weights(model), lam, 0.0).backward()
    weights = {id(p) for p in penalized_weights(model)}
    assert len(weights) == 3  # the three Linear weight matrices
    for name, p in model.named_parameters():
        if id(p) in weights:
            torch.testing.assert_close(p.grad, lam * torch.sign(p.detach()))
        else:
            assert p.grad is None, f"{name} (a bias or norm parameter) was penalised"


def test_the_l2_gradient_is_two_lambda_w():
    model, lam = _mlp(), 0.1
    weight_penalty(penalized_weights(model), 0.0, lam).backward()
    for p in penalized_weights(model):
        torch.testing.assert_close(p.grad, 2 * lam * p.detach())


def test_the_engine_adds_the_l1_penalty_to_the_objective():
    def weight_mass(l1):
        result = train(make_config(regularization={"l1": l1}, model={"dropout": 0.0}), NullReporter())
        return sum(float(p.detach().abs().sum()) for p in penalized_weights(result.model))

    assert weight_mass(0.01) < 0.5 * weight_mass(0.0)


@pytest.mark.parametrize(
    "loss, same",
    [
        ({"name": "cross_entropy"}, True),
        ({"name": "cross_entropy", "label_smoothing": 0.2}, False),
        ({"name": "focal", "focal_gamma": 2.0}, False),
    ],
)
def test_val_nll_is_the_unsmoothed_nll_whatever_the_training_loss(loss, same):
    reporter = NullReporter()
    result = train(make_config(loss=loss, epochs=1), reporter)
    nll, val_loss = result.final["val_nll"], result.final["val_loss"]
    # The model's own validation outputs, scored by plain cross-entropy.
    model = result.model.eval()
    data = load_dataset(make_config(loss=loss, epochs=1))
    with torch.no_grad():
        expected = F.cross_entropy(model(data.X_val).float(), data.y_val).item()
    assert nll == pytest.approx(expected, rel=1e-5)
    assert (nll == pytest.approx(val_loss, rel=1e-6)) is same
