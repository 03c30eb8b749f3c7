// Minimal Hardhat 3 config for the node-throughput benchmark (bench/node_throughput.py).
// `hardhat node` serves the in-process simulated network with Hardhat's defaults
// (chain 31337, 20 funded accounts, automine), so the peer is measured as developers run
// it. Artifacts and cache go to a temporary directory chosen by the benchmark.
import { defineConfig } from "hardhat/config";

const out = process.env.TAKASAGO_BENCH_HARDHAT_OUT ?? "/tmp/takasago-bench-hardhat";

export default defineConfig({
  paths: { artifacts: `${out}/artifacts`, cache: `${out}/cache` },
});
