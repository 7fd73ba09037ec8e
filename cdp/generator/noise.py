"""Vectorised 'messy value' transforms: what real tills, web forms and social tools do to names and contacts.

Every function works on a whole numpy ``StringDType`` array at once (no per-row Python), because the generator
has to produce millions of identity records in seconds. Empty string means "missing" throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import pools

S = np.dtypes.StringDType()


def strs(values) -> np.ndarray:
    """Any array-like of str -> StringDType array (the one representation used by these helpers)."""
    return np.asarray(values).astype(S)


def _fixed(a: np.ndarray) -> tuple[np.ndarray, int]:
    width = max(int(np.strings.str_len(a).max(initial=0)), 1)
    return np.asarray(a).astype(f"U{width}"), width


def fullwidth(a: np.ndarray) -> np.ndarray:
    """ASCII -> full-width forms ('ANNA@x.nl' -> 'ＡＮＮＡ＠ｘ．ｎｌ'), as East-Asian IMEs type them."""
    if a.size == 0:
        return a
    u, _ = _fixed(a)
    v = u.view(np.uint32)
    v = np.where((v >= 0x21) & (v <= 0x7E), v + 0xFEE0, v).astype(np.uint32)
    return v.view(u.dtype).astype(S)


def typo(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """One keyboard slip per value: swap two neighbours, double a letter or drop a letter."""
    if a.size == 0:
        return a
    u, w = _fixed(a)
    n = len(u)
    mat = np.zeros((n, w + 2), dtype=np.uint32)
    mat[:, :w] = u.view(np.uint32).reshape(n, w)
    length = np.strings.str_len(a).astype(np.int64)
    ok = length >= 3
    pos = (rng.random(n) * np.maximum(length - 1, 1)).astype(np.int64)
    kind = rng.integers(0, 3, n)
    cols = np.arange(w + 2)[None, :]
    p = pos[:, None]
    src = np.where(
        kind[:, None] == 0,
        np.where(cols == p, p + 1, np.where(cols == p + 1, p, cols)),  # swap
        np.where(
            kind[:, None] == 1,
            np.where(cols <= p, cols, cols - 1),  # double
            np.where(cols < p, cols, cols + 1),
        ),
    )  # drop
    src = np.clip(src, 0, w + 1)
    src[~ok] = np.arange(w + 2)
    out = mat[np.arange(n)[:, None], src]
    new_len = length + np.where(ok, np.where(kind == 1, 1, np.where(kind == 2, -1, 0)), 0)
    out[np.arange(w + 2)[None, :] >= new_len[:, None]] = 0
    return np.ascontiguousarray(out).view(f"U{w + 2}").reshape(n).astype(S)


def messy(rng: np.random.Generator, a: np.ndarray, **weights: float) -> tuple[np.ndarray, np.ndarray]:
    """Apply at most one noise kind per non-empty value.

    Kinds: upper, lower, title, space, typo, fullwidth, drop.

    Returns (new values, kind code per row: 0 = untouched, i = i-th kind in ``weights`` order).
    """
    a = a.copy()
    names = list(weights)
    probs = np.array([weights[k] for k in names], dtype=float)
    u = rng.random(len(a))
    code = np.searchsorted(np.cumsum(probs), u, side="right") + 1
    code[code > len(names)] = 0
    code[np.strings.str_len(a) == 0] = 0
    for i, kind in enumerate(names, start=1):
        sel = code == i
        if not sel.any():
            continue
        v = a[sel]
        if kind == "upper":
            v = np.strings.upper(v)
        elif kind == "lower":
            v = np.strings.lower(v)
        elif kind == "title":
            v = np.strings.capitalize(v)
        elif kind == "space":
            pad = rng.integers(0, 3, len(v))
            v = np.where(
                pad == 0,
                np.strings.add(" ", v),
                np.where(pad == 1, np.strings.add(v, "  "), np.strings.add(np.strings.add(" ", v), " ")),
            )
        elif kind == "typo":
            v = typo(rng, v)
        elif kind == "fullwidth":
            v = fullwidth(v)
        elif kind == "drop":
            v = np.full(len(v), "", dtype=S)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
        a[sel] = v
    return a, code


PHONE_FORMATS = (
    "+31 6 {a} {b}",
    "06-{a}{b}",
    "0031 6{a}{b}",
    "6{a}{b}",
    "+316{a}{b}",
    "06 {a} {b}",
    "0031-6-{a}{b}",
    "(06) {a}{b}",
)


def phones(rng: np.random.Generator, numbers: np.ndarray, fmt: np.ndarray | None = None) -> np.ndarray:
    """Dutch mobile numbers (8 digits after the '6') in the many ways people type them.

    ``fmt`` picks the format per row (index into PHONE_FORMATS); drawn at random when not given.
    """
    d8 = np.strings.zfill(numbers.astype(np.int64).astype("U8").astype(S), 8)
    a = np.strings.slice(d8, 0, 4)
    b = np.strings.slice(d8, 4, 8)
    if fmt is None:
        fmt = rng.choice(
            len(PHONE_FORMATS), size=len(numbers), p=[0.2, 0.25, 0.08, 0.07, 0.2, 0.12, 0.04, 0.04]
        )
    out = np.empty(len(numbers), dtype=S)
    for i, f in enumerate(PHONE_FORMATS):
        sel = fmt == i
        if not sel.any():
            continue
        pre, rest = f.split("{a}")
        mid, post = rest.split("{b}")
        out[sel] = np.strings.add(
            np.strings.add(np.strings.add(np.strings.add(pre, a[sel]), mid), b[sel]), post
        )
    return out


def e164(numbers: np.ndarray) -> np.ndarray:
    """Clean canonical form: '+316' and eight digits (what the truth file stores)."""
    return np.strings.add("+316", np.strings.zfill(numbers.astype(np.int64).astype("U8").astype(S), 8))


def ascii_fold(values: tuple[str, ...]) -> tuple[str, ...]:
    """Lower-case ASCII folding of a small pool ('Daniël' -> 'daniel', 'van den Berg' -> 'vandenberg')."""
    import unicodedata

    out = []
    for v in values:
        s = unicodedata.normalize("NFKD", v).encode("ascii", "ignore").decode()
        out.append(s.lower().replace(" ", "").replace("'", ""))
    return tuple(out)


# Noise level -> (scale of identity-noise probabilities, factor on email/phone presence shares, scale of
# over-merge case rates). "typical" is the generator's historical output; the others scale it.
LEVELS = {"clean": (0.2, 1.0, 0.5), "typical": (1.0, 1.0, 1.0), "dirty": (2.5, 0.8, 2.0)}


@dataclass(frozen=True)
class Noise:
    """One noise level, threaded through the build functions.

    ``rng`` is a stream of its own for the over-merge cases (households, store phones, junk values), so
    injecting them never shifts the main stream: the rest of the output stays byte-identical.
    """

    level: str
    scale: float
    presence: float
    cases: float
    rng: np.random.Generator
    # A stream of its own for first names given in another form (nicknames), for the same reason.
    names_rng: np.random.Generator

    def p(self, share: float, cap: float = 0.5) -> float:
        """A noise probability at this level (capped)."""
        return min(share * self.scale, cap)

    def w(self, **weights: float) -> dict[str, float]:
        """``messy`` weights at this level; scaled down together if their total would pass 0.6."""
        scaled = {k: v * self.scale for k, v in weights.items()}
        total = sum(scaled.values())
        f = min(1.0, 0.6 / total) if total else 1.0
        return {k: v * f for k, v in scaled.items()}

    def present(self, share: float) -> float:
        """Presence share of an email or phone field at this level."""
        return share * self.presence

    def rate(self, share: float) -> float:
        """Rate of an over-merge case at this level."""
        return share * self.cases


def noise_level(level: str, seed: int) -> Noise:
    """``Noise`` for a level name; ValueError naming the allowed ones otherwise."""
    if level not in LEVELS:
        raise ValueError(f"unknown noise level {level!r}: use one of {', '.join(LEVELS)}")
    scale, presence, cases = LEVELS[level]
    cases_rng = np.random.default_rng([seed, 0x0E2])  # seeded from the run's seed, apart from the main stream
    names_rng = np.random.default_rng([seed, 0x41C])
    return Noise(level, scale, presence, cases, cases_rng, names_rng)


def inject(
    rng: np.random.Generator,
    values: np.ndarray,
    rate: float,
    make: Callable[[np.random.Generator, np.ndarray], np.ndarray],
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """Replace, in place, a ``rate`` share of the non-empty (and ``eligible``) values by ``make(rng, rows)``.

    Draws one number per row whatever is eligible. Returns the mask of replaced rows.
    """
    hit = (rng.random(len(values)) < rate) & (values != "")
    if eligible is not None:
        hit &= eligible
    idx = np.flatnonzero(hit)
    values[idx] = make(rng, idx)
    return hit


def junk_emails(
    rng: np.random.Generator, idx: np.ndarray, junk: tuple[str, ...] = pools.JUNK_EMAILS
) -> np.ndarray:
    """Placeholder addresses typed to get past a form ('test@test.com', ' GEEN@EMAIL.NL'), one per row."""
    pool = strs(junk)
    out, _ = messy(rng, pool[rng.integers(0, len(pool), len(idx))], upper=0.15, title=0.1, space=0.1)
    return out


def junk_phones(
    rng: np.random.Generator, idx: np.ndarray, junk: tuple[str, ...] = pools.JUNK_PHONES
) -> np.ndarray:
    """Placeholder phone numbers ('0600000000', '+31600000000'), one per row."""
    pool = strs(junk)
    return pool[rng.integers(0, len(pool), len(idx))]
