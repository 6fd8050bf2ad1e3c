"""API for comparing, ranking and diagnosing: mounted on the main API (same auth, same error shape)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ValidationError as PydanticValidationError
from pydantic import ValidationInfo, field_validator, model_validator

from experiments import selectors, services
from experiments.analysis.diagnosis import diagnose as run_diagnosis
from experiments.analysis.history import json_safe
from experiments.selectors import comparison, leaderboard
from workers.training.config import RunConfig

router = Router(tags=["analysis"])

MAX_EPOCHS_DIAGNOSED = 100_000
MAX_LOSS = 1e300  # larger finite values overflow to inf in the diagnosis' sums and differences


def _finite(value: int | float) -> bool:
    """Within ±MAX_LOSS and finite; compared exactly, so a 400-digit integer is refused, not overflowed."""
    return abs(value) <= MAX_LOSS  # False for NaN too


class CompareQuery(Schema):
    runs: Optional[str] = Field(
        None,
        max_length=5000,
        description=f"Comma-separated run ids of this experiment; default: its {comparison.DEFAULT_RUNS} newest runs.",
    )
    keys: Optional[str] = Field(
        None,
        max_length=2000,
        description="Comma-separated metric keys; default train_loss,val_loss, or the shared metric when losses differ.",
    )
    x: Literal["step", "epoch", "time"] = Field(
        "step", description="x axis: global step, epoch, or seconds since start."
    )
    max_points: int = Field(
        comparison.DEFAULT_MAX_POINTS,
        ge=4,
        le=comparison.MAX_POINTS,
        description="Most points per curve; each bucket keeps its min and max.",
    )


@router.get("/experiments/{experiment_id}/compare")
def compare(request, experiment_id: int, q: Query[CompareQuery]):
    """Overlaid, min/max-downsampled series of chosen runs, their config diff and loss-awareness hints.

    `series` is `{run id: {key: {x, y}}}`; non-finite values are `null`.
    """
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    keys = [k.strip() for k in q.keys.split(",") if k.strip()] if q.keys else None
    data = comparison.comparison_get(
        experiment=experiment,
        run_ids=comparison.parse_run_ids(q.runs) or comparison.newest_run_ids(experiment),
        keys=keys,
        x=q.x,
        max_points=q.max_points,
    )
    # Encoded here with orjson: 100 curves of 500 points are most of the payload and of the time.
    return HttpResponse(comparison.encode(data), content_type="application/json")


class RankingQuery(Schema):
    metric: Optional[str] = Field(
        None, description=f"One of {', '.join(leaderboard.METRICS)}; default: the shared validation metric."
    )
    baseline: Optional[str] = Field(None, max_length=64, description="group_hash of the baseline configuration.")
    sweep: Optional[int] = Field(
        None, ge=1, le=2**63 - 1, description="Sweep whose factor effects to compute; default: the newest sweep."
    )


@router.get("/experiments/{experiment_id}/ranking")
def ranking(request, experiment_id: int, q: Query[RankingQuery]):
    """Configurations ranked by mean over seeds with 95% intervals inside the metric's range (none with fewer
    than 2 seeds); the factor effects of one sweep, from its balanced grid."""
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    return leaderboard.leaderboard_get(
        experiment=experiment, metric=q.metric, baseline=q.baseline or None, sweep=q.sweep
    )


class SeedsOut(Schema):
    runs: list[int]
    seeds: list[int]


@router.post("/experiments/{experiment_id}/groups/{group_hash}/seeds", response={201: SeedsOut})
def group_seeds(request, experiment_id: int, group_hash: str):
    """Queue the seeds this configuration misses (up to 3), all or nothing; 429 past the launch limits."""
    experiment = selectors.experiment_get(user=request.user, experiment_id=experiment_id)
    runs = services.group_seeds_launch(experiment=experiment, user=request.user, group_hash=group_hash[:64])
    return Status(201, {"runs": [r.pk for r in runs], "seeds": [r.seed for r in runs]})


class DiagnoseIn(Schema):
    train_loss: list[Optional[float]] = Field(..., description="One value per epoch; null for a non-finite value.")
    val_loss: list[Optional[float]] = Field(..., description="One value per epoch, same length as train_loss.")
    task: Literal["classification", "regression"] = "classification"
    baseline_loss: Optional[float] = Field(None, description="Loss of a trivial predictor (class prior / mean).")
    train_eval_loss: Optional[list[Optional[float]]] = Field(
        None, description="Optional: the training split measured like val_loss (eval mode); the gap is read from it."
    )
    config: Optional[dict[str, Any]] = Field(
        None, description="Optional run config (as stored): suggestions then never propose what it already sets."
    )
    experiment_best_train_loss: Optional[float] = Field(
        None, description="Optional: the lowest training loss another run reached on the same data (underfitting line)."
    )

    @field_validator("train_loss", "val_loss", "train_eval_loss", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name == "train_eval_loss":
            return value
        if not isinstance(value, list):
            raise ValueError("send a list of numbers, one per epoch")
        if not value:
            raise ValueError("needs at least one value")
        if len(value) > MAX_EPOCHS_DIAGNOSED:
            raise ValueError(f"at most {MAX_EPOCHS_DIAGNOSED} values")
        for i, v in enumerate(value):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"value {i} is {v!r:.40}: send numbers, and null for a non-finite value")
            if not _finite(v):
                raise ValueError(
                    f"value {i} is not a finite number within ±{MAX_LOSS:g}: send null for a non-finite value"
                )
        return value

    @field_validator("baseline_loss", mode="before")
    @classmethod
    def _baseline(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError("send a number or null")
        if value is not None and not (_finite(value) and value > 0):
            raise ValueError(f"must be a positive finite number, at most {MAX_LOSS:g}")
        return value

    @field_validator("experiment_best_train_loss", mode="before")
    @classmethod
    def _reference(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError("send a number or null")
        if value is not None and not (_finite(value) and value >= 0):
            raise ValueError(f"must be a finite number from 0 to {MAX_LOSS:g}")
        return value

    @field_validator("config", mode="before")
    @classmethod
    def _config(cls, value: Any) -> Any:
        if value is None:
            return value
        if not isinstance(value, dict):
            raise ValueError("send the run config as an object")
        try:
            return RunConfig.model_validate(value).model_dump(mode="json")
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where + ': ' if where else ''}{first['msg']}") from None

    @model_validator(mode="after")
    def _same_length(self) -> DiagnoseIn:
        if len(self.train_loss) != len(self.val_loss):
            raise ValueError(
                f"val_loss: has {len(self.val_loss)} values but train_loss has {len(self.train_loss)}; send one per epoch"
            )
        if self.train_eval_loss is not None and len(self.train_eval_loss) != len(self.train_loss):
            raise ValueError(
                f"train_eval_loss: has {len(self.train_eval_loss)} values but train_loss has "
                f"{len(self.train_loss)}; send one per epoch"
            )
        return self


class DiagnoseOut(Schema):
    verdict: str
    evidence: dict[str, Any]
    suggestions: list[str]


@router.post("/diagnose", response=DiagnoseOut)
def diagnose(request, payload: DiagnoseIn):
    """Diagnose a run from its per-epoch curves: overfitting, underfitting, good_fit, diverged, unstable or still_improving."""
    nan = float("nan")
    diag = run_diagnosis(
        [nan if v is None else v for v in payload.train_loss],
        [nan if v is None else v for v in payload.val_loss],
        task=payload.task,
        baseline_loss=payload.baseline_loss,
        train_eval_loss=None
        if payload.train_eval_loss is None
        else [nan if v is None else v for v in payload.train_eval_loss],
        config=payload.config,
        experiment_best_train_loss=payload.experiment_best_train_loss,
    )
    data = json_safe(diag.as_dict())
    return {
        "verdict": data["verdict"],
        "evidence": data.get("evidence") or {},
        "suggestions": data.get("suggestions") or [],
    }
