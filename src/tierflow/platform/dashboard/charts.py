"""Inline SVG charts drawn on the server: no chart library, nothing to download, exact labels."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from tierflow.platform import i18n
from tierflow.platform.dashboard.queries import LadderBucket

WIDTH = 720
HEIGHT = 180
PAD_LEFT = 8
PAD_BOTTOM = 34
PAD_TOP = 18


def ladder(buckets: Sequence[LadderBucket], *, title: str, max_bars: int = 60) -> Markup:
    """A bar per bucket (week or month) of expected cash-in; overdue buckets drawn in the warning colour."""
    if not buckets:
        label = i18n.gettext("%(title)s: nothing due", title=title)
        empty = i18n.gettext("No positions: nothing falls due")
        return Markup(
            f'<svg class="chart" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}">'
            f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" class="chart-empty">'
            f"{escape(empty)}</text></svg>"
        )
    shown = list(buckets[:max_bars])
    peak = max(b.amount for b in shown) or 1
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / len(shown)
    # A few buckets must not turn into wall-to-wall slabs: cap the bar width.
    bar = min(48.0, max(2.0, slot * 0.72))
    label_every = max(1, round(len(shown) / 6))
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'preserveAspectRatio="none">',
        f"<title>{escape(title)}</title>",
        f'<line x1="0" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - PAD_BOTTOM}" class="axis"/>',
    ]
    for i, bucket in enumerate(shown):
        # Heights from integer ratios: the picture is approximate, the tooltip and table are exact.
        h = max(1.0, plot_h * bucket.amount / peak) if bucket.amount else 0.0
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        y = HEIGHT - PAD_BOTTOM - h
        cls = "bar overdue" if bucket.overdue else "bar"
        values = {"label": bucket.label, "amount": i18n.money(bucket.amount), "num": bucket.count}
        tip = (
            i18n.ngettext(
                "%(label)s: %(amount)s in %(num)s position (overdue)",
                "%(label)s: %(amount)s in %(num)s positions (overdue)",
                bucket.count,
                **values,
            )
            if bucket.overdue
            else i18n.ngettext(
                "%(label)s: %(amount)s in %(num)s position",
                "%(label)s: %(amount)s in %(num)s positions",
                bucket.count,
                **values,
            )
        )
        parts.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle" '
                f'class="tick">{escape(bucket.label)}</text>'
            )
    peak_text = i18n.gettext("peak %(amount)s", amount=i18n.money(peak))
    shown_text = i18n.gettext("%(shown)s of %(total)s buckets", shown=len(shown), total=len(buckets))
    parts.append(
        f'<text x="{PAD_LEFT}" y="{PAD_TOP - 6}" class="tick">{escape(peak_text)}</text>'
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" text-anchor="end" class="tick">'
        f"{escape(shown_text)}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))
