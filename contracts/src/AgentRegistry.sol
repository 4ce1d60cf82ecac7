// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";

/// @title AgentRegistry
/// @notice ERC-8004 Identity Registry: every agent (inference provider, validator, client agent) is an
/// ERC-721 token whose URI points at its registration file. Owners and approved operators manage the
/// agent's URI, free-form metadata and a verified payment wallet (proven by an EIP-712 signature of the
/// wallet itself, cleared whenever the agent changes hands).
contract AgentRegistry is ERC721URIStorage, EIP712, IAgentRegistry {
    /// @notice One on-chain metadata entry.
    struct MetadataEntry {
        string metadataKey;
        bytes metadataValue;
    }

    /// @notice EIP-712 typehash of the proof a new wallet signs to accept becoming an agent's wallet.
    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");

    /// @notice Metadata key that can only be written through `setAgentWallet`.
    string public constant AGENT_WALLET_KEY = "agentWallet";

    bytes32 private constant AGENT_WALLET_KEY_HASH = keccak256(bytes(AGENT_WALLET_KEY));

    uint256 private _lastAgentId;
    mapping(uint256 agentId => mapping(string metadataKey => bytes metadataValue)) private _metadata;
    mapping(uint256 agentId => address wallet) private _agentWallets;

    /// @notice A new agent was registered.
    /// @param agentId The new agent id.
    /// @param agentURI The agent's registration file URI (may be empty).
    /// @param owner The agent's owner.
    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);

    /// @notice An agent's URI changed.
    /// @param agentId The agent.
    /// @param newURI The new registration file URI.
    /// @param updatedBy The owner or operator that changed it.
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    /// @notice A metadata entry of an agent was written.
    /// @param agentId The agent.
    /// @param indexedMetadataKey The key (indexed, so topics hold its hash).
    /// @param metadataKey The key.
    /// @param metadataValue The new value.
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );

    /// @notice An agent's verified payment wallet was set.
    /// @param agentId The agent.
    /// @param wallet The new wallet.
    event AgentWalletSet(uint256 indexed agentId, address indexed wallet);

    /// @notice An agent's payment wallet was removed (explicitly or by a transfer of the agent).
    /// @param agentId The agent.
    event AgentWalletUnset(uint256 indexed agentId);

    /// @notice The caller is neither the agent's owner nor an approved operator.
    error NotAgentOwner(uint256 agentId, address caller);
    /// @notice The metadata key `agentWallet` can only be changed through `setAgentWallet`.
    error ReservedMetadataKey(string metadataKey);
    /// @notice The wallet proof's deadline has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The wallet proof was not signed by the new wallet.
    error InvalidWalletSignature();
    /// @notice The zero address cannot be an agent wallet.
    error ZeroAgentWallet();
    /// @notice The agent has no payment wallet to unset.
    error AgentWalletNotSet(uint256 agentId);

    /// @notice Deploys the registry.
    constructor() ERC721("Verity Agent", "AGENT") EIP712("Verity AgentRegistry", "1") {}

    /// @notice Registers a new agent owned by the caller, with a URI and initial metadata.
    /// @param agentURI The agent's registration file URI.
    /// @param metadata Initial metadata entries (the key `agentWallet` is not allowed).
    /// @return agentId The new agent id.
    function register(string calldata agentURI, MetadataEntry[] calldata metadata) external returns (uint256 agentId) {
        agentId = _register(agentURI);
        for (uint256 i = 0; i < metadata.length; ++i) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
        _safeMint(msg.sender, agentId);
    }

    /// @notice Registers a new agent owned by the caller, with a URI.
    /// @param agentURI The agent's registration file URI.
    /// @return agentId The new agent id.
    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI);
        _safeMint(msg.sender, agentId);
    }

    /// @notice Registers a new agent owned by the caller, without a URI.
    /// @return agentId The new agent id.
    function register() external returns (uint256 agentId) {
        agentId = _register("");
        _safeMint(msg.sender, agentId);
    }

    /// @notice Changes the registration file URI of `agentId`; owner or operator only.
    /// @param agentId The agent.
    /// @param newURI The new URI.
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _requireAuthorized(agentId);
        _setTokenURI(agentId, newURI);
        emit URIUpdated(agentId, newURI, msg.sender);
    }

    /// @notice Metadata value stored under `metadataKey` for `agentId` (empty when unset). The reserved key
    /// `agentWallet` returns the 20-byte verified wallet, or empty bytes when none is set.
    /// @param agentId The agent.
    /// @param metadataKey The key.
    /// @return The stored value.
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        if (keccak256(bytes(metadataKey)) == AGENT_WALLET_KEY_HASH) {
            address wallet = _agentWallets[agentId];
            return wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        }
        return _metadata[agentId][metadataKey];
    }

    /// @notice Writes a metadata entry of `agentId`; owner or operator only.
    /// @param agentId The agent.
    /// @param metadataKey The key (not `agentWallet`).
    /// @param metadataValue The value.
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _requireAuthorized(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    /// @notice Sets the verified payment wallet of `agentId`; owner or operator only, with a proof from the wallet.
    /// @param agentId The agent.
    /// @param newWallet The wallet that receives the agent's payments.
    /// @param deadline Last timestamp at which the proof is valid.
    /// @param signature EIP-712 `AgentWalletSet(agentId, newWallet, owner, deadline)` signed by `newWallet`
    /// (ECDSA, or ERC-1271 when `newWallet` is a contract); binding the current owner stops replay after a transfer.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external {
        address owner = _requireAuthorized(agentId);
        if (newWallet == address(0)) revert ZeroAgentWallet();
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest =
            _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
        if (!SignatureChecker.isValidSignatureNow(newWallet, digest, signature)) revert InvalidWalletSignature();

        _agentWallets[agentId] = newWallet;
        emit AgentWalletSet(agentId, newWallet);
    }

    /// @notice Removes the verified payment wallet of `agentId` (payments then go to the owner); owner or operator only.
    /// @param agentId The agent.
    function unsetAgentWallet(uint256 agentId) external {
        _requireAuthorized(agentId);
        if (_agentWallets[agentId] == address(0)) revert AgentWalletNotSet(agentId);
        delete _agentWallets[agentId];
        emit AgentWalletUnset(agentId);
    }

    /// @notice Verified payment wallet of `agentId`, or the zero address when none is set.
    /// @param agentId The agent; reverts `ERC721NonexistentToken` when it does not exist.
    /// @return The wallet.
    function getAgentWallet(uint256 agentId) external view returns (address) {
        _requireOwned(agentId);
        return _agentWallets[agentId];
    }

    /// @notice True when `account` is the owner of `agentId`, approved for it, or an operator of its owner.
    /// @param agentId The agent (false when it does not exist).
    /// @param account The account to check.
    /// @return Whether `account` may manage the agent.
    function isAuthorized(uint256 agentId, address account) public view returns (bool) {
        return _isAuthorized(_ownerOf(agentId), account, agentId);
    }

    /// @notice Owner of `agentId`; reverts for an agent that does not exist.
    /// @param agentId The agent.
    /// @return The owner.
    function ownerOf(uint256 agentId) public view override(ERC721, IERC721, IAgentRegistry) returns (address) {
        return super.ownerOf(agentId);
    }

    /// @notice Number of agents registered so far (the highest agent id).
    /// @return The count.
    function agentCount() external view returns (uint256) {
        return _lastAgentId;
    }

    function _register(string memory agentURI) private returns (uint256 agentId) {
        agentId = ++_lastAgentId;
        if (bytes(agentURI).length > 0) _setTokenURI(agentId, agentURI);
        emit Registered(agentId, agentURI, msg.sender);
    }

    function _setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) private {
        if (keccak256(bytes(metadataKey)) == AGENT_WALLET_KEY_HASH) revert ReservedMetadataKey(metadataKey);
        _metadata[agentId][metadataKey] = metadataValue;
        emit MetadataSet(agentId, metadataKey, metadataKey, metadataValue);
    }

    /// @dev Reverts unless the caller may manage `agentId`; returns its owner (reverts for unknown agents).
    function _requireAuthorized(uint256 agentId) private view returns (address owner) {
        owner = _requireOwned(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) revert NotAgentOwner(agentId, msg.sender);
    }

    /// @dev Clears the verified wallet whenever the agent moves to a different owner.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && from != to && _agentWallets[tokenId] != address(0)) {
            delete _agentWallets[tokenId];
            emit AgentWalletUnset(tokenId);
        }
    }
}
