"""Image data path benchmark: the engine on CIFAR-shaped data against two bare PyTorch loops. Never asserts.

All three train the cifar10_resnet20 preset's model and optimizer with the same
augmentation (random crop with 4-pixel padding, horizontal flip) on the same
uint8 images N×3×32×32, and measure the validation split once per epoch:

  engine      train(config, reporter) with full tracking; images held on the device as uint8,
              normalised and augmented per batch (workers/training/batches.py, augment.py),
  tensors     the bare loop with the data already as tensors on the device: randperm, index,
              normalise, augment, step (the fastest way to write it by hand),
  dataloader  the bare loop written the usual way: DataLoader(TensorDataset, shuffle=True) with
              per-sample collation, each batch moved to the device, then normalised and augmented,
  streamed    the engine again with LOSSLAB_DEVICE_DATA_LIMIT_MB=0: images gathered on the host by
              the background prefetch thread and copied per batch (the path for sets too big for the device).

Figures are images per second (training images × epochs / time), best of N
interleaved repeats, in wall time and in process CPU time: on a shared machine
the CPU time is the steadier (other processes stretch wall time, not the CPU
this process burns); on a GPU only wall time means anything. Data generation is excluded from every timing. On a CPU
the default is 2,048 training images and 1 epoch (ResNet-20 trains ~100-200
images/s on 2 cores); on a GPU 50,000 images and 2 epochs, as CIFAR-10 has.

    .venv/bin/python bench/bench_images.py [--quick] [--device cpu|cuda|auto] [--images N] [--epochs E]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench_training import BufferingReporter, sync

from workers.training import engine
from workers.training.augment import augment_batch, batch_generator
from workers.training.config import RunConfig
from workers.training.data import Dataset
from workers.training.mediadata import image_holders
from workers.training.models import build_model
from workers.training.optim import build_optimizer
from workers.training.presets import PRESETS

BATCHES = (128, 512)


def cifar_shaped(n: int, n_val: int) -> Dataset:
    """Random uint8 images with 10 labels, held as the engine holds CIFAR-10 (Images, per-channel stats)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n + n_val, 3, 32, 32), dtype=np.uint8)
    y = torch.as_tensor(rng.integers(0, 10, n + n_val))
    X_tr, X_va = image_holders(x[:n], x[n:], "standard")
    return Dataset(X_tr, y[:n], X_va, y[n:], "classification", 10, (3, 32, 32))


def config_for(batch: int, epochs: int, device: str) -> RunConfig:
    return PRESETS["cifar10_resnet20"][1].model_copy(update={"batch_size": batch, "epochs": epochs, "device": device})


def run_engine(config: RunConfig, data: Dataset, stream: bool = False) -> None:
    engine.load_dataset = lambda config, data_dir=None: data  # hand over the loaded images
    before = os.environ.get("LOSSLAB_DEVICE_DATA_LIMIT_MB")
    if stream:
        os.environ["LOSSLAB_DEVICE_DATA_LIMIT_MB"] = "0"
    try:
        engine.train(config, BufferingReporter())
    finally:
        if stream:
            os.environ.pop("LOSSLAB_DEVICE_DATA_LIMIT_MB")
            if before is not None:
                os.environ["LOSSLAB_DEVICE_DATA_LIMIT_MB"] = before
    sync(engine.resolve_device(config.device))


def run_bare(config: RunConfig, data: Dataset, dataloader: bool) -> None:
    """A hand-written loop: cross-entropy, SGD momentum, cosine per epoch, the same batch augmentation."""
    device = engine.resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = build_model(config.model, (3, 32, 32), 10).to(device)
    opt = build_optimizer(model.parameters(), config.optimizer)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    mean = data.X_train.mean.to(device)
    scale = data.X_train.scale.to(device)
    X, y = data.X_train.u8.to(device), data.y_train.to(device)
    Xv, yv = data.X_val.u8.to(device), data.y_val.to(device)
    bs, aug = config.batch_size, config.dataset.augment
    loader = (
        DataLoader(
            TensorDataset(data.X_train.u8, data.y_train),
            batch_size=bs,
            shuffle=True,
            drop_last=True,
            pin_memory=device.type == "cuda",
        )
        if dataloader
        else None
    )
    for epoch in range(1, config.epochs + 1):
        model.train()
        if loader is not None:
            batches = ((xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)) for xb, yb in loader)
        else:
            perm = torch.randperm(len(X), device=device)
            batches = ((X[perm[i : i + bs]], y[perm[i : i + bs]]) for i in range(0, len(X) - bs + 1, bs))
        for step, (xb, yb) in enumerate(batches):
            xb = augment_batch((xb.float() - mean) * scale, aug, batch_generator(config.seed, epoch, step, device))
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            out = torch.cat([model((Xv[i : i + 8192].float() - mean) * scale) for i in range(0, len(Xv), 8192)])
            float(loss_fn(out, yv)), float((out.argmax(1) == yv).float().mean())
    sync(device)


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of fn(*args)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(quick: bool = False, device: str = "auto", images: int = 0, epochs: int = 0, repeats: int = 3) -> dict:
    """{"images", "epochs", "device", "by_batch": {batch: {"wall"|"cpu": {variant: images/s}}}}.

    Variants: engine, tensors, dataloader, streamed (see the module docstring).
    """
    dev = engine.resolve_device(device)
    n = images or (512 if quick else 2048 if dev.type == "cpu" else 50_000)
    epochs = epochs or (1 if quick or dev.type == "cpu" else 2)
    data = cifar_shaped(n, max(256, n // 5))
    out = {"images": n, "epochs": epochs, "device": str(dev), "threads": torch.get_num_threads(), "by_batch": {}}
    for batch in BATCHES:
        cfg = config_for(min(batch, n), epochs, device)
        run_bare(cfg.model_copy(update={"epochs": 1}), data, False)  # warm-up: kernels, allocator
        times: dict[str, list[tuple[float, float]]] = {"engine": [], "tensors": [], "dataloader": [], "streamed": []}
        for _ in range(1 if quick else repeats):  # interleaved: a load change on the machine hits all alike
            times["engine"].append(timed(run_engine, cfg, data))
            times["tensors"].append(timed(run_bare, cfg, data, False))
            times["dataloader"].append(timed(run_bare, cfg, data, True))
            times["streamed"].append(timed(run_engine, cfg, data, True))
        out["by_batch"][batch] = {
            kind: {k: n * epochs / min(t[i] for t in v) for k, v in times.items()}
            for kind, i in (("wall", 0), ("cpu", 1))
        }
    return out


def rows(figures: dict) -> list:
    """Rows for bench/__main__'s table: engine images/s against the fastest bare loop (target ≥ 0.97)."""
    from report import Row

    where = f"{figures['images']:,} CIFAR-shaped images × {figures['epochs']} epoch(s), {figures['device']}"
    out = []
    for batch, kinds in figures["by_batch"].items():
        ips, cpu = kinds["wall"], kinds["cpu"]
        fastest = max(ips["tensors"], ips["dataloader"])
        ratio = ips["engine"] / fastest
        out.append(
            Row(
                "images",
                f"ResNet-20 + crop/flip, batch {batch}, {where}: engine vs fastest bare loop (images/s)",
                f"{ips['engine']:.0f}/s",
                f"{fastest:.0f}/s",
                f"{ratio:.3f}; CPU {cpu['engine'] / max(cpu['tensors'], cpu['dataloader']):.3f}",
                "≥ 0.97",
                ratio >= 0.97,
            )
        )
        out.append(
            Row(
                "images",
                f"batch {batch}: engine vs DataLoader(TensorDataset) loop (images/s)",
                f"{ips['engine']:.0f}/s",
                f"{ips['dataloader']:.0f}/s",
                f"{ips['engine'] / ips['dataloader']:.3f}",
                "> 1",
                ips["engine"] > ips["dataloader"],
            )
        )
        out.append(
            Row(
                "images",
                f"batch {batch}: engine streaming from host memory vs holding the data (images/s)",
                f"{ips['streamed']:.0f}/s",
                f"{ips['engine']:.0f}/s",
                f"{ips['streamed'] / ips['engine']:.3f}",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=0, help="training images (default: 2,048 on CPU, 50,000 on GPU)")
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="512 images, 1 epoch, 1 repeat (a smoke run)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    figures = measure(args.quick, args.device, args.images, args.epochs, args.repeats)
    print(
        f"{figures['images']:,} images × {figures['epochs']} epoch(s) on {figures['device']}, "
        f"{figures['threads']} threads, best of {1 if args.quick else args.repeats}"
    )
    for batch, kinds in figures["by_batch"].items():
        for kind, ips in kinds.items():
            fastest = max(ips["tensors"], ips["dataloader"])
            speeds = "  ".join(f"{k} {v:6.0f}/s" for k, v in ips.items())
            print(
                f"batch {batch:>3} {kind:>4}: {speeds} | engine/fastest {ips['engine'] / fastest:.3f}  "
                f"engine/dataloader {ips['engine'] / ips['dataloader']:.3f}  "
                f"streamed/engine {ips['streamed'] / ips['engine']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
