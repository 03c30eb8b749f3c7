// ethers v6 client check against a takasago node (or any EVM JSON-RPC endpoint).
//
//   node tests/js/ethers_client.mjs <rpc-url> <private-key> [ws-url] [recipient-key]
//   (or TAKASAGO_RPC_URL / TAKASAGO_PRIVATE_KEY / TAKASAGO_WS_URL / TAKASAGO_RECIPIENT_KEY)
//
// Deploys TestToken (contracts/build/TestToken.json), transfers, reads balances,
// queries logs with contract.queryFilter, waits for receipts, receives the
// Transfer event over a WebSocketProvider subscription and over HTTP filter
// polling, decodes custom-error reverts, and prints one JSON summary line on
// stdout. Exit status 0 when the script ran to the end (the caller asserts on
// the summary), 1 on an unexpected error (summary has "error").

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { Contract, ContractFactory, JsonRpcProvider, Network, WebSocketProvider, Wallet } from "ethers";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");

const rpcUrl = process.argv[2] ?? process.env.TAKASAGO_RPC_URL;
const privateKey = process.argv[3] ?? process.env.TAKASAGO_PRIVATE_KEY;
const wsUrl = process.argv[4] ?? process.env.TAKASAGO_WS_URL ?? rpcUrl?.replace(/^http/, "ws");
const recipientKey = process.argv[5] ?? process.env.TAKASAGO_RECIPIENT_KEY;
if (!rpcUrl || !privateKey) {
  console.error("usage: node ethers_client.mjs <rpc-url> <private-key> [ws-url] [recipient-key]");
  process.exit(2);
}

const ZERO_FEES = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n };
const SUPPLY = 1_000_000n * 10n ** 18n;
const AMOUNT = 1234n;

const artifact = JSON.parse(readFileSync(join(repo, "contracts", "build", "TestToken.json"), "utf8"));

const summary = { steps: [] };
const step = (name) => {
  summary.steps.push(name);
  console.error(`.. ${name}`);
};

function jsonable(value) {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorInfo(err) {
  return {
    code: err?.code ?? null,
    shortMessage: err?.shortMessage ?? String(err?.message ?? err),
    data: err?.data ?? null,
    reason: err?.reason ?? null,
    revertName: err?.revert?.name ?? null,
    revertArgs: err?.revert ? jsonable(Array.from(err.revert.args)) : null,
  };
}

// The listener's last argument is the ContractEventPayload; with a topic filter ethers v6
// may pass it alone (no decoded args), so decode the log ourselves.
function eventInfo(contract, args) {
  try {
    const payload = args[args.length - 1];
    const log = payload.log;
    const parsed = contract.interface.parseLog(log);
    return {
      name: parsed?.name ?? null,
      from: parsed?.args[0] ?? null,
      to: parsed?.args[1] ?? null,
      value: parsed?.args[2]?.toString() ?? null,
      transactionHash: log.transactionHash,
      blockNumber: log.blockNumber,
      listenerArgs: args.length,
    };
  } catch (err) {
    return { error: `could not decode event: ${err?.message ?? err}` };
  }
}

let provider;
let wsProvider;
try {
  // Network detection once (eth_chainId), then a static network so ethers does not re-check it.
  step("detect network");
  const probe = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  const detected = await probe.getNetwork();
  probe.destroy();
  const network = new Network("takasago", detected.chainId);
  summary.chainId = detected.chainId.toString();

  provider = new JsonRpcProvider(rpcUrl, network, { staticNetwork: network, cacheTimeout: -1, pollingInterval: 100 });
  const wallet = new Wallet(privateKey, provider);
  const recipient = recipientKey ? new Wallet(recipientKey, provider) : Wallet.createRandom().connect(provider);
  summary.sender = wallet.address;
  summary.recipient = recipient.address;

  step("fee data");
  const fee = await provider.getFeeData();
  summary.feeData = jsonable({ gasPrice: fee.gasPrice, maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas });
  summary.blockNumberBefore = await provider.getBlockNumber();

  step("deploy TestToken");
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const token = await factory.deploy(wallet.address, SUPPLY, ZERO_FEES);
  await withTimeout(token.waitForDeployment(), 30_000, "deployment");
  const tokenAddress = await token.getAddress();
  const deployReceipt = await token.deploymentTransaction().wait();
  summary.token = tokenAddress;
  summary.deploy = { status: deployReceipt.status, contractAddress: deployReceipt.contractAddress, gasUsed: deployReceipt.gasUsed.toString() };
  summary.code = (await provider.getCode(tokenAddress)).length > 2;
  summary.name = await token.name();
  summary.symbol = await token.symbol();
  summary.decimals = Number(await token.decimals());

  // Subscriptions before the transfer: WebSocket (eth_subscribe logs) and HTTP (filter polling).
  step("subscribe");
  wsProvider = new WebSocketProvider(wsUrl, network, { staticNetwork: network });
  const wsToken = new Contract(tokenAddress, artifact.abi, wsProvider);
  const wsEvent = new Promise((resolve) => {
    wsToken.on(wsToken.filters.Transfer(wallet.address, recipient.address), (...args) => resolve(eventInfo(wsToken, args)));
  });
  const httpEvent = new Promise((resolve) => {
    token.on(token.filters.Transfer(wallet.address, recipient.address), (...args) => resolve(eventInfo(token, args)));
  });
  const newBlock = new Promise((resolve) => wsProvider.once("block", (n) => resolve(n)));
  // Give the subscriptions time to be installed (ethers starts them without awaiting the reply).
  await wsProvider.getBlockNumber();
  await new Promise((r) => setTimeout(r, 500));

  step("transfer");
  const tx = await token.transfer(recipient.address, AMOUNT, ZERO_FEES);
  const receipt = await withTimeout(tx.wait(), 30_000, "transfer receipt");
  summary.transfer = {
    hash: tx.hash,
    status: receipt.status,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed.toString(),
    logs: receipt.logs.length,
    parsed: receipt.logs.map((log) => token.interface.parseLog(log)?.name ?? null),
    type: tx.type,
  };
  summary.confirmations = await receipt.confirmations();

  step("balances");
  summary.balances = {
    sender: (await token.balanceOf(wallet.address)).toString(),
    recipient: (await token.balanceOf(recipient.address)).toString(),
    totalSupply: (await token.totalSupply()).toString(),
  };

  step("queryFilter");
  const all = await token.queryFilter(token.filters.Transfer(), 0, "latest");
  const toRecipient = await token.queryFilter(token.filters.Transfer(null, recipient.address), deployReceipt.blockNumber);
  summary.queryFilter = {
    all: all.length,
    allNames: all.map((e) => e.eventName ?? e.fragment?.name ?? null),
    toRecipient: toRecipient.length,
    toRecipientArgs: toRecipient.map((e) => jsonable(Array.from(e.args))),
    toRecipientTx: toRecipient.map((e) => e.transactionHash),
  };

  step("getTransaction/getBlock");
  const fetched = await provider.getTransaction(tx.hash);
  const block = await provider.getBlock(receipt.blockNumber, true);
  summary.fetched = {
    hash: fetched?.hash ?? null,
    from: fetched?.from ?? null,
    to: fetched?.to ?? null,
    nonce: fetched?.nonce ?? null,
    blockNumber: fetched?.blockNumber ?? null,
    chainId: fetched?.chainId?.toString() ?? null,
  };
  summary.block = {
    number: block?.number ?? null,
    hash: block?.hash ?? null,
    transactions: block ? block.prefetchedTransactions.map((t) => t.hash) : [],
    baseFeePerGas: block?.baseFeePerGas?.toString() ?? null,
  };

  step("revert decoding");
  try {
    await token.transfer.staticCall(recipient.address, SUPPLY * 2n);
    summary.staticCallRevert = null;
  } catch (err) {
    summary.staticCallRevert = errorInfo(err);
  }
  try {
    await token.transfer.estimateGas(recipient.address, SUPPLY * 2n);
    summary.estimateRevert = null;
  } catch (err) {
    summary.estimateRevert = errorInfo(err);
  }
  try {
    // Sending without an explicit gas limit: ethers estimates first and refuses to send.
    await token.transfer(recipient.address, SUPPLY * 2n, ZERO_FEES);
    summary.sendRevert = null;
  } catch (err) {
    summary.sendRevert = errorInfo(err);
  }
  try {
    // With an explicit gas limit the transaction is mined and fails; wait() throws CALL_EXCEPTION.
    const bad = await token.transfer(recipient.address, SUPPLY * 2n, { ...ZERO_FEES, gasLimit: 200_000n });
    try {
      await bad.wait();
      summary.minedRevert = { status: 1 };
    } catch (err) {
      summary.minedRevert = { status: err?.receipt?.status ?? null, ...errorInfo(err) };
    }
  } catch (err) {
    summary.minedRevert = { sendError: errorInfo(err) };
  }

  step("events");
  summary.wsEvent = await withTimeout(wsEvent, 20_000, "Transfer over WebSocket").catch((e) => ({ error: String(e.message) }));
  summary.httpEvent = await withTimeout(httpEvent, 20_000, "Transfer over HTTP filter").catch((e) => ({ error: String(e.message) }));
  summary.wsBlock = await withTimeout(newBlock, 20_000, "new block over WebSocket").catch((e) => ({ error: String(e.message) }));
  await wsToken.removeAllListeners();
  await token.removeAllListeners();

  // ethers' default fees (no overrides): informative; a zero-fee chain may or may not accept them.
  step("default fees");
  try {
    const t = await wallet.sendTransaction({ to: recipient.address, value: 0n });
    const r = await withTimeout(t.wait(), 30_000, "default-fee receipt");
    summary.defaultFeeTx = { status: r.status, maxFeePerGas: t.maxFeePerGas?.toString() ?? null, gasPrice: t.gasPrice?.toString() ?? null };
  } catch (err) {
    summary.defaultFeeTx = { error: errorInfo(err) };
  }

  summary.ok = true;
  console.log(JSON.stringify(jsonable(summary)));
} catch (err) {
  summary.ok = false;
  summary.error = { ...errorInfo(err), stack: String(err?.stack ?? "").split("\n").slice(0, 8).join("\n") };
  console.log(JSON.stringify(jsonable(summary)));
  process.exitCode = 1;
} finally {
  try {
    if (wsProvider) await wsProvider.destroy();
  } catch {}
  try {
    if (provider) provider.destroy();
  } catch {}
  setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref();
}
