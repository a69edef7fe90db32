// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title Settlement token: a permissioned ERC-20 (2 decimals, 1 unit = 1 fen) standing for bank deposits.
/// @notice The cash leg of every delivery-versus-payment. Only a SETTLEMENT_BANK mints (against an
/// off-chain deposit) and burns (on withdrawal). Both sides of every transfer must be active
/// participants or Tierflow system contracts; nothing moves while the platform is paused.
interface ISettlementToken is IERC20 {
    /// @param amount [fen]
    event Minted(address indexed to, uint256 amount, address indexed bank);
    /// @param amount [fen]
    event Burned(address indexed from, uint256 amount, address indexed bank);

    error SettlementNotBank(address caller);

    /// @notice Credit `to` with `amount` [fen] against a deposit received off chain. Settlement bank only.
    function mint(address to, uint256 amount) external;
    /// @notice Burn `amount` [fen] of the calling settlement bank's own balance (a withdrawal paid off chain).
    function burn(uint256 amount) external;
}
