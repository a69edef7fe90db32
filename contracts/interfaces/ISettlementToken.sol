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
    /// @notice A transfer, mint or burn of 0 changes nothing (and transferFrom(a, b, 0) needs no
    /// allowance: the address-poisoning pattern), so it is refused.
    error SettlementZeroAmount();
    /// @notice A transfer to oneself changes nothing, so it is refused.
    error SettlementSelfTransfer(address account);
    /// @notice collect() called by an account that is not a Tierflow system contract.
    error SettlementNotSystem(address caller);

    /// @notice Credit `to` with `amount` [fen] against a deposit received off chain. Settlement bank only.
    function mint(address to, uint256 amount) external;
    /// @notice Burn `amount` [fen] of the calling settlement bank's own balance (a withdrawal paid off chain).
    function burn(uint256 amount) external;
    /// @notice A Tierflow system contract moves `amount` [fen] from `from` to `to` without an allowance,
    /// under a rule written in that contract: Financing collects a recourse debt (the seller consented by
    /// requesting with recourse). `from` may be suspended (a debt survives suspension) but must be
    /// registered; `to` must be an active participant. Emits Transfer.
    function collect(address from, address to, uint256 amount) external;

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @notice Governance moved `account`'s whole balance, `amount` [fen], to `newAccount` after a lost-key
    /// recovery (ParticipantRegistry.recover). Also reported as Transfer.
    event BalanceRecovered(address indexed account, address indexed newAccount, uint256 amount, address indexed by);

    /// @notice A control called by someone other than governance.
    error SettlementNotGovernance(address caller);
    /// @notice recoverBalance for an account whose key was not recovered to `newAccount` in the registry.
    error SettlementNotRecovered(address account, address newAccount);

    /// @notice Governance: move all of `account`'s balance to `newAccount`, the address the registry recovered
    /// it to (the old key may be barred already; nothing is needed from it).
    function recoverBalance(address account, address newAccount) external;
}
