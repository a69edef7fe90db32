"""The bill page's range bar: intervals to scale, every range visible, labels only where they fit."""

from __future__ import annotations

from tierflow.platform.dashboard.pages.bills import BAR_WIDTH, LABEL_MIN_WIDTH, range_bar
from tierflow.platform.dashboard.queries import Directory
from tierflow.platform.services.schemas.bills import BillRangePublic

HOLDERS = [f"0x{i:040x}" for i in range(1, 6)]
NAMES = Directory({h: f"Holder {i}" for i, h in enumerate(HOLDERS)}, {}, {})


def _ranges(sizes: list[int]) -> list[BillRangePublic]:
    out, start = [], 1
    for i, size in enumerate(sizes):
        out.append(
            BillRangePublic(
                range_id=i + 1, package_id=1, holder=HOLDERS[i % len(HOLDERS)], start=start,
                end=start + size - 1, amount=size, status="Held", prev=0, origin="endorsed",
                pledgee=None, presented_at=None, recourse_obligor=None,
            )
        )  # fmt: skip
        start += size
    return out


def test_range_bar_draws_dozens_of_ranges_to_scale() -> None:
    sizes = [50_000_000] + [1_000_00] * 59 + [1]  # one wide range, 59 narrow ones, a one-fen range
    face = sum(sizes)
    segments = range_bar(_ranges(sizes), face, NAMES, selected=7)
    assert len(segments) == 61
    assert segments[0].x == 0 and abs(segments[0].width - 50_000_000 * BAR_WIDTH / face) < 0.01
    for left, right in zip(segments, segments[1:], strict=False):
        assert right.x >= left.x  # in sub-ticket order, never overlapping backwards
    assert segments[-1].width >= 0.8  # a single sub-ticket is still drawn
    assert segments[0].label.startswith("Holder 0")
    assert all(s.label == "" for s in segments[1:] if s.width < LABEL_MIN_WIDTH)
    assert all("sub-tickets" in s.title for s in segments)  # the tooltip names every interval
    assert [s.range_id for s in segments if s.selected] == [7]
    assert segments[0].colour == segments[5].colour != segments[1].colour  # one colour per holder
