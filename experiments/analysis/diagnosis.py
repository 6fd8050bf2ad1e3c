"""What went right or wrong with a run, read from its loss curves.

Pure numpy, no Django: selectors hand in one train and one validation loss
per epoch and show the result on run pages and tables, live while the run
trains.

The classifier follows the order of the research notes (research file B2),
each test looking only at runs the earlier tests let through:

1. **diverged**: a loss became non-finite, or the training loss grew without
   bound (several times its starting value and still rising: its last
   TREND_WINDOW epochs rank-correlate with time, so a thrash whose last epoch
   happens to be a new high is not "rising").
2. **unstable, collapsed to chance**: a finite training loss that exploded far
   above the trivial predictor's loss and came back only to it (a high first
   epoch that the loss then walked down from, without blowing up or climbing
   back, is where training started: not an explosion; so is a single finite
   epoch, which has nothing to compare with), that climbed
   back to the trivial loss after having been well below it, or that zig-zags
   at or above it (by more than CHANCE_NOISE: a model stuck at chance holds
   still there); or a validation loss that zig-zags above the trivial loss to
   the end while the training split's loss stays above THRASH_FIT of it (an
   overfitting model fits its training split). The evidence says
   ``collapsed_to_chance``.

   Then the young-run rule: a run of fewer than MIN_EPOCHS epochs that got
   this far is too young for rules 3-6. It is **still_improving**, unless its
   validation loss is already GL_ALPHA % above its best (**unstable**), or it
   is finished with its training loss still at or above UNDERFIT_RATIO of the
   trivial loss and not improving (**underfitting**).
3. **underfitting**: the training loss is no longer falling meaningfully and
   is still close to the trivial predictor's loss (>= 90 %), or has plateaued
   above the *underfitting line* with a small train-val gap. The line is 60 %
   of the trivial loss, lowered to a third of the way from the best training
   loss reached on the same data in the same experiment (when the caller
   knows it) up to the trivial loss: a model that plateaus at half the
   trivial loss where a bigger one reached a tenth is starved.
4. **overfitting**: Prechelt's generalization loss GL (how far the validation
   loss has risen above its best, in %) is over GL_OVERFIT on the smoothed
   curve, by more than the zig-zag's spread and with even the lowest of the
   last NOISE_TAIL epochs FLOOR_GL % above the best, while the training loss
   kept falling and the train-val gap widened.
5. **unstable**: the validation loss zig-zags (most successive differences
   change sign) with a large amplitude around its running median, measured
   against its level (but at least a quarter of the trivial loss), and still
   does in its last NOISE_TAIL epochs: a run whose val loss bumped on its way
   down and then settled (an annealed learning rate, say) is not unstable.
6. **still_improving** when the validation loss is still falling at the end:
   meaningfully (IMPROVING_REL of its level per epoch, and IMPROVING_ABS of
   the trivial loss or a new best at the last epoch), steadily (most of its
   last STEADY_WINDOW steps go down: a zig-zag plateau has converged) and
   within GL_ALPHA % of its best, otherwise
   **good_fit**, unless the training loss sits above the underfitting line
   (then **underfitting**: a good fit is never above it).

The train-val gap and the training loss's level are read from
``train_eval_loss`` (the model in eval mode on a fixed sample of the training
split, measured like the validation loss) when the run has it; the running
``train_loss`` (averaged over the epoch's batches, with dropout on) stands in
otherwise and still decides divergence.

``finished=False`` judges the curve so far by the same rules, the young-run
rule included (after rules 1 and 2, see above), and the suggestions say "let
it run" rather than "train longer".

Thresholds are heuristics, tuned against the labelled curves of real training
runs in ``tests/analysis/curves`` (see ``tests/analysis/make_curves.py``).

The trivial predictor's loss (``baseline_loss``) should be the validation
loss of predicting the training mean (regression, MSE) or the training class
prior (classification, cross-entropy). When the caller does not know it, the
first epoch's training loss stands in for it: close to the prior's loss for a
freshly initialised classifier, but lower after a long or fast first epoch,
which makes the tests that use it more lenient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from experiments.analysis.advice import suggest

VERDICTS = ("overfitting", "underfitting", "good_fit", "diverged", "unstable", "still_improving")

# Heuristic thresholds (research file B2), tuned on the labelled curves.
GL_ALPHA = 5.0  # Prechelt's GL_5: overfitting starts once val loss is 5 % above its best
GL_OVERFIT = 5.0  # smoothed GL (%) at the end that makes a run "overfitting" (Prechelt's GL_5 as well)
FLOOR_GL = 2.5  # ... and even the lowest val loss of the last NOISE_TAIL epochs stays this % above the best
STRIP = 5  # Prechelt's training strip length k
UNDERFIT_RATIO = 0.9  # train loss >= 90 % of the trivial loss: under 10 % of the reduction achieved
# B2 proposes 0.5; on the labelled set, converged runs on noisy data (two moons)
# sit at 0.51-0.54 of the trivial loss while genuinely capacity-starved runs
# plateau at 0.63 and above.
PLATEAU_RATIO = 0.6  # a plateau above this share of the trivial loss is underfitting too (the underfitting line)...
REF_SHARE = 1 / 3  # ...or above a third of the way from the experiment's best training loss to the trivial loss...
PLATEAU_DROP = 0.01  # ...when the last strip improved the train loss by under 1 %
SMALL_GAP = 0.1  # ...and the train-val gap is under 10 % of the trivial loss
LARGE_GAP = 0.25  # a converged run whose val loss exceeds train by this share of the trivial loss
EXPLODE_RATIO = 2.0  # train loss above 2x the trivial loss is an explosion (init sits near 1x)...
CLIMB_BACK = 0.25  # ...unless it only started there: no climb of a quarter of the trivial loss over an earlier epoch
FIRST_EPOCH_BLOWUP = 2.0  # ...and a first epoch under 2x the second (above it, it blew up inside that epoch)
COLLAPSE_FROM = 0.6  # a train loss that was below 60 % of the trivial loss...
COLLAPSE_TO = 0.95  # ...and climbed back above 95 % of it has collapsed
MEMORISED = 0.005  # a training loss under 0.5 % of the trivial loss has learnt the training set by heart...
MEMORISED_RATIO = 10.0  # ...and a val loss 10x that level (or more) says it does not carry over: overfitting
DIVERGE_GROWTH = 3.0  # a finite loss several (3) times its start, and rising, has diverged...
DIVERGE_TREND = 0.7  # ...rising as a trend: rank correlation of its last TREND_WINDOW epochs with time
TREND_WINDOW = 10  # (a loss thrashing between 3x and 9x its start, its last epoch a new high, is not rising)
NOISE_WINDOW = 20  # epochs looked at for oscillation
NOISE_SIGN_CHANGES = 0.5  # share of successive differences that change sign (noise-free: 0)
NOISE_AMPLITUDE = 0.12  # range of the detrended last epochs / their median level...
CHANCE_NOISE = 0.06  # at or above the trivial loss, a zig-zag of half that already thrashes (a stuck model's is ~0)
THRASH_FIT = 0.5  # a val loss thrashing above chance with the training split's loss above half of it: unstable
STILL_FALLING = 0.5  # ...unless its training loss still falls (rank correlation with time under -0.5)
NOISE_FLOOR = (
    0.25  # ...but never / less than this share of the trivial loss: wiggles on a near-zero loss are not instability
)
NOISE_TAIL = 5  # a zig-zag must go on into the last epochs: their range over the level...
SETTLED = 0.06  # ...above this (settled runs: up to 5 % on the labelled curves, zig-zagging ones 6.7 % and more)
IMPROVING_REL = 0.005  # still improving: val loss falls >= 0.5 % of its level per epoch...
IMPROVING_ABS = 0.002  # ...and >= 0.2 % of the trivial loss per epoch (10 more epochs: 2 % of it) or to a new best...
STEADY_WINDOW = 8  # ...and steadily: of the last 8 steps of the val loss...
STEADY_SHARE = 0.75  # ...at least 3 in 4 go down (tune set: 0.7-0.8 and windows of 6-10 score alike)
LOSS_CEILING = 1e300  # a loss beyond this is as good as non-finite: its means and ratios would overflow
MIN_EPOCHS = 3  # fewer than this: too young for rules 3-6 (only divergence and collapse are judged before)
MIN_NOISE_EPOCHS = 8  # oscillation needs a few epochs to be told from a trend


@dataclass
class Diagnosis:
    verdict: str
    evidence: dict = field(default_factory=dict)
    suggestions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-serialisable form: ``{"verdict", "evidence", "suggestions"}``."""
        return asdict(self)


def diagnose(
    train_loss: Sequence[float | None],
    val_loss: Sequence[float | None],
    *,
    task: str = "classification",
    baseline_loss: float | None = None,
    finished: bool = True,
    grad_health: str | None = None,
    train_eval_loss: Sequence[float | None] | None = None,
    config: dict | None = None,
    experiment_best_train_loss: float | None = None,
) -> Diagnosis:
    """Classify a run from its per-epoch train and validation losses.

    One value per epoch; ``None``, NaN, ±inf and losses beyond LOSS_CEILING
    are non-finite (a diverged step). ``finished=False`` diagnoses a run that
    is still training: a young curve (under MIN_EPOCHS epochs) is ``still_improving`` unless it has
    diverged (flagged at once, whatever its age), collapsed to chance (which
    takes two epochs at least) or its val loss already went back up; older
    curves go through every rule, so overfitting is flagged before the end. ``grad_health``
    (e.g. ``"vanishing"`` or ``"exploding"``, from the gradient-norm monitor)
    only sharpens the suggestions. ``task`` is recorded in the evidence; pass
    the matching ``baseline_loss`` (validation MSE of the training mean, or
    cross-entropy of the training class prior); without it the first epoch's
    training loss stands in (see the module docstring).

    ``train_eval_loss`` (one per epoch, like the others) is the training
    split measured like the validation split; when given, the gap and the
    training loss's level are read from it. ``config`` (the run config as a
    dict) keeps the suggestions to what the run does not already do;
    ``experiment_best_train_loss`` (the lowest training loss another run
    reached on the same data) lowers the underfitting line.

    Raises ``ValueError`` when the curves differ in length or are empty
    (there is nothing to diagnose yet).
    """
    train, val = _as_array(train_loss, "train_loss"), _as_array(val_loss, "val_loss")
    if len(train) != len(val):
        raise ValueError(f"train_loss and val_loss must have one value per epoch each, got {len(train)} and {len(val)}")
    if not len(train):
        raise ValueError("train_loss and val_loss are empty: no epoch to diagnose yet")
    fit = None
    if train_eval_loss is not None:
        fit = _as_array(train_eval_loss, "train_eval_loss")
        if len(fit) != len(train):
            raise ValueError(f"train_eval_loss must have one value per epoch, got {len(fit)} for {len(train)} epochs")
    # A ratio over a loss near zero (1e-320, say) overflows to inf, which is what it means: the rules read it
    # as huge and the evidence reports None. Only overflow is silenced: 0/0 still warns.
    with np.errstate(over="ignore"):
        f = _features(train, val, fit, task, baseline_loss, _positive(experiment_best_train_loss))
        verdict = _classify(f, finished)
        evidence = _evidence(f, verdict, finished, grad_health)
    return Diagnosis(verdict, evidence, suggest(verdict, evidence, config or {}))


def _positive(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) and x >= 0 else None


def _as_array(values: Sequence[float | None], name: str) -> np.ndarray:
    """Floats with NaN for every missing or non-finite value, and for every loss beyond LOSS_CEILING."""
    try:
        out = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers or None: {exc}") from None
    out[~(np.abs(out) <= LOSS_CEILING)] = np.nan
    return out


def _smooth(y: np.ndarray, width: int = 5) -> np.ndarray:
    """Centred running median (shorter at the ends); kills single-epoch spikes, keeps trends.

    ``y`` is finite here (the rules look at the finite prefix only).
    """
    n, half = len(y), width // 2
    out = np.empty(n)
    if n >= width:
        out[half : n - half] = np.median(np.lib.stride_tricks.sliding_window_view(y, width), axis=1)
    for i in [*range(min(half, n)), *range(max(n - half, half), n)]:
        out[i] = np.median(y[max(0, i - half) : i + half + 1])
    return out


def _features(
    train: np.ndarray,
    val: np.ndarray,
    fit: np.ndarray | None,
    task: str,
    baseline_loss: float | None,
    ref: float | None,
) -> dict:
    """Every number the rules and the evidence need, computed once.

    ``train`` (the running loss) decides divergence; ``level`` (the eval-mode training loss where
    measured, else the running one) gives the gap and how far training got.
    """
    n = len(train)
    finite = np.isfinite(train) & np.isfinite(val)
    first_bad = int(np.argmin(finite)) if not finite.all() else None
    f: dict = {"n": n, "task": task, "first_bad": first_bad, "train": train, "val": val}
    given = baseline_loss is not None and math.isfinite(baseline_loss) and baseline_loss > 0
    first_train = train[np.isfinite(train)][0] if np.isfinite(train).any() else math.nan
    f["base"] = base = float(baseline_loss) if given else float(first_train)
    f["base_source"] = "given" if given else "first_epoch_train_loss"
    measured = fit is not None and bool(np.isfinite(fit).any())
    level = np.where(np.isfinite(fit), fit, train) if measured else train
    f["gap_source"] = "train_eval_loss" if measured else "train_loss"
    f["ref"] = ref
    f["line"] = _underfitting_line(base, ref)
    if first_bad is not None:
        # Features of the finite prefix only; the rest is divergence.
        train, val, level = train[:first_bad], val[:first_bad], level[:first_bad]
    f["n_finite"] = m = len(train)
    if m == 0:
        return f
    width = 5 if m >= 2 * STRIP else 3  # a wide window would flatten a short curve entirely
    sv, st, sl = _smooth(val, width), _smooth(train, width), _smooth(level, width)
    best = int(np.argmin(val))
    sbest = int(np.argmin(sv))
    f.update(
        best=best,
        best_val=float(val[best]),
        last_train=float(train[-1]),
        last_level=float(level[-1]),
        last_val=float(val[-1]),
        sv=sv,
        st=st,
        sl=sl,
        sbest=sbest,
    )
    f.update(_generalization(val, sv, sbest))
    f.update(_trend(train, level, sv, sl, base))
    f["gap_end"] = float(sv[-1] - sl[-1])
    f["gap_best"] = float(sv[sbest] - sl[sbest])
    f.update(_noise(val, base))
    return f


def _underfitting_line(base: float, ref: float | None) -> float:
    """Training-loss level above which a plateau is underfitting (see the module docstring)."""
    line = PLATEAU_RATIO * base
    if ref is not None and ref < base:
        line = min(line, ref + REF_SHARE * (base - ref))
    return line


def _generalization(val: np.ndarray, sv: np.ndarray, sbest: int) -> dict:
    """Prechelt's GL (raw at the end and at its worst, and on the smoothed curve), and its onset.

    A best loss of exactly 0 makes GL inf or NaN: no rule fires on it, and `_num` reports it as None.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        gl = 100 * (val / np.minimum.accumulate(val) - 1)
        above = np.flatnonzero(100 * (sv[sbest:] / sv[sbest] - 1) > GL_ALPHA)
        gl_smooth = float(100 * (sv[-1] / sv[sbest] - 1))
    return {
        "gl_end": float(gl[-1]),
        "gl_max": float(gl.max()),
        "gl_smooth": gl_smooth,
        "onset": sbest + int(above[0]) if len(above) else None,
    }


def _trend(train: np.ndarray, level: np.ndarray, sv: np.ndarray, sl: np.ndarray, base: float) -> dict:
    """Is training still making progress (Prechelt's P_k, recent val drop), and how far did train move."""
    m = len(train)
    k = min(STRIP, m)
    strip = level[-k:]
    # Recent val improvement per epoch over the last quarter (2-10 epochs), relative to the
    # current level and to the trivial loss: both must be meaningful to call it improving.
    w = min(max(2, min(10, m // 4)), m - 1)
    start = sv[-1 - w] if w else sv[-1]
    drop = float(start - sv[-1])
    return {
        "p_k": float(1000 * (strip.mean() / strip.min() - 1)) if strip.min() > 0 else math.inf,
        "train_drop_strip": float(1 - sl[-1] / sl[-k]) if m > 1 and sl[-k] > 0 else 0.0,
        "recent_rel": drop / start / w if w and start > 0 else 0.0,
        "recent_abs": drop / base / w if w and base > 0 else 0.0,
        "train_max": float(train.max()),
        "train_min_before_end": float(train[: max(1, m - 3)].min()),
        "train_last3": train[-3:],
        "train_trend": _rank_trend(train[-TREND_WINDOW:]),
    }


def _rank_trend(y: np.ndarray) -> float:
    """Spearman's rank correlation of ``y`` with time: 1 rises every epoch, 0 has no trend."""
    if len(y) < 3:
        return 0.0
    ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
    return float(np.corrcoef(ranks, np.arange(len(y)))[0, 1])


def _noise(val: np.ndarray, base: float) -> dict:
    """How much the last NOISE_WINDOW epochs zig-zag around their trend."""
    v = val[-NOISE_WINDOW:]
    if len(v) < 6:
        return {"sign_changes": 0.0, "amplitude": 0.0, "noise_spread": 0.0, "tail_noise": 0.0}
    d = np.diff(v)
    flips = np.mean(np.sign(d[1:]) * np.sign(d[:-1]) < 0)
    res = v - _smooth(v)
    spread = float(np.ptp(res))
    level = max(float(np.median(v)), NOISE_FLOOR * base)
    tail = float(np.ptp(v[-NOISE_TAIL:]))
    return {
        "sign_changes": float(flips),
        "amplitude": spread / level if level > 0 else 0.0,
        "noise_spread": float(np.percentile(res, 90) - np.percentile(res, 10)),  # the range without its extremes
        "tail_noise": tail / level if level > 0 else 0.0,
    }


def _classify(f: dict, finished: bool) -> str:
    """Apply the rules in order; the first that fires wins."""
    if _diverged(f):
        return "diverged"
    if f["n_finite"] and _collapsed(f):
        return "unstable"
    m, base = f["n_finite"], f["base"]
    improving = _improving(f)
    if m < MIN_EPOCHS:
        # Too young to read a trend: only a finished run stuck at the trivial loss says more.
        stuck = finished and f["sl"][-1] >= UNDERFIT_RATIO * base and not improving
        if stuck:
            return "underfitting"
        return "unstable" if f["gl_end"] > GL_ALPHA else "still_improving"  # val already went back up
    if _underfitting(f, improving):
        return "underfitting"
    if _overfitting(f):
        return "overfitting"
    if _noisy(f) and f["tail_noise"] > SETTLED:
        return "unstable"  # ...and still does at the end: a run that settled (an annealed lr, say) is not unstable
    if improving:
        return "still_improving"
    if f["gap_end"] > LARGE_GAP * base and f["sl"][-1] < 0.5 * f["sv"][-1]:
        return "overfitting"  # no rise, but a large generalization gap: high variance
    if _memorised(f):
        return "overfitting"  # no rise, but the training set is learnt by heart and val stays far above it
    if f["sl"][-1] > f["line"]:
        # Never a good fit above the line: still learning (train and val falling, val near its best) or stuck.
        learning = f["train_drop_strip"] >= PLATEAU_DROP and f["recent_rel"] > 0 and not f["gl_end"] > GL_ALPHA
        return "still_improving" if learning else "underfitting"
    return "good_fit"


def _improving(f: dict) -> bool:
    """The val loss still falls at the end: steadily, by a meaningful share of its level, to a new best.

    Steadily: most of its last STEADY_WINDOW steps go down (a plateau that zig-zags has converged,
    whatever its trend). Meaningfully: IMPROVING_REL of its level per epoch, and either
    IMPROVING_ABS of the trivial loss or a new best at the last epoch (a slow descent that keeps
    setting records is still one; a sliver of the trivial loss that does not has converged).
    """
    v = f["val"][: f["n_finite"]]
    steady = float(np.mean(np.diff(v[-STEADY_WINDOW - 1 :]) < 0)) if len(v) > 1 else 1.0
    record = int(np.argmin(v)) == len(v) - 1
    meaningful = f["recent_rel"] >= IMPROVING_REL and (f["recent_abs"] >= IMPROVING_ABS or record)
    # A val loss well above its best is not "still falling", whatever its last few epochs did.
    return meaningful and steady >= STEADY_SHARE and not f["gl_end"] > GL_ALPHA


def _memorised(f: dict) -> bool:
    """A training loss near zero with a validation loss many times higher: variance, even without a rise."""
    level = f["sl"][-1]
    return level < MEMORISED * f["base"] and f["sv"][-1] >= MEMORISED_RATIO * max(level, 1e-12)


def _noisy(f: dict, amplitude: float = NOISE_AMPLITUDE) -> bool:
    """The val loss zig-zags (research B2's NOISY rule) by more than ``amplitude`` of its level."""
    return f["n_finite"] >= MIN_NOISE_EPOCHS and f["sign_changes"] >= NOISE_SIGN_CHANGES and f["amplitude"] > amplitude


def _diverged(f: dict) -> bool:
    """Non-finite, or grew without bound: several times its starting value and still rising."""
    if f["first_bad"] is not None:
        return True
    if f["n_finite"] < 3:
        return False
    start = max(float(f["train"][0]), f["base"])
    return bool((f["train_last3"] > DIVERGE_GROWTH * start).all()) and f["train_trend"] >= DIVERGE_TREND


def _collapsed(f: dict) -> bool:
    """A finite loss that went back to chance level (or above it) and stays there: updates too large to learn.

    Exploded and came back only to the trivial loss, climbed back to it after having been well
    below it, sits well above it at the end, or zig-zags at or above it. A high first epoch that
    the loss then walked down from (`_high_start`) is where training started, not an explosion;
    a single finite epoch is never collapsed (the young-run rule of `_classify` answers for it).
    """
    base, end = f["base"], f["st"][-1]  # end: median of the last epochs, robust to one lucky epoch
    # One finite epoch has nothing to compare with: it is where training started until a second one shows more.
    exploded = (
        f["n_finite"] >= 2
        and f["train_max"] > EXPLODE_RATIO * base
        and end >= UNDERFIT_RATIO * base
        and not _high_start(f)
    )
    above = f["n_finite"] > 3 and f["train_last3"].min() > 1.5 * max(f["train"][0], base)
    collapsed = f["train_min_before_end"] < COLLAPSE_FROM * base and end >= COLLAPSE_TO * base
    # At chance level a model that learnt nothing predicts the prior: its val loss holds still (under 3 %
    # zig-zag on the labelled curves); one whose updates are too large jumps around it (10 % and more).
    # (A training loss still walking down to chance is not thrashing, whatever its wobble.)
    thrashing = _noisy(f) and end >= base
    thrashing |= _noisy(f, CHANCE_NOISE) and end >= base and f["train_trend"] > -STILL_FALLING
    # A val loss zig-zagging above the trivial loss to the end, while the training split is not learnt either
    # (an overfitting model fits it), does worse than the prior and jumps: unstable.
    thrashing |= _noisy(f) and f["sv"][-1] >= base and f["sl"][-1] >= THRASH_FIT * base and f["tail_noise"] > SETTLED
    return bool(exploded or above or collapsed or thrashing)


def _high_start(f: dict) -> bool:
    """The training loss started high (a far-off initialisation) and went down from there.

    Its first epoch is under FIRST_EPOCH_BLOWUP times the second (a learning rate too high blows the
    first epoch's mean up, and the next one is back at chance), and it never climbed CLIMB_BACK times
    the trivial loss above an earlier epoch (a spike later on, or a thrash after the first fall).
    """
    train = f["train"][: f["n_finite"]]
    if len(train) < 2:
        return False
    climb = float(np.max(train - np.minimum.accumulate(train)))
    return bool(train[0] < FIRST_EPOCH_BLOWUP * train[1] and climb < CLIMB_BACK * f["base"])


def _underfitting(f: dict, improving: bool) -> bool:
    """Close to the trivial loss and not getting anywhere, or a high plateau with no gap."""
    base, level = f["base"], f["sl"][-1]
    # "Stopped falling" must be true: a training loss still dropping a few % per strip is slow, not stuck.
    plateau = f["train_drop_strip"] < PLATEAU_DROP and not improving
    if level >= UNDERFIT_RATIO * base and plateau:
        return True
    # A plateau is judged over a whole training strip, so it needs more epochs than one strip.
    long_enough = f["n_finite"] > STRIP
    return long_enough and plateau and level > f["line"] and abs(f["gap_end"]) < SMALL_GAP * base


def _overfitting(f: dict) -> bool:
    """Prechelt's GL on the smoothed val curve, rising above the noise while the gap widens."""
    sv, st, b = f["sv"], f["sl"], f["sbest"]
    # A trend, not a zig-zag that happens to end high: the rise clears the residuals' spread (their range
    # without the extremes: one spike is no zig-zag) and even the lowest of the last epochs stays above the best.
    last = f["val"][: f["n_finite"]][-NOISE_TAIL:]
    floor_gl = 100 * (float(np.min(last)) / f["best_val"] - 1) if f["best_val"] > 0 else 0.0
    return (
        f["gl_smooth"] > GL_OVERFIT
        and f["gap_end"] > f["gap_best"]
        and sv[-1] - sv[b] > f["noise_spread"]
        and floor_gl > FLOOR_GL
        and st[-1] <= st[b]  # training did not get worse: that would be instability
    )


def _num(x: float | None, digits: int = 4) -> float | None:
    """JSON-safe number: NaN and ±inf become None."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _evidence(f: dict, verdict: str, finished: bool, grad_health: str | None) -> dict:
    """The numbers behind the verdict, JSON-serialisable, epochs 1-based."""
    base = f["base"]
    ev = {
        "epochs": f["n"],
        "task": f["task"],
        "finished": finished,
        "baseline_loss": _num(base),
        "baseline_source": f["base_source"],
        "diverged_epoch": None if f["first_bad"] is None else f["first_bad"] + 1,
        "grad_health": grad_health,
        "gap_source": f["gap_source"],
        "experiment_best_train_loss": _num(f["ref"]),
        "underfitting_line": _num(f["line"]),
        "collapsed_to_chance": False,
    }
    if f["n_finite"] == 0:
        return ev | {"best_epoch": None, "reason": "the loss was non-finite from the first epoch"}
    ev |= {
        "best_epoch": f["best"] + 1,
        "best_val_loss": _num(f["best_val"]),
        "last_train_loss": _num(f["last_train"]),
        "last_val_loss": _num(f["last_val"]),
        "train_loss_level": _num(f["sl"][-1]),
        "generalization_loss": _num(f["gl_end"], 2),
        "max_generalization_loss": _num(f["gl_max"], 2),
        "smoothed_generalization_loss": _num(f["gl_smooth"], 2),
        "train_val_gap": _num(f["last_val"] - f["last_level"]),
        "smoothed_train_val_gap": _num(f["gap_end"]),
        "relative_to_baseline": _num(f["last_val"] / base) if base > 0 else None,
        "train_relative_to_baseline": _num(f["sl"][-1] / base) if base > 0 else None,
        "training_progress": _num(f["p_k"], 2),
        "val_improvement_per_epoch": _num(100 * f["recent_rel"], 3),
        "noise": _num(f["amplitude"], 3),
        "noise_sign_changes": _num(f["sign_changes"], 3),
        "noise_at_end": _num(f["tail_noise"], 3),
        "overfit_onset_epoch": None,
    }
    if verdict == "overfitting" and f["onset"] is not None:
        ev["overfit_onset_epoch"] = f["onset"] + 1
    if verdict == "diverged" and ev["diverged_epoch"] is None:
        ev["diverged_epoch"] = _explosion_epoch(f)
        ev["growth"] = _num(f["last_train"] / max(float(f["train"][0]), base), 2)
    if verdict == "unstable" and _collapsed(f):
        ev["collapsed_to_chance"] = True
    ev["reason"] = _reason(verdict, ev)
    return ev


def _explosion_epoch(f: dict) -> int:
    """First epoch (1-based) after which the training loss stayed above its starting value."""
    train = f["train"]
    start = max(float(train[0]), f["base"])
    below = np.flatnonzero(train <= start)
    return int(below[-1]) + 2 if len(below) and below[-1] + 1 < len(train) else 1


def _fmt(value, spec: str, unknown: str = "?") -> str:
    return unknown if value is None else format(value, spec)


def _reason(verdict: str, ev: dict) -> str:
    """One plain sentence for the run page. Only the verdict's own sentence is built: evidence may be missing."""
    rel, train_rel = ev.get("relative_to_baseline"), ev.get("train_relative_to_baseline")
    if verdict == "diverged":
        if ev.get("growth") is not None:
            return (
                f"the training loss grew to {ev['growth']:.0f}× its starting value "
                f"(from epoch {_fmt(ev.get('diverged_epoch'), 'd')}) and is still rising"
            )
        return f"the loss became non-finite at epoch {_fmt(ev.get('diverged_epoch'), 'd')}"
    if verdict == "underfitting":
        if ev.get("experiment_best_train_loss") is not None and train_rel is not None and train_rel < UNDERFIT_RATIO:
            return (
                f"the training loss levelled off at {_fmt(ev.get('train_loss_level'), '.3g')}, above this experiment's "
                f"underfitting line {_fmt(ev.get('underfitting_line'), '.3g')} (another run reached "
                f"{_fmt(ev.get('experiment_best_train_loss'), '.3g')} on the same data)"
            )
        if train_rel:
            return f"the training loss is still {train_rel:.0%} of the trivial predictor's and has stopped falling"
        return "the training loss has stopped falling well above zero"
    if verdict == "overfitting" and (ev.get("smoothed_generalization_loss") or 0) <= GL_OVERFIT:
        return (
            f"the validation loss settled far above the training loss (a gap of "
            f"{_fmt(ev.get('smoothed_train_val_gap'), '.3g')}, training loss "
            f"{_fmt(ev.get('train_loss_level'), '.2g')}): the model learnt the training set by heart"
        )
    if verdict == "overfitting":
        return (
            f"the smoothed validation loss is {_fmt(ev.get('smoothed_generalization_loss'), '.0f')} % above its "
            f"best (epoch {_fmt(ev.get('best_epoch'), 'd')}) while the training loss kept falling"
        )
    if verdict == "unstable":
        if ev.get("collapsed_to_chance"):
            return (
                f"the training loss collapsed to chance: it went back to {train_rel or 0:.0%} "
                "of the trivial predictor's loss after having learnt, or never settled below it"
            )
        if not ev.get("noise_sign_changes"):
            return "the validation loss went back up right after its best epoch"
        return "the validation loss zig-zags from epoch to epoch instead of settling"
    if verdict == "still_improving":
        return f"the validation loss is still falling ({_fmt(ev.get('val_improvement_per_epoch'), '.1f')} % per epoch)"
    if rel is not None:
        return f"converged at {rel:.0%} of the trivial predictor's loss with a small train-val gap"
    return "converged with a small train-val gap"
