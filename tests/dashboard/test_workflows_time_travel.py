"""The devnet's time-travel control for demos: the operator moves the chain's clock from the dashboard;
on a production platform the control does not exist (neither the form nor the route)."""

from __future__ import annotations

import pytest
from dashkit import Live, client_of, flash_of

from tierflow.platform.services import workflows
from tierflow.platform.services.errors import Forbidden

DAY = 86_400


def test_devnet_time_travel_moves_the_chain_clock_for_the_operator_only(live: Live) -> None:
    operator, bank = client_of(live, "operator"), client_of(live, "bank1")
    try:
        assert 'data-testid="time-travel"' in operator.get("/dashboard/operator").text
        before = live.platform.now()
        confirm = operator.post("/dashboard/operator/time-travel", data={"days": "3"}).text
        assert 'data-testid="confirm-button"' in confirm and "cannot be moved back" in confirm
        assert live.platform.now() < before + 3 * DAY  # the confirmation page moved nothing
        html = operator.post("/dashboard/operator/time-travel", data={"days": "3", "confirmed": "yes"}).text
        assert flash_of(html).startswith("ok: Devnet clock moved forward 3 days"), flash_of(html)
        assert live.platform.now() >= before + 3 * DAY
        refused = operator.post("/dashboard/operator/time-travel", data={"days": "0"}).text
        assert flash_of(refused).startswith("error: Days: a whole number from 1 to 400")
        # Not the operator: refused, and the clock stays.
        now = live.platform.now()
        assert (
            bank.post("/dashboard/operator/time-travel", data={"days": "5", "confirmed": "yes"}).status_code
            == 403
        )
        assert live.platform.now() < now + 5 * DAY
    finally:
        operator.close()
        bank.close()


def test_devnet_time_travel_is_absent_in_production(live: Live) -> None:
    devnet = live.ctx.settings
    operator = client_of(live, "operator")
    try:
        # The same platform, told it is production (model_copy: no key checks; only the flag matters).
        live.ctx.settings = devnet.model_copy(update={"environment": "production"})
        assert 'data-testid="time-travel"' not in operator.get("/dashboard/operator").text
        now = live.platform.now()
        assert (
            operator.post(
                "/dashboard/operator/time-travel", data={"days": "3", "confirmed": "yes"}
            ).status_code
            == 404
        )
        with pytest.raises(Forbidden):
            workflows.advance_time(ctx=live.ctx, days=3)
        assert live.platform.now() < now + 3 * DAY
    finally:
        live.ctx.settings = devnet
        operator.close()
