// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {ERC20PermitUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PermitUpgradeable.sol";
import {ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/ContextUpgradeable.sol";

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Tierflow Settlement CNY (tCNY): permissioned ERC-20, 2 decimals, 1 unit = 1 fen.
/// @dev Every balance change goes through `_update`, every approval through `_approve`: both check
/// the pause and the registry there, so transfer, transferFrom, permit, mint and burn cannot bypass it.
/// @custom:oz-upgrades-from v1:SettlementToken
contract SettlementToken is
    ISettlementToken,
    ERC20Upgradeable,
    ERC20PermitUpgradeable,
    ERC2771ContextUpgradeable,
    Governed
{
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IParticipantRegistry registry_, address trustedForwarder) ERC2771ContextUpgradeable(trustedForwarder) {
        registry = registry_;
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {
        __ERC20_init("Tierflow Settlement CNY", "tCNY");
        __ERC20Permit_init("Tierflow Settlement CNY");
    }

    /// @notice 2: one unit is one fen (0.01 CNY).
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @inheritdoc ISettlementToken
    function mint(address to, uint256 amount) external {
        address bank = _requireBank();
        _mint(to, amount);
        emit Minted(to, amount, bank);
    }

    /// @inheritdoc ISettlementToken
    function burn(uint256 amount) external {
        address bank = _requireBank();
        _burn(bank, amount);
        emit Burned(bank, amount, bank);
    }

    /// @inheritdoc ISettlementToken
    function collect(address from, address to, uint256 amount) external {
        address caller = _msgSender();
        if (!registry.isSystemContract(caller)) revert SettlementNotSystem(caller);
        registry.requireNotPaused();
        // the entity hash and roles are not needed: only that `from` is (or was) a participant
        // slither-disable-next-line unused-return
        (, IParticipantRegistry.Status status,) = registry.participant(from);
        if (status == IParticipantRegistry.Status.None) registry.requireActive(from, Roles.PARTY);
        registry.requireActive(to, Roles.PARTY);
        _checkChange(from, to, amount);
        // past this contract's _update on purpose: its rule that `from` be active does not hold here
        ERC20Upgradeable._update(from, to, amount);
    }

    /// @dev An unknown or suspended caller gets the registry's error; an active one without the
    /// SETTLEMENT_BANK bit gets SettlementNotBank.
    function _requireBank() private view returns (address bank) {
        bank = _msgSender();
        // the entity hash is not needed here
        // slither-disable-next-line unused-return
        (uint8 roles, IParticipantRegistry.Status status,) = registry.participant(bank);
        if (status != IParticipantRegistry.Status.Active) registry.requireActive(bank, Roles.SETTLEMENT_BANK);
        if (roles & Roles.SETTLEMENT_BANK == 0) revert SettlementNotBank(bank);
    }

    /// @dev The one place balances change: not paused; each non-zero side an active participant
    /// (any role but auditor) or a Tierflow system contract (escrow).
    function _update(address from, address to, uint256 value) internal override {
        _checkChange(from, to, value);
        registry.requireNotPaused();
        if (from != address(0)) registry.requireActiveOrSystem(from, Roles.PARTY);
        if (to != address(0)) registry.requireActiveOrSystem(to, Roles.PARTY);
        super._update(from, to, value);
    }

    /// @dev No event without a state change: a zero amount or a self-transfer moves nothing.
    function _checkChange(address from, address to, uint256 value) private pure {
        if (value == 0) revert SettlementZeroAmount();
        if (from == to) revert SettlementSelfTransfer(from);
    }

    /// @dev New approvals (approve, permit) follow the same rules as transfers; allowance spending
    /// inside transferFrom (emitEvent == false) is covered by `_update`.
    function _approve(address owner, address spender, uint256 value, bool emitEvent) internal override {
        if (emitEvent) {
            registry.requireNotPaused();
            registry.requireActiveOrSystem(owner, Roles.PARTY);
            registry.requireActiveOrSystem(spender, Roles.PARTY);
        }
        super._approve(owner, spender, value, emitEvent);
    }

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @dev The one gate of the recovery here: governance only (a council proposal, M-of-N with the delay).
    modifier onlyGovernance() {
        address caller = _msgSender();
        if (!registry.canControl(caller, true)) revert SettlementNotGovernance(caller);
        _;
    }

    /// @inheritdoc ISettlementToken
    function recoverBalance(address account, address newAccount) external onlyGovernance {
        // the registry's record is the authority: governance cannot move a balance anywhere else
        if (newAccount == address(0) || registry.recoveredTo(account) != newAccount) {
            revert SettlementNotRecovered(account, newAccount);
        }
        registry.requireNotPaused();
        registry.requireActive(newAccount, Roles.PARTY);
        uint256 amount = balanceOf(account);
        _checkChange(account, newAccount, amount);
        // past this contract's _update on purpose: the old key is barred (suspended) by then
        ERC20Upgradeable._update(account, newAccount, amount);
        emit BalanceRecovered(account, newAccount, amount, _msgSender());
    }

    // ---------------------------------------------------------------- ERC-2771 plumbing

    function _msgSender() internal view override(ContextUpgradeable, ERC2771ContextUpgradeable) returns (address) {
        return ERC2771ContextUpgradeable._msgSender();
    }

    function _msgData() internal view override(ContextUpgradeable, ERC2771ContextUpgradeable) returns (bytes calldata) {
        return ERC2771ContextUpgradeable._msgData();
    }

    function _contextSuffixLength()
        internal
        view
        override(ContextUpgradeable, ERC2771ContextUpgradeable)
        returns (uint256)
    {
        return ERC2771ContextUpgradeable._contextSuffixLength();
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
