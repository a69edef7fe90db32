"""What the platform's own accounts bid for gas (TxSender + FeePolicy): from the base fee, capped, 0 works.

The stream test runs anvil with real 1 s blocks: a sender that priced from `eth_gasPrice` (which follows
recent tips) bid against itself there and its price doubled every refresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.accounts import dev_account
from tierflow.chain.devnet import Devnet
from tierflow.chain.node import FeePolicy, TxSender, connect
from tierflow.errors import ChainUnavailableError
from tierflow.settings import Settings

GWEI = 10**9
# Init code of an empty contract (a lone STOP): the cheapest thing the web3 path of TxSender can send.
EMPTY_CONTRACT = "0x00"


@pytest.fixture
def chain(request: pytest.FixtureRequest) -> Iterator[Web3]:
    """A fresh anvil started with the test's `anvil_args` marker arguments."""
    marker = request.node.get_closest_marker("anvil_args")
    args = marker.args if marker else ()
    block_time = marker.kwargs.get("block_time") if marker else None
    with Devnet(extra_args=args, block_time=block_time) as devnet:
        yield connect(devnet.url, expected_chain_id=devnet.chain_id)


def send_both_ways(sender: TxSender, account: LocalAccount) -> list[str]:
    """One transaction through each send path of TxSender (raw send_call, web3 transact); their hashes."""
    w3 = sender.w3
    raw = sender.send_call(account, str(dev_account(1).address), b"", 30_000)
    factory = w3.eth.contract(abi=[], bytecode=EMPTY_CONTRACT)
    receipt = sender.transact(factory.constructor(), account, gas=100_000)
    assert w3.eth.wait_for_transaction_receipt(raw, timeout=10)["status"] == 1
    assert receipt["status"] == 1
    return [raw, "0x" + bytes(receipt["transactionHash"]).hex()]


# -- the policy itself ---------------------------------------------------------------------------


def test_fee_policy_prices_from_the_base_fee_with_a_fixed_tip() -> None:
    policy = FeePolicy(priority_fee_wei=GWEI, max_fee_per_gas_wei=100 * GWEI)
    assert policy.quote(7 * GWEI) == {"maxFeePerGas": 15 * GWEI, "maxPriorityFeePerGas": GWEI}
    # No base fee: the node's price as it is (no multiple of it: that fed back into itself).
    assert policy.quote(None, 3 * GWEI) == {"gasPrice": 3 * GWEI}


def test_fee_policy_caps_every_figure() -> None:
    policy = FeePolicy(priority_fee_wei=5 * GWEI, max_fee_per_gas_wei=12 * GWEI)
    assert policy.quote(5 * GWEI) == {"maxFeePerGas": 12 * GWEI, "maxPriorityFeePerGas": 5 * GWEI}
    assert FeePolicy(priority_fee_wei=20 * GWEI, max_fee_per_gas_wei=12 * GWEI).quote(0) == {
        "maxFeePerGas": 12 * GWEI,
        "maxPriorityFeePerGas": 12 * GWEI,
    }
    assert policy.quote(None, 50 * GWEI) == {"gasPrice": 12 * GWEI}
    with pytest.raises(ChainUnavailableError, match="TIERFLOW_MAX_FEE_PER_GAS_WEI"):
        policy.quote(13 * GWEI)


def test_fee_policy_zero_cap_sends_everything_free() -> None:
    free = FeePolicy(priority_fee_wei=GWEI, max_fee_per_gas_wei=0)
    assert free.quote(0) == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    assert free.quote(None, 0) == {"gasPrice": 0}


def test_fee_policy_defaults_agree_with_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FeePolicy.from_settings(Settings()) == FeePolicy()
    monkeypatch.setenv("TIERFLOW_PRIORITY_FEE_WEI", "0")
    monkeypatch.setenv("TIERFLOW_MAX_FEE_PER_GAS_WEI", "0")
    assert FeePolicy.from_settings(Settings()) == FeePolicy(priority_fee_wei=0, max_fee_per_gas_wei=0)


# -- on anvil ----------------------------------------------------------------------------------


@pytest.mark.anvil_args("--hardfork", "berlin", "--gas-price", "0")
def test_sender_on_a_legacy_chain_with_gas_price_zero_needs_no_ether(chain: Web3) -> None:
    """A consortium chain without a base fee and free gas: an account holding nothing sends."""
    pauper = Account.create()
    assert chain.eth.get_balance(pauper.address) == 0
    sender = TxSender(chain, RevertDecoder([]))
    for tx_hash in send_both_ways(sender, pauper):
        tx = chain.eth.get_transaction(tx_hash)
        assert tx["gasPrice"] == 0 and "maxFeePerGas" not in tx


@pytest.mark.anvil_args("--base-fee", "0", "--gas-price", "0", "--no-priority-fee")
def test_sender_on_a_zero_base_fee_chain_with_a_zero_cap_needs_no_ether(chain: Web3) -> None:
    pauper = Account.create()
    sender = TxSender(chain, RevertDecoder([]), fees=FeePolicy(max_fee_per_gas_wei=0))
    for tx_hash in send_both_ways(sender, pauper):
        tx = chain.eth.get_transaction(tx_hash)
        assert tx["type"] == 2 and tx["maxFeePerGas"] == 0 and tx["maxPriorityFeePerGas"] == 0


def test_sender_caps_the_fee_and_refuses_a_base_fee_above_the_cap(chain: Web3) -> None:
    base = int(chain.eth.get_block("latest")["baseFeePerGas"])
    cap = base + base // 2
    account = dev_account(12)
    policy = FeePolicy(priority_fee_wei=base, max_fee_per_gas_wei=cap)
    sender = TxSender(chain, RevertDecoder([]), fees=policy)
    for tx_hash in send_both_ways(sender, account):
        tx = chain.eth.get_transaction(tx_hash)
        assert (tx["maxFeePerGas"], tx["maxPriorityFeePerGas"]) == (cap, base)
    low = TxSender(chain, RevertDecoder([]), fees=FeePolicy(max_fee_per_gas_wei=base // 4))
    sent = chain.eth.get_transaction_count(account.address)
    with pytest.raises(ChainUnavailableError, match="above the platform's cap"):
        low.send_call(account, str(dev_account(1).address), b"", 30_000)
    assert chain.eth.get_transaction_count(account.address, "pending") == sent  # nothing was sent


@pytest.mark.anvil_args(block_time=1)
def test_sender_price_stays_bounded_on_one_second_blocks(chain: Web3) -> None:
    """~12 blocks of a steady stream through both send paths: the bid follows the base fee, not itself.

    Pricing at 2 x eth_gasPrice + 1 (eth_gasPrice follows recent tips) doubled the node's price every
    refresh here, from 2 to 64 gwei in 16 blocks.
    """
    policy = FeePolicy()
    sender = TxSender(chain, RevertDecoder([]), fees=policy)
    raw_account, web3_account = dev_account(12), dev_account(13)
    factory = chain.eth.contract(abi=[], bytecode=EMPTY_CONTRACT)
    node_price_before = int(chain.eth.gas_price)
    first_block = chain.eth.block_number
    hashes: list[str] = []
    deadline = time.monotonic() + 12.5
    n = 0
    while time.monotonic() < deadline:
        hashes.append(sender.send_call(raw_account, str(dev_account(1).address), b"", 30_000))
        if n % 3 == 0:
            receipt = sender.transact(factory.constructor(), web3_account, gas=100_000, wait=False)
            hashes.append("0x" + bytes(receipt["transactionHash"]).hex())
        n += 1
        time.sleep(0.1)
    receipts = [chain.eth.wait_for_transaction_receipt(h, timeout=10, poll_latency=0.2) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    blocks: dict[int, Any] = {}
    for r in receipts:
        if r["blockNumber"] not in blocks:
            blocks[r["blockNumber"]] = chain.eth.get_block(r["blockNumber"])
    assert max(blocks) - first_block >= 10, "the stream should span at least ten blocks"
    # Mostly empty blocks: the base fee only fell, so the node's suggested price (base fee + recent
    # tips) must not have grown; bidding a multiple of it made it double every refresh.
    node_price_after = int(chain.eth.gas_price)
    assert node_price_after <= node_price_before, f"eth_gasPrice {node_price_before} -> {node_price_after}"
    highest_base = max(int(block["baseFeePerGas"]) for block in blocks.values())
    for r in receipts:
        base = int(blocks[r["blockNumber"]]["baseFeePerGas"])
        assert int(r["effectiveGasPrice"]) <= base + policy.priority_fee_wei, "paid more than base fee + tip"
    bound = min(2 * highest_base + policy.priority_fee_wei, policy.max_fee_per_gas_wei)
    for h in hashes[:: max(1, len(hashes) // 20)]:
        assert chain.eth.get_transaction(h)["maxFeePerGas"] <= bound
