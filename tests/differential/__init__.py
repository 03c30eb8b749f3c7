"""The differential sequence: the same signed transactions on anvil (the reference EVM) and our node.

Public API (used by tests/test_differential_anvil.py, tests/test_evm_equivalence.py and the
``python -m bench.differential`` command)::

    from tests.differential import anvil_process, run_sequence, format_report

    with anvil_process() as anvil_url:
        report = run_sequence(node_url, anvil_url, admin_key, spender_key)
    assert not report.differences, format_report(report)

- ``build_sequence(main, spender) -> list[Step]`` and ``build_views(main, spender)``: what is sent
  and what is read after each step (``sequence.py``);
- ``Chain`` / ``ChainRunner`` / ``StepResult``: one chain's raw answers (``chain.py``);
- ``compare_step(step, node, anvil, report)``, ``Report``, ``Difference``, ``format_report``
  (``compare.py``);
- ``run_sequence(node_url, anvil_url, key, spender_key=None, progress=None) -> Report``
  (``run.py``);
- ``find_anvil()`` and ``anvil_process()``, re-exported from ``bench.harness.anvil``.
"""

from bench.harness.anvil import anvil_process, find_anvil
from tests.differential.chain import Chain, ChainRunner, RPCFailure, StepResult
from tests.differential.compare import Difference, Report, compare_step, format_report
from tests.differential.run import run_sequence
from tests.differential.sequence import CHAIN_ID, Step, View, build_sequence, build_views, encoder

__all__ = [
    "CHAIN_ID",
    "Chain",
    "ChainRunner",
    "Difference",
    "RPCFailure",
    "Report",
    "Step",
    "StepResult",
    "View",
    "anvil_process",
    "build_sequence",
    "build_views",
    "compare_step",
    "encoder",
    "find_anvil",
    "format_report",
    "run_sequence",
]
