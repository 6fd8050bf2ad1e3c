"""The image and text architectures: shapes, sizes as published, and padding that never changes a prediction."""

from __future__ import annotations

import torch

from workers.training.config import ModelConfig
from workers.training.models import build_model, layer_groups


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnet20_has_the_published_size_and_cifar_shapes():
    model = build_model(ModelConfig(arch="resnet", hidden=[16, 32, 64], depth=3, dropout=0.0), (3, 32, 32), 10)
    # He et al. (2016) Table 6: 0.27M parameters; projection shortcuts add about 3k.
    assert 0.27e6 <= params(model) <= 0.28e6
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 20  # 19 3×3 convs + the linear head
    assert set(layer_groups(model)) == {"blocks.0", "blocks.1", "blocks.2", "blocks.3", "head"}


def test_cnn_depth_stacks_convs_in_each_block():
    shallow = build_model(ModelConfig(arch="cnn", hidden=[8, 16], depth=1), (1, 28, 28), 10)
    deep = build_model(ModelConfig(arch="cnn", hidden=[8, 16], depth=3), (1, 28, 28), 10)
    count = lambda m: sum(isinstance(x, torch.nn.Conv2d) for x in m.modules())
    assert (count(shallow), count(deep)) == (2, 6)
    assert deep(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def padded(tokens: list[list[int]], length: int) -> torch.Tensor:
    out = torch.zeros(len(tokens), length, dtype=torch.long)
    for i, t in enumerate(tokens):
        out[i, : len(t)] = torch.tensor(t)
    return out


def test_text_models_ignore_padding_whatever_the_pooling():
    """The same texts padded to 12 or to 20 tokens get the same outputs: padding is masked everywhere."""
    torch.manual_seed(0)
    texts = [[5, 6, 7], [9, 2, 3, 4, 8, 8]]
    for arch, pooling in [
        ("lstm", "last"),
        ("gru", "mean"),
        ("rnn", "max"),
        ("transformer", "mean"),
        ("transformer", "max"),
    ]:
        cfg = ModelConfig(arch=arch, hidden=[16], embed_dim=8, pooling=pooling, dropout=0.0, heads=2)
        long = build_model(cfg, (20,), 3, vocab_size=50).eval()
        short = build_model(cfg, (12,), 3, vocab_size=50).eval()
        state = long.state_dict()
        if "pos" in state:  # the transformer's position table is per length: share its first 12 rows
            state["pos"] = state["pos"][:, :12]
        short.load_state_dict(state)
        with torch.no_grad():
            assert torch.allclose(short(padded(texts, 12)), long(padded(texts, 20)), atol=1e-5), (arch, pooling)


def test_a_text_lstm_with_last_pooling_reads_the_last_real_word():
    cfg = ModelConfig(arch="lstm", hidden=[8], embed_dim=4, pooling="last", dropout=0.0)
    model = build_model(cfg, (6,), 2, vocab_size=20).eval()
    with torch.no_grad():
        a = model(padded([[3, 4]], 6))
        b = model(padded([[3, 4, 5]], 6))
    assert not torch.allclose(a, b)  # the third word is read, not a padding step
