// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The governors' council: M-of-N approval in front of the timelock that holds the platform's powers.
/// @notice A governor proposes a call (target, calldata), or a batch of calls that run all or none; once `threshold` distinct governors have
/// approved it (the proposer's own approval counts), the council schedules it on the timelock; after
/// the timelock's delay any governor executes it. No governor can act alone while threshold >= 2.
/// A proposal lives `window` seconds from its creation: past its deadline it can no longer be approved or
/// executed (Expired). Its proposer can cancel it at once; any other governor votes to cancel it, and
/// `threshold` such votes cancel it (a scheduled one is cancelled on the timelock as well).
interface IGovernanceCouncil {
    /// @notice Lifecycle of a proposal: None (unknown id), Pending (collecting approvals), Scheduled
    /// (approved by the threshold, waiting out the delay), Executed, Cancelled, and Expired (never stored:
    /// what `proposal` reports for a Pending or Scheduled one past its deadline).
    enum ProposalState {
        None,
        Pending,
        Scheduled,
        Executed,
        Cancelled,
        Expired
    }

    /// @param descriptionHash hash of the off-chain description (why, which release)
    /// @param deadline [unix s] last moment it can be approved or executed
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address target,
        bytes data,
        bytes32 descriptionHash,
        uint256 deadline
    );
    /// @notice A batch proposal: `targets[i]` is called with `datas[i]`, in order, all in one transaction.
    /// @param deadline [unix s] last moment it can be approved or executed
    event BatchProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address[] targets,
        bytes[] datas,
        bytes32 descriptionHash,
        uint256 deadline
    );
    /// @param approvals approvals so far, this one included
    event ProposalApproved(uint256 indexed proposalId, address indexed governor, uint256 approvals);
    /// @param eta [unix s] earliest execution time
    event ProposalScheduled(uint256 indexed proposalId, uint256 eta);
    event ProposalExecuted(uint256 indexed proposalId, address indexed governor);
    /// @param cancels votes to cancel so far, this one included (the proposer's own cancel is not a vote)
    event ProposalCancelVoted(uint256 indexed proposalId, address indexed governor, uint256 cancels);
    event ProposalCancelled(uint256 indexed proposalId, address indexed governor);
    event GovernorReplaced(address indexed previous, address indexed next);
    event ThresholdChanged(uint256 threshold);

    error CouncilNotGovernor(address caller);
    error CouncilOnlyTimelock(address caller);
    error CouncilUnknownProposal(uint256 proposalId);
    error CouncilAlreadyApproved(uint256 proposalId, address governor);
    /// @notice approve() of a proposal that is scheduled or executed, or execute() of one not scheduled.
    error CouncilWrongState(uint256 proposalId, ProposalState state);
    error CouncilNotReady(uint256 proposalId, uint256 eta);
    /// @notice approve() or execute() of a proposal past its deadline.
    error CouncilProposalExpired(uint256 proposalId, uint256 deadline);
    /// @notice A second vote of the same governor to cancel the same proposal.
    error CouncilAlreadyVotedCancel(uint256 proposalId, address governor);
    /// @notice A proposal window not longer than the timelock's delay (nothing could ever be executed).
    error CouncilInvalidWindow(uint256 window, uint256 delay);
    /// @notice A batch with no call, or with a different number of targets and calldatas.
    error CouncilInvalidBatch(uint256 targets, uint256 datas);
    /// @notice threshold 0, above the number of governors, or a governor set with zero or repeated addresses.
    error CouncilInvalidGovernors(uint256 count, uint256 threshold);

    /// @notice Propose `data` to be called on `target` by the timelock. Governor only; counts as its approval.
    function propose(address target, bytes calldata data, bytes32 descriptionHash) external returns (uint256);
    /// @notice Propose calls run in order in one transaction by the timelock (`scheduleBatch`, then
    /// `executeBatch`): all of them or none. Governor only; counts as its approval.
    function proposeBatch(address[] calldata targets, bytes[] calldata datas, bytes32 descriptionHash)
        external
        returns (uint256);
    /// @notice Approve a pending proposal. Governor only, once per governor.
    function approve(uint256 proposalId) external;
    /// @notice Run a scheduled proposal once its delay has passed, before its deadline. Governor only.
    function execute(uint256 proposalId) external;
    /// @notice Cancel a pending or scheduled proposal: at once by its proposer; by any other governor, a
    /// vote, and the `threshold`-th vote cancels. Governor only.
    function cancel(uint256 proposalId) external;
    /// @notice Replace a governor (lost key, member change). Timelock only, i.e. a proposal itself.
    function replaceGovernor(address previous, address next) external;
    /// @notice Set M. Timelock only.
    function setThreshold(uint8 threshold) external;

    function isGovernor(address account) external view returns (bool);
    function hasApproved(uint256 proposalId, address governor) external view returns (bool);
    /// @notice The proposal; its state is Expired for a Pending or Scheduled one past its deadline. A batch
    /// proposal reads target 0 and empty data: its calls are in `proposalCalls`.
    function proposal(uint256 proposalId)
        external
        view
        returns (address target, bytes memory data, uint256 approvals, ProposalState state, uint256 eta);
    /// @notice The calls a proposal runs, in order: one for a single proposal, every call of a batch.
    function proposalCalls(uint256 proposalId) external view returns (address[] memory targets, bytes[] memory datas);
    /// @return proposer who proposed it
    /// @return deadline [unix s] last moment it can be approved or executed
    /// @return cancels votes to cancel it so far
    function proposalLife(uint256 proposalId)
        external
        view
        returns (address proposer, uint256 deadline, uint256 cancels);
}
