"""A self-custody signer's relays through two API instances: the instance holding the signer's forwarder
lease hands it over to the other between its relays, as it does between rounds of custodial writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tierflow.chain.accounts import dev_account
from tierflow.chain.gateway import Call, ChainGateway
from tierflow.platform.db import make_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.pgtemp import PgCluster
from tierflow.platform.services.instances import DbLeases
from tierflow.testing.chain import Platform

pytestmark = pytest.mark.postgres

WAIT_S = 10.0  # [s] the instances' lease wait (20 s in production)


@pytest.fixture(scope="module")
def platform_and_url() -> Iterator[tuple[Platform, str]]:
    cluster = PgCluster.start()
    platform = Platform.start()
    try:
        yield platform, cluster.create_database()
    finally:
        platform.stop()
        cluster.stop()


def test_self_custody_relay_at_the_other_instance_is_served_once_the_holders_requests_are_mined(
    platform_and_url: tuple[Platform, str],
) -> None:
    """bank2 signs for itself and posts its requests of nonces n, n+1 to instance X, n+2 to Y and n+3 to X
    again (a load balancer's spread). X holds bank2's forwarder lease while n, n+1 are in flight. Once
    they are mined X must give the lease up, Y send n+2 and X then n+3: each served within a block or two.
    Before, X held the lease for n+3 too, which waited for its turn (for n+2, at Y) while Y waited for the
    lease: n+3 failed with nonce_gap after 5 s, and only then did Y get the lease."""
    platform, url = platform_and_url
    engine = make_engine(url)
    upgrade(engine)
    leases = [DbLeases(engine, ttl=30, wait=WAIT_S) for _ in range(2)]
    gateways: list[ChainGateway] = []
    for index, lease in enumerate(leases):
        relayers = lease.take_relayers([platform.extra_account(index)], 1)
        gateway = ChainGateway(platform.w3, platform.deployment, dev_account(0), relayers)
        gateway.leases = lease
        gateways.append(gateway)
    x, y = gateways
    bank2 = platform.account("bank2")
    obligor, expiry = platform.address("core1"), platform.now() + 300 * 86400
    start = x.forwarder_nonce(bank2.address, "pending")
    signed = []
    for n in range(4):
        typed = x.forward_request(
            bank2.address, Call("CreditLines", "grant", (obligor, 9 * 10**6 + n, expiry)), nonce=start + n
        )
        signed.append((typed["message"], x.sign(bank2, typed)))
    rpc = platform.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]

    def post(gateway: ChainGateway, n: int) -> tuple[Any, float]:
        started = time.monotonic()
        try:
            answer: Any = gateway.relay(*signed[n])
        except Exception as error:  # noqa: BLE001 - the test lists what each request answered
            answer = error
        return answer, time.monotonic() - started

    try:
        with ThreadPoolExecutor(4) as pool:
            first = [pool.submit(post, x, 0), pool.submit(post, x, 1)]
            time.sleep(1.0)  # sent, in the pool: X holds the lease
            at_y = pool.submit(post, y, 2)
            time.sleep(0.5)  # Y waits for the lease
            behind = pool.submit(post, x, 3)
            time.sleep(0.5)  # X's n+3 waits for its turn
            rpc("evm_setIntervalMining", [1])  # type: ignore[arg-type]
            answers = [future.result() for future in [*first, at_y, behind]]
    finally:
        rpc("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        for lease in leases:
            lease.close()
        engine.dispose()
    failed = [
        (n, repr(answer)) for n, (answer, _) in enumerate(answers) if not getattr(answer, "succeeded", False)
    ]
    assert not failed, failed
    assert x.forwarder_nonce(bank2.address) == start + 4
    blocks = [answer.block_number for answer, _ in answers]
    assert blocks[0] == blocks[1] < blocks[2] < blocks[3], blocks  # in nonce order, one hand-over a block
    assert blocks[3] - blocks[0] <= 4, blocks  # a few 1 s blocks, not the lease wait
