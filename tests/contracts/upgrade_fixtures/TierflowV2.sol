// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Test fixture: release 2 of every upgradeable Tierflow contract, for tests/contracts/test_upgrade.py.
// Each is release 1 with a new version() and one new function; no storage is added or moved.

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Bills} from "../../../contracts/Bills.sol";
import {CreditLines} from "../../../contracts/CreditLines.sol";
import {DocumentRegistry} from "../../../contracts/DocumentRegistry.sol";
import {Financing} from "../../../contracts/Financing.sol";
import {ParticipantRegistry} from "../../../contracts/ParticipantRegistry.sol";
import {Receivables} from "../../../contracts/Receivables.sol";
import {SettlementToken} from "../../../contracts/SettlementToken.sol";
import {ICreditLines} from "../../../contracts/interfaces/ICreditLines.sol";
import {IDocumentRegistry} from "../../../contracts/interfaces/IDocumentRegistry.sol";
import {IParticipantRegistry} from "../../../contracts/interfaces/IParticipantRegistry.sol";
import {IReceivables} from "../../../contracts/interfaces/IReceivables.sol";

contract ParticipantRegistryV2 is ParticipantRegistry {
    constructor(address forwarder) ParticipantRegistry(forwarder) {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract SettlementTokenV2 is SettlementToken {
    constructor(IParticipantRegistry registry_, address forwarder) SettlementToken(registry_, forwarder) {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract DocumentRegistryV2 is DocumentRegistry {
    constructor(IParticipantRegistry registry_, address forwarder) DocumentRegistry(registry_, forwarder) {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract CreditLinesV2 is CreditLines {
    constructor(IParticipantRegistry registry_, address forwarder) CreditLines(registry_, forwarder) {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract ReceivablesV2 is Receivables {
    constructor(
        IParticipantRegistry registry_,
        ICreditLines creditLines_,
        IDocumentRegistry documents_,
        IERC20 token_,
        address forwarder
    ) Receivables(registry_, creditLines_, documents_, token_, forwarder) {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract FinancingV2 is Financing {
    constructor(IParticipantRegistry registry_, IReceivables receivables_, IERC20 token_, address forwarder)
        Financing(registry_, receivables_, token_, forwarder)
    {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}

contract BillsV2 is Bills {
    constructor(address registry_, address documents_, address token_, address forwarder)
        Bills(registry_, documents_, token_, forwarder)
    {}

    function version() external pure override returns (string memory) {
        return "2";
    }

    function upgradedFeature() external pure returns (uint256) {
        return 2;
    }
}
