"""Ten minutes of API writes on 1 s blocks: no write may fail for gas price (issue 16's runaway fees).

Not part of `make bench` (it takes ten minutes): `.venv/bin/python bench/soak.py [seconds]` writes
bench/results/soak.json. 32 HTTP clients over 8 participants send split-transfers without pause; the
result counts answers by status and error code, and the relayers' fee per gas at the start and the end.
"""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api_bench  # noqa: E402
import block_times  # noqa: E402

from tierflow.testing.chain import Platform  # noqa: E402

CLIENTS = 32


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    tf = Platform.start()
    try:
        extras, suppliers = api_bench.bench_suppliers(tf, 8)
        tokens = api_bench.bench_certificates(tf, suppliers)
        block_times._interval_mining(tf, 1)
        first_block = tf.w3.eth.block_number
        answers: collections.Counter[str] = collections.Counter()
        lock = threading.Lock()
        with api_bench.served_api(tf, extras, suppliers) as (base, keys):
            stop_at = time.monotonic() + seconds

            def client(index: int) -> None:
                who = suppliers[index % len(suppliers)]
                to = tf.address("supplier2" if who == "supplier1" else "supplier1")
                with httpx.Client(base_url=base, timeout=180.0) as http:
                    while time.monotonic() < stop_at:
                        response = http.post(
                            f"/v1/certificates/{tokens[who][1]}/transfer",
                            headers={"X-API-Key": keys[who]},
                            json={"to": to, "value": 1},
                        )
                        code = "ok" if response.status_code == 200 else response.json()["error"]["code"]
                        with lock:
                            answers[f"{response.status_code} {code}"] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        last = tf.w3.eth.get_block("latest")
        first = tf.w3.eth.get_block(first_block)
        result: dict[str, Any] = {
            "seconds": seconds,
            "block_time_s": 1,
            "clients": CLIENTS,
            "participants": len(suppliers),
            "answers": dict(answers),
            "blocks": int(last["number"]) - first_block,
            "base_fee_wei_first": int(first.get("baseFeePerGas", 0)),
            "base_fee_wei_last": int(last.get("baseFeePerGas", 0)),
        }
    finally:
        tf.stop()
    (BENCH / "results" / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
