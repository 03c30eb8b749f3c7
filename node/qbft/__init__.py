"""QBFT consensus (issue 8, in progress): messages and the per-height state machine.

Pure and deterministic — no clocks, no sockets: the caller feeds messages and timeouts
in and carries the returned actions (broadcasts, timers, a decision) out. This makes the
protocol testable by simulation (any number of validators, dropped, delayed or forged
messages) before it is wired to the network.
"""
