"""Calendar of the generated world: one history drop, then nightly drops; times as naive local epoch seconds.

All event times are int64 seconds of the stores' wall-clock time (the market's zone; Amsterdam by default)
counted like UTC epoch seconds ("local epoch"). POS prints them as is; JSON sources need an offset:
Amsterdam's is computed with the EU daylight-saving rule (so no time-zone database is needed and the
output is the same on every machine), any other zone's from the IANA database (Asia/Shanghai: +08:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

DAY = 86_400
EPOCH = date(1970, 1, 1)


def _epoch(d: date) -> int:
    return (d - EPOCH).days * DAY


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month, 31)
    return d - timedelta(days=(d.weekday() + 1) % 7)


@dataclass(frozen=True)
class Calendar:
    """Window of generated activity: [start, end_date] inclusive; drops on first_drop .. end_date."""

    end_date: date
    days: int
    history_days: int
    timezone: str = "Europe/Amsterdam"

    @property
    def first_drop(self) -> date:
        return self.end_date - timedelta(days=self.days)

    @property
    def start(self) -> date:
        return self.first_drop - timedelta(days=self.history_days)

    @property
    def start_s(self) -> int:
        return _epoch(self.start)

    @property
    def end_s(self) -> int:
        """Exclusive end: midnight after end_date."""
        return _epoch(self.end_date) + DAY

    @property
    def drop_dates(self) -> list[str]:
        return [(self.first_drop + timedelta(days=k)).isoformat() for k in range(self.days + 1)]

    def drop_of(self, secs: np.ndarray, lag_days: np.ndarray | int = 0) -> np.ndarray:
        """Drop index a row dated ``secs`` lands in (0 = history drop; > days = after the window)."""
        day = (secs - self.start_s) // DAY + lag_days
        return np.maximum(day - self.history_days, 0)

    def amsterdam_offset(self, secs: np.ndarray) -> np.ndarray:
        """UTC offset (seconds) of Europe/Amsterdam for local epoch seconds: CEST from the last Sunday of
        March 02:00 to the last Sunday of October 03:00."""
        off = np.full(secs.shape, 3600, dtype=np.int64)
        for y in range(self.start.year - 5, self.end_date.year + 2):
            lo = _epoch(_last_sunday(y, 3)) + 2 * 3600
            hi = _epoch(_last_sunday(y, 10)) + 3 * 3600
            off[(secs >= lo) & (secs < hi)] = 7200
        return off


    def local_offset(self, secs: np.ndarray) -> np.ndarray:
        """UTC offset (seconds) of the calendar's zone for local epoch seconds."""
        if self.timezone == "Europe/Amsterdam":
            return self.amsterdam_offset(secs)
        zone = ZoneInfo(self.timezone)
        hours, inverse = np.unique(np.asarray(secs, dtype=np.int64) // 3600, return_inverse=True)
        offsets = np.array(
            [
                int(datetime.fromtimestamp(int(h) * 3600, UTC).replace(tzinfo=None).replace(tzinfo=zone)
                    .utcoffset().total_seconds())
                for h in hours
            ],
            dtype=np.int64,
        )
        return offsets[inverse].reshape(np.shape(secs))


def uniform_secs(rng: np.random.Generator, lo: np.ndarray | int, hi: np.ndarray | int, n: int) -> np.ndarray:
    """Uniform integer seconds in [lo, hi) (element-wise)."""
    return (np.asarray(lo) + rng.random(n) * np.maximum(np.asarray(hi) - np.asarray(lo), 1)).astype(np.int64)


def at_time_of_day(rng: np.random.Generator, secs: np.ndarray, kind: str) -> np.ndarray:
    """Move each time to a plausible time of day on its date: 'store' (09-21h, midday and evening peak),
    'web' (evenings), 'any' (all day, daytime-heavy)."""
    n = len(secs)
    if kind == "store":
        tod = 9 * 3600 + rng.beta(2.0, 2.2, n) * 12 * 3600
    elif kind == "web":
        tod = 6 * 3600 + rng.beta(2.6, 1.5, n) * 18 * 3600
    else:
        tod = rng.beta(2.2, 1.6, n) * DAY
    return (secs // DAY) * DAY + np.minimum(tod.astype(np.int64), DAY - 1)


def ts(secs: np.ndarray) -> pa.Array:
    """Epoch seconds -> Arrow timestamp[s] (naive) for DuckDB's strftime."""
    return pa.array(np.asarray(secs, dtype=np.int64), type=pa.timestamp("s"))
