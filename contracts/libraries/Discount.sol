// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Discount interest (贴现利息) of certificates and bills: face × annual rate × days / 360, in fen.
/// @dev The one formula behind Financing's quotes and Bills' discounts (docs/contracts.md, "Discount").
library Discount {
    uint256 internal constant SECONDS_PER_DAY = 86_400; // [s]
    /// @dev 360 days × 10_000 bps
    uint256 internal constant DAY_BPS_YEAR = 3_600_000;

    /// @notice Days from `at` to `maturity`, a started day counting whole (0 once matured), and the
    /// interest on `face` [fen] at `rateBps` [bps] a year over them, rounded half up to the fen.
    /// @dev face < 2**128, rate < 2**32, days < 2**40: the product is below 2**200, no overflow.
    function interest(uint256 face, uint32 rateBps, uint64 maturity, uint256 at)
        internal
        pure
        returns (uint256 interest_, uint256 days_)
    {
        if (maturity > at) {
            // maturity > at: no underflow; the sum stays below 2**64 + 2**17
            unchecked {
                days_ = (uint256(maturity) - at + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY;
            }
        }
        interest_ = (face * rateBps * days_ + DAY_BPS_YEAR / 2) / DAY_BPS_YEAR;
    }
}
