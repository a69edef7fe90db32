// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IGovernanceCouncil} from "../interfaces/IGovernanceCouncil.sol";
import {TierflowTimelock} from "./TierflowTimelock.sol";

/// @title The governors' council: M-of-N approvals, then OpenZeppelin's TimelockController with a delay.
/// @notice See IGovernanceCouncil. The council deploys its timelock and is its only proposer, executor
/// and canceller; the timelock holds the platform's governance powers. A small multisig rather than
/// OpenZeppelin's Governor: the governors are a fixed consortium (operator and member banks), not token
/// holders, and "M distinct approvals, then the delay" is the whole rule.
contract GovernanceCouncil is IGovernanceCouncil {
    /// @dev Word 0 holds everything approve() and execute() read besides the calldata and the deadline.
    struct Proposal {
        address target; // word 0
        uint8 approvals; // word 0
        ProposalState state; // word 0
        uint40 eta; // word 0 [unix s]; 0 until scheduled
        bytes data;
        address proposer; // word 2
        uint40 deadline; // word 2 [unix s]
        uint8 cancels; // word 2
        bool batch; // word 2; its calls are in _batchTargets and _batchDatas, target and data stay empty
    }

    TierflowTimelock public immutable timelock;
    /// @dev [s] how long a proposal lives from its creation: long enough for approvals and the delay.
    uint256 public immutable window;

    uint8 public threshold;
    uint8 public governorCount;
    uint256 private _lastProposalId;
    mapping(address account => bool) private _governors;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => mapping(address governor => bool)) private _approved;
    mapping(uint256 proposalId => mapping(address governor => bool)) private _cancelVoted;
    // A batch's calls are stored (not only hashed) so that approve, execute and cancel take just the id, as
    // for a single proposal; storage is what bounds a batch's size (docs/contracts.md, "Lost-key recovery").
    mapping(uint256 proposalId => address[]) private _batchTargets;
    mapping(uint256 proposalId => bytes[]) private _batchDatas;

    /// @param delay [s] the timelock's minimum delay between approval and execution
    /// @param window_ [s] a proposal's life from creation to its deadline; longer than `delay`
    constructor(address[] memory governors, uint8 threshold_, uint256 delay, uint256 window_) {
        if (window_ <= delay || window_ > type(uint32).max) revert CouncilInvalidWindow(window_, delay);
        window = window_;
        uint256 n = governors.length;
        if (n == 0 || n > type(uint8).max) revert CouncilInvalidGovernors(n, threshold_);
        for (uint256 i; i < n; ++i) {
            address g = governors[i];
            if (g == address(0) || _governors[g]) revert CouncilInvalidGovernors(n, threshold_);
            _governors[g] = true;
            emit GovernorReplaced(address(0), g);
        }
        governorCount = uint8(n);
        _setThreshold(threshold_);
        address[] memory self = new address[](1);
        self[0] = address(this);
        timelock = new TierflowTimelock(delay, self, self);
    }

    modifier onlyGovernor() {
        if (!_governors[msg.sender]) revert CouncilNotGovernor(msg.sender);
        _;
    }

    modifier onlyTimelock() {
        if (msg.sender != address(timelock)) revert CouncilOnlyTimelock(msg.sender);
        _;
    }

    /// @inheritdoc IGovernanceCouncil
    function propose(address target, bytes calldata data, bytes32 descriptionHash)
        external
        onlyGovernor
        returns (uint256 proposalId)
    {
        Proposal storage p;
        uint256 deadline;
        (proposalId, p, deadline) = _create();
        p.target = target;
        p.data = data;
        emit ProposalCreated(proposalId, msg.sender, target, data, descriptionHash, deadline);
        _approve(proposalId, p);
    }

    /// @inheritdoc IGovernanceCouncil
    function proposeBatch(address[] calldata targets, bytes[] calldata datas, bytes32 descriptionHash)
        external
        onlyGovernor
        returns (uint256 proposalId)
    {
        uint256 n = targets.length;
        if (n == 0 || n != datas.length) revert CouncilInvalidBatch(n, datas.length);
        Proposal storage p;
        uint256 deadline;
        (proposalId, p, deadline) = _create();
        p.batch = true;
        _batchTargets[proposalId] = targets;
        for (uint256 i; i < n; ++i) {
            _batchDatas[proposalId].push(datas[i]);
        }
        emit BatchProposalCreated(proposalId, msg.sender, targets, datas, descriptionHash, deadline);
        _approve(proposalId, p);
    }

    /// @inheritdoc IGovernanceCouncil
    function approve(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _proposal(proposalId);
        if (p.state != ProposalState.Pending) revert CouncilWrongState(proposalId, p.state);
        _requireLive(proposalId, p);
        _approve(proposalId, p);
    }

    /// @inheritdoc IGovernanceCouncil
    /// @dev The timelock calls the target; a revert there reverts this call with the target's error.
    function execute(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _proposal(proposalId);
        if (p.state != ProposalState.Scheduled) revert CouncilWrongState(proposalId, p.state);
        if (block.timestamp < p.eta) revert CouncilNotReady(proposalId, p.eta);
        _requireLive(proposalId, p);
        p.state = ProposalState.Executed;
        emit ProposalExecuted(proposalId, msg.sender);
        if (p.batch) {
            address[] memory targets = _batchTargets[proposalId];
            // every call of the batch or none: a revert in any reverts executeBatch, and so this call
            timelock.executeBatch(targets, new uint256[](targets.length), _batchDatas[proposalId], bytes32(0), bytes32(proposalId));
        } else {
            timelock.execute(p.target, 0, p.data, bytes32(0), bytes32(proposalId));
        }
    }

    /// @inheritdoc IGovernanceCouncil
    /// @dev A proposal past its deadline can still be cancelled: it was dead already, and the cancel
    /// clears its operation off the timelock.
    function cancel(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _proposal(proposalId);
        ProposalState state = p.state;
        if (state != ProposalState.Pending && state != ProposalState.Scheduled) {
            revert CouncilWrongState(proposalId, state);
        }
        if (msg.sender != p.proposer) {
            if (_cancelVoted[proposalId][msg.sender]) revert CouncilAlreadyVotedCancel(proposalId, msg.sender);
            _cancelVoted[proposalId][msg.sender] = true;
            uint8 cancels = p.cancels + 1;
            p.cancels = cancels;
            emit ProposalCancelVoted(proposalId, msg.sender, cancels);
            if (cancels < threshold) return;
        }
        p.state = ProposalState.Cancelled;
        emit ProposalCancelled(proposalId, msg.sender);
        if (state == ProposalState.Scheduled) {
            timelock.cancel(_operationId(proposalId, p));
        }
    }

    /// @inheritdoc IGovernanceCouncil
    function replaceGovernor(address previous, address next) external onlyTimelock {
        if (!_governors[previous] || next == address(0) || _governors[next]) {
            revert CouncilInvalidGovernors(governorCount, threshold);
        }
        _governors[previous] = false;
        _governors[next] = true;
        emit GovernorReplaced(previous, next);
    }

    /// @inheritdoc IGovernanceCouncil
    function setThreshold(uint8 threshold_) external onlyTimelock {
        if (threshold_ == threshold) revert CouncilInvalidGovernors(governorCount, threshold_);
        _setThreshold(threshold_);
    }

    /// @inheritdoc IGovernanceCouncil
    function isGovernor(address account) external view returns (bool) {
        return _governors[account];
    }

    /// @inheritdoc IGovernanceCouncil
    function hasApproved(uint256 proposalId, address governor) external view returns (bool) {
        return _approved[proposalId][governor];
    }

    /// @inheritdoc IGovernanceCouncil
    function proposal(uint256 proposalId)
        external
        view
        returns (address target, bytes memory data, uint256 approvals, ProposalState state, uint256 eta)
    {
        Proposal storage p = _proposals[proposalId];
        ProposalState stored = p.state;
        bool open = stored == ProposalState.Pending || stored == ProposalState.Scheduled;
        return (p.target, p.data, p.approvals, open && block.timestamp > p.deadline ? ProposalState.Expired : stored, p.eta);
    }

    /// @inheritdoc IGovernanceCouncil
    function proposalCalls(uint256 proposalId)
        external
        view
        returns (address[] memory targets, bytes[] memory datas)
    {
        Proposal storage p = _proposals[proposalId];
        if (p.batch) return (_batchTargets[proposalId], _batchDatas[proposalId]);
        targets = new address[](1);
        datas = new bytes[](1);
        targets[0] = p.target;
        datas[0] = p.data;
    }

    /// @inheritdoc IGovernanceCouncil
    function proposalLife(uint256 proposalId)
        external
        view
        returns (address proposer, uint256 deadline, uint256 cancels)
    {
        Proposal storage p = _proposals[proposalId];
        return (p.proposer, p.deadline, p.cancels);
    }

    /// @dev Counts `msg.sender`'s approval; the one that reaches the threshold schedules the call.
    function _approve(uint256 proposalId, Proposal storage p) private {
        if (_approved[proposalId][msg.sender]) revert CouncilAlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        uint8 approvals = p.approvals + 1;
        p.approvals = approvals;
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (approvals < threshold) return;
        uint256 delay = timelock.getMinDelay();
        uint256 eta = block.timestamp + delay;
        p.state = ProposalState.Scheduled;
        p.eta = uint40(eta);
        emit ProposalScheduled(proposalId, eta);
        if (p.batch) {
            address[] memory targets = _batchTargets[proposalId];
            timelock.scheduleBatch(
                targets, new uint256[](targets.length), _batchDatas[proposalId], bytes32(0), bytes32(proposalId), delay
            );
        } else {
            timelock.schedule(p.target, 0, p.data, bytes32(0), bytes32(proposalId), delay);
        }
    }

    /// @dev A new Pending proposal with the next id, proposed by `msg.sender`, with its deadline.
    function _create() private returns (uint256 proposalId, Proposal storage p, uint256 deadline) {
        // ids count up from 1 by one per proposal: a uint256 cannot overflow
        unchecked {
            proposalId = ++_lastProposalId;
        }
        p = _proposals[proposalId];
        // block.timestamp + window < 2**40 for the next 30,000 years (window < 2**32)
        deadline = block.timestamp + window;
        p.state = ProposalState.Pending;
        p.proposer = msg.sender;
        p.deadline = uint40(deadline);
    }

    /// @dev The timelock's id of the proposal's operation (the salt is the proposal id: ids are unique).
    function _operationId(uint256 proposalId, Proposal storage p) private view returns (bytes32) {
        if (!p.batch) return timelock.hashOperation(p.target, 0, p.data, bytes32(0), bytes32(proposalId));
        address[] memory targets = _batchTargets[proposalId];
        return timelock.hashOperationBatch(
            targets, new uint256[](targets.length), _batchDatas[proposalId], bytes32(0), bytes32(proposalId)
        );
    }

    function _setThreshold(uint8 threshold_) private {
        if (threshold_ == 0 || threshold_ > governorCount) revert CouncilInvalidGovernors(governorCount, threshold_);
        threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }

    /// @dev A proposal not executed by its deadline is dead: nobody approves or runs a stale decision.
    function _requireLive(uint256 proposalId, Proposal storage p) private view {
        uint256 deadline = p.deadline;
        if (block.timestamp > deadline) revert CouncilProposalExpired(proposalId, deadline);
    }

    function _proposal(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.state == ProposalState.None) revert CouncilUnknownProposal(proposalId);
    }
}
