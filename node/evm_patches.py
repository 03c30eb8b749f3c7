"""Every change the node makes to py-evm, pyrlp and eth-hash internals, and its guard.

The node runs py-evm with a few pieces replaced by faster equivalents. Each was
copied from, or reproduces the result of, a function of one exact library version;
if that function changes, the copy silently stops being equivalent and blocks could
differ from what any other client computes. So every change is listed here with the
function(s) it stands in for and a fingerprint (sha256 of the source) of each, and
:func:`install` refuses — with :class:`PatchTargetChanged` naming the package, the
function and what to do — when the installed version or any fingerprint differs.

Nothing happens on import. :func:`install` is called explicitly: first thing in
``runner.serve`` (so a mismatch stops the node before it opens its data directory),
and by ``execution.chain_class_for``, through which every in-process chain of the
node is built (the ledger, genesis building, tests and benchmarks), so the node's VM
never runs without its checks. It is idempotent.

The changes (details in :data:`CHANGES`):

* node classes only, nothing outside the node's VM is affected — the faster methods
  in ``evm_speedups.py`` mixed into ``TakasagoVM``/``TakasagoComputation``/
  ``TakasagoTransactionExecutor``: one-pass trie roots, cached jump analysis, the
  leaner interpreter loop and the common opcodes it runs itself, the quiet message builder;
* process-wide, applied by :func:`install` — pyrlp's ``copy`` sharing unchanged fields,
  on py-evm's Prague block and header classes and its account class only (the rlp
  classes the node copies); trie nodes decoded once per hash (``HexaryTrie.get_node``);
  the keccak backend (``safe-pysha3``, ~3x faster than pycryptodome's).

``python -m node.evm_patches`` prints the installed versions and current fingerprints
(for re-deriving the changes after an upgrade).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import os
import platform
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rlp.sedes.serializable as _rlp_serializable
import trie.hexary as _trie_hexary
from eth.rlp.accounts import Account
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from trie.constants import BLANK_NODE, BLANK_NODE_HASH
from trie.utils.nodes import decode_node

ON_PYPY = platform.python_implementation() == "PyPy"
"""The execution worker (``node/execution_worker.py``) runs this module on PyPy when it is installed."""

CPYTHON_VERSIONS: dict[str, str] = {"py-evm": "0.12.1b1", "rlp": "5.0.0", "eth-hash": "0.8.0", "trie": "3.1.0"}
PYPY_VERSIONS: dict[str, str] = {"py-evm": "0.12.1b1", "rlp": "4.1.0", "eth-hash": "0.7.1", "trie": "3.1.0"}
"""On PyPy (Debian's 7.3.11 implements Python 3.9) py-evm and trie are the very same releases; rlp 5 and
eth-hash 0.8 need Python 3.10, so their last releases for 3.9 are pinned there. The functions replaced in
them are checked by their own fingerprints (:data:`PYPY_FINGERPRINTS`); RLP and keccak are fixed by their
specifications, so the encodings and digests are the same whichever release computes them."""

PINNED_VERSIONS: dict[str, str] = PYPY_VERSIONS if ON_PYPY else CPYTHON_VERSIONS
"""The library versions every change below was written against, on this interpreter (distribution name: version)."""

PYPY_FINGERPRINTS: dict[str, str] = {
    # eth-hash 0.7.1: the same attributes (hasher, preimage) as 0.8.0; only the type checks' wording differs
    "eth_hash.main:Keccak256.__call__": "f530c5700c4b5a00fed96c0e0d7cbe28adaeef11d53d7141ee6ef42c1dc76851",
    "eth_hash.main:Keccak256.new": "7f56c97404ed63a22164681178302cd0e45d5323fbe8d2e8b224062f7160f05b",
}
"""Where a replaced function's source differs in the PyPy stack's releases (path: sha256 there)."""

KECCAK_BACKEND = "pycryptodome" if ON_PYPY else "pysha3"
"""eth-hash backend the node hashes with (``ETH_HASH_BACKEND`` in the environment wins). safe-pysha3 is a
CPython extension; on PyPy pycryptodome's cffi build is the fast one."""


def remedy(package: str) -> str:
    """What to do when ``package`` is not what the node's changes were written against."""
    return (
        f"The node replaces some internals of {package} (node/evm_patches.py) and will not run them against code "
        f"they were not written for. Install {package}=={PINNED_VERSIONS[package]} (pip install "
        f"'{package}=={PINNED_VERSIONS[package]}'), or, when upgrading on purpose, re-check each change listed in "
        "node/evm_patches.py against the new code and update PINNED_VERSIONS and the fingerprints "
        "(python -m node.evm_patches prints the current ones)."
    )


class PatchTargetChanged(RuntimeError):
    """An installed library is not the version, or not the code, the node's changes were written against."""


@dataclass(frozen=True)
class Original:
    """A library function a change stands in for, and the sha256 of its source when the change was written."""

    package: str  # distribution name, as in PINNED_VERSIONS
    path: str  # "module:Class.attribute", as the function is found today
    sha256: str

    @property
    def expected(self) -> str:
        """The fingerprint on this interpreter's stack (:data:`PYPY_FINGERPRINTS` on PyPy)."""
        return PYPY_FINGERPRINTS.get(self.path, self.sha256) if ON_PYPY else self.sha256

    def resolve(self) -> Callable[..., Any]:
        module_name, _, attributes = self.path.partition(":")
        target: Any = importlib.import_module(module_name)
        for attribute in attributes.split("."):
            target = getattr(target, attribute)
        return inspect.unwrap(target)  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return self.path.replace(":", ".")


@dataclass(frozen=True)
class Change:
    """One change to a library's internals: where it lives, what it does, why, and what it stands in for."""

    name: str
    where: str  # "node classes" (evm_speedups.py, by subclassing) or "process-wide" (applied by install)
    what: str
    why: str
    originals: tuple[Original, ...]


def fingerprint(function: Callable[..., Any]) -> str:
    """sha256 of a function's source: stable across Python versions, changes with any edit of the code."""
    return hashlib.sha256(textwrap.dedent(inspect.getsource(function)).encode()).hexdigest()


_INLINED_OPCODE_LOGIC: dict[str, str] = {
    "eth.vm.logic.stack:push_XX": "c5728997298cad50a63f8852821c3292b24d96c70bd01f41c2d797ab85ac8235",
    "eth.vm.logic.stack:push0": "36e0be2dcc68260f879b103a26dbc01eab6bcaf83844f2ebe6b4967f04a02ecd",
    "eth.vm.logic.stack:pop": "e7824deb555b5e4042a077ab38070086471bb538ca98a7c5c6dbbbd032d61b5b",
    "eth.vm.stack:Stack.push_int": "521967e0ba527de11f7570500dd1c91d6bbeccc881879b8295ef865ec4112a2a",
    "eth.vm.stack:Stack.push_bytes": "0652f438f022a963d96e24701b9c3e0c5990664e4f7baa39fef6335ac110daca",
    "eth.vm.stack:Stack.pop1_any": "16a76884ff5add7726a9c835c651274b7a5dc769bec37ddb03b765309a5181c3",
    "eth.vm.stack:Stack.pop_ints": "06b1b70cdbecb63b7e29d0ec2566a941b68e7583064501ac871ea34a6817be87",
    "eth.vm.stack:Stack.dup": "06254da488482a2558d98eec15e27d1475fb181a99000fe6cbeba71672bb4511",
    "eth.vm.stack:Stack.swap": "97292b196045565d15f90dc8b3f9973f508a712de88b7e6d40f6f3ab0521bbc0",
    "eth.vm.stack:to_int": "601803a4d1d1cb60456649d0d64bc43a04e62829201431075d10f52c2baab1d3",
    "eth.vm.stack:to_bytes": "b3ef78c682e03f1eb81328e3bcd04a5d9becb55a1e71daaf6c7df78b2780a702",
    "eth.vm.logic.flow:jump": "e485eaf21a89997c576fae30c3b1420b563b3ddd37b530c48ca6605a85626ca2",
    "eth.vm.logic.flow:jumpi": "9d327be693b81546d1bf8a548df76b566a7721936ca122809e919d5820a02c73",
    "eth.vm.logic.flow:jumpdest": "ff5fba369ec92e8075667009f80e50e66622091d02808149ca8b322a8540074a",
    "eth.vm.logic.arithmetic:add": "6dae97c9e21b2908fcffb3034360697c17b0e1140c4f32fafbdd2c1efdf44ed1",
    "eth.vm.logic.arithmetic:sub": "393381378771ee00fcd22d80e88904f244aa86aed3f51343075abc496f5ab333",
    "eth.vm.logic.arithmetic:mul": "78ee111b98757e93b0215d4abab8f70166b4eafb2193014149acf02ae5daa9d5",
    "eth.vm.logic.arithmetic:div": "8eaae7dae3e31eab8a8dff680555fdaa1ff7cd4d5f998b0590467f1c262dcf4b",
    "eth.vm.logic.arithmetic:shl": "c5033adc4618c6b46566a7924d579817536d5852f6c41091da66e0dd89376fd2",
    "eth.vm.logic.arithmetic:shr": "393b861d0c24b8e5a182146c6278b3eb229eb52f2bd8f848b03aedfff3d6e9b1",
    "eth.vm.logic.comparison:lt": "2deeb6801fc1b1c97ff5935ba092248eef7d820312cb79df3c8b4bdb0d7ec50c",
    "eth.vm.logic.comparison:gt": "9e1f4a5263d11ccbaaa5668eb445cdc98d4a6a2bb32debe1d8d9dd26cb9c3171",
    "eth.vm.logic.comparison:eq": "0dc0c34bea5f70f6c969499c19a6b13d1421dc76682f8c9a562f11bd450bf31a",
    "eth.vm.logic.comparison:iszero": "8e6befd39d40b88e1fbbe58249b605302695b84591c82866fc1600b76d68b696",
    "eth.vm.logic.comparison:and_op": "7bebc3d311c09a9e56e0907fec389d76a2fdcd0cd57be2c95b01bcf7de780a94",
    "eth.vm.logic.comparison:or_op": "d37809e5b7850370621bfd6e80cbca56aa2edfcd2f77153866cae927cdd82bd9",
    "eth.vm.logic.comparison:not_op": "4e70c2b4b54e56e9f135480554275f82dc053fe8fbee1e044196b06355709be4",
    "eth.vm.logic.context:calldataload": "509ad499491021893658f3a3d6d9047ca8f04ad0be22d27009a3e220c8ec5161",
    "eth.vm.logic.comparison:slt": "a5efd2312122314728a5f2250e8b96f8aaec003e3c5019f60190864adcbbebfe",
    "eth.vm.logic.comparison:sgt": "904044b9c18150f9d2012e6dfda2ccf31482b55203eabcc60b51d1d93b0f5d1f",
    "eth.vm.message:Message.data_as_bytes.fget": "40e26c08dc328e01119762a564aed0472e378d9648da31b17ffd7c15d125339c",
    "eth._utils.numeric:unsigned_to_signed": "02873a56d70e7fa43946c7f01d8617cc5068d009e7d6a2377bde69e3f76547a4",
    "eth._utils.numeric:signed_to_unsigned": "e06191a23c14b237b17eebd52adf0507f490548a2fff4c4e0d9eab6ee7d02729",
    "eth.vm.logic.memory:mstore": "48141b996f20ebe0b5085048c652ae48d208fe66bcbb41a9619e6a0edc83f00e",
    "eth.vm.logic.memory:mload": "aac2f52fcf9eca42c85c02e4446bc97fc4bb9aaf9b6a8e37a74c90975934d477",
    "eth.vm.computation:BaseComputation.extend_memory": (
        "5908d9c26e1d9e5c727ef1b4a384cdfa7cb0069645f61256be0a8c5f5060d754"
    ),
    "eth.vm.memory:Memory.write": "f8bd5237b9d714af4ddc89dc47c518d50e38ed9a784c31215083946f2f05ff7a",
    "eth.vm.memory:Memory.read_bytes": "ab70d61124479803d0023d43693964c0b14634ca633c589462b5fe7ff09aa824",
    "eth.vm.memory:Memory.extend": "90b4d822463fd3c2b162e2517ba1e08fbf1449fe35a7f6a326aca05e057c4ab4",
    "eth.vm.logic.stack:push1": "82377d6db7622d670de059955b7cd2e0465905091f161b0b87ccd48b5de69ac6",
    "eth.vm.logic.stack:push2": "24533ca60dcb15a57b296c000261e5e9582a41b167e9f953273fc381b370d7bc",
    "eth.vm.logic.stack:push3": "f45db6f5dccfa02f3d9219cef431ae5dc28c637f87620e834af0ce535a55373a",
    "eth.vm.logic.stack:push4": "d569bf4615852bfa91e45731a9eac201caf7f19b14f689445add92f4dcbca828",
    "eth.vm.logic.stack:push5": "bed3c294cc99b0d255c49f98d980f8cefa4497c8238f50a110500395a52b9d43",
    "eth.vm.logic.stack:push6": "39fc378ac685648b1d9d00e19bd5dea4dfd03959a956ef603b1b9b12960a64fc",
    "eth.vm.logic.stack:push7": "b1605769d50f4b7a773f1e6bd0d59f6a70ae6ebcc3033edd0c55b2c616293a4f",
    "eth.vm.logic.stack:push8": "74b477a377bd8d6067b374b6480deb1e7836660f58834db33755993d778fc061",
    "eth.vm.logic.stack:push9": "3d85be32b9c5c2ef2d9d1f36a5ab383653cba52456e8d8f4dbc4efc87dd4df09",
    "eth.vm.logic.stack:push10": "44d8d0d6ab7eff52274b4f6f425b2995d376ae3cb933eb2ef15b64626c8dfc3d",
    "eth.vm.logic.stack:push11": "78015cdff993e9f1e7a096967893800e8360ee75b7eca77d7c32a4ec5b289ec7",
    "eth.vm.logic.stack:push12": "aa71ad4d141fcc238af2038971e380ae5f00054d64f1b4d6d443cbb90e49b42e",
    "eth.vm.logic.stack:push13": "9317e6f253782b2d3d3feb09823c24328d30ccef738c30d3196740a25ba2e3b2",
    "eth.vm.logic.stack:push14": "c70b8e3377969ffe61d8885b7eb75e5358db8c61bfe5a1fe7a7c3aa9082227cb",
    "eth.vm.logic.stack:push15": "579724807d7777477ac0e3a6dad97cc826c182324688fda03095a90827b7f28b",
    "eth.vm.logic.stack:push16": "eda7d6398011e3b1e61aee7ee581868dc89ab8fdef04726c02055c2e4423b252",
    "eth.vm.logic.stack:push17": "543703367d5923919dd5010e6b8e2b2ae9369fffe2c6d92bff5c533293dee73a",
    "eth.vm.logic.stack:push18": "0ba5dd02b81f1bec6f9aadf8a32b8e0c39b4a3de85257092134e0ddefdbd93ad",
    "eth.vm.logic.stack:push19": "157e47b5a4160cda031368a70fd6a0be26eec277dfc4d3f9501346876bd41fbf",
    "eth.vm.logic.stack:push20": "69f439d2791ca1fe65a54e00930878a6fec4181797c2c6e1e872c1638318cc40",
    "eth.vm.logic.stack:push21": "f675120a0732430cca70851e5bedf6c2014e59dd1fcb7f58f0d352acd258e8c7",
    "eth.vm.logic.stack:push22": "28c80644ae934f66d9dcdbea7671e92f22c8b06a2a79235e8cba5855f0c27aba",
    "eth.vm.logic.stack:push23": "6c46182f13939f20715161c164ffbf7391b2107a298b1ad42de0b886f79d1282",
    "eth.vm.logic.stack:push24": "c3777b2013ba5b2246a64aad7899c6ff28554863bb651a05c400bbac9ca90968",
    "eth.vm.logic.stack:push25": "b21fa59e230c9a31d1dbfff9d02dd0f2ccc0f3518a46358d0962999848b76ade",
    "eth.vm.logic.stack:push26": "2c220606a7794b98c9e5163812b7cc3517c58dfba2bf418b592507a3d8b2d757",
    "eth.vm.logic.stack:push27": "04556083a1f5bccfe8966520d69f489b863b0663eaa53c51c5f1dfa44c9aa6a1",
    "eth.vm.logic.stack:push28": "ecae36213f23b0dff12c02108f24d9d55c875fb0503eca2a4a0aa9625c71b631",
    "eth.vm.logic.stack:push29": "bd995b64c209fa06480f254139ce420f81758814d7cb03ecf275ee34c1f1950e",
    "eth.vm.logic.stack:push30": "47537bfdd521c9a6217d25bee3a42e68240e934c66d3aa28cc89a9f862c96d26",
    "eth.vm.logic.stack:push31": "45e1e6ceff235e439c9d9645b54348b60fa84d7961599f5508d579395a595681",
    "eth.vm.logic.stack:push32": "404cad0c6aa21ee7195368d3da9aad1f4a084772fc863c644e5e1ff17d70e4cd",
    "eth.vm.logic.duplication:dup1": "03d4a9b2c38ede86dcc3c1b8761396ed3dbc75dd3c29196995cd813bbf1691af",
    "eth.vm.logic.duplication:dup2": "3e3e1e166cd80d15200214f1e28ca108a99d8e41b2dd910e3e19051f285b0e30",
    "eth.vm.logic.duplication:dup3": "705feba8f2257fbe77f357d5569d0e0ab0dcbae5d8ff4a20579735e9dba592fb",
    "eth.vm.logic.duplication:dup4": "c1da6078743fe0e43192c40d258e190f99d092ca2f9f4feb32344069556b7f7b",
    "eth.vm.logic.duplication:dup5": "d08da303e7dbec31db3b1e2c8311fa9d106975a0c85e2a80b0e7fdcda69286c3",
    "eth.vm.logic.duplication:dup6": "2365dfbab2f7a406eeea5690af01572fff31e06a6c027b5d944baaad3921a3b6",
    "eth.vm.logic.duplication:dup7": "a747206efb10280a786856598af6b8b5337c517bb6c904a3f9f3757138892a3f",
    "eth.vm.logic.duplication:dup8": "b5673e98725a09cf24ccef2e9446772c7d7d1408f8db49d6626fe7edeab17944",
    "eth.vm.logic.duplication:dup9": "1bddee7f5d9262d0f82e3a3cb4229be95780f4bed6841d8879e09f2f1c1ff864",
    "eth.vm.logic.duplication:dup10": "cb4d26fae71018335fcee06b908a3739396a4dcc317f71b6454f3584eaadde25",
    "eth.vm.logic.duplication:dup11": "0b638654ae9ea59657319c33d20dfd3ae1d3d5748d3641aa9b1201f4ba67bd29",
    "eth.vm.logic.duplication:dup12": "5199c82b3556cd586dd2892fce0a2a20914b7c21dc162b65fdd8703a18b033fb",
    "eth.vm.logic.duplication:dup13": "38dc179116124aa3914de5ab1e72cacbf6fdb0463510e2b90da0c66492844c0c",
    "eth.vm.logic.duplication:dup14": "b125624781b3ce5eea97f9d4af2dcdb008392a116081ea262523aa69230d8da6",
    "eth.vm.logic.duplication:dup15": "a5031cf7174902b557e1c05432330814d14a354b0ce2b91f2a7d3f7aa290581e",
    "eth.vm.logic.duplication:dup16": "6cb734767c8372d68dc11161dce12ae583f93dbd452d8e63d8cb5137ba6ea7a1",
    "eth.vm.logic.swap:swap1": "f4475c700e304f4a1414e0b222bfc699a14c09180630f9f66e11495525b204bd",
    "eth.vm.logic.swap:swap2": "24c490b72093217872829dfafea789673aaa12d3b92dffc95c7acc8c348eb82b",
    "eth.vm.logic.swap:swap3": "089536e65e6d45375d5e2629648ad795f4b2d407bcd11d6e3d9d50af1fa9d0b0",
    "eth.vm.logic.swap:swap4": "29e9f15f853f1ad4a94a96cba3740149cf48afdd715ab16eefa42394a6eead43",
    "eth.vm.logic.swap:swap5": "5db8876c2806176c123e346de5273572449db991399727941045c2d674d515e5",
    "eth.vm.logic.swap:swap6": "86acb1376cd4a07030f6b07cafe41e3c5c5a5e4d361b246427613a05a25e5db7",
    "eth.vm.logic.swap:swap7": "a8d67df02c150ec2312c9c8fde544f83a08695d1338510948c26a4a47a540a65",
    "eth.vm.logic.swap:swap8": "4b71115255e6d76d18c4e287bb6a8c7bd56bbf24a72d58b1692c4358448ae636",
    "eth.vm.logic.swap:swap9": "dbd5ed8b53796c7058229e6f4d85fc66da5aad6f1bdf4a38f4b41081442d40ea",
    "eth.vm.logic.swap:swap10": "8df1d90f6abbfc621f8da80897963fbfed29d9a7b90c8280215c040866f34178",
    "eth.vm.logic.swap:swap11": "eedb6f93945eb824511b34b118e6ea71571d6fa94430012c9f66472aefb64291",
    "eth.vm.logic.swap:swap12": "5707cb318853a18d0e3e47b85eb1d7e2eb7f2ef794be1ccab725aedf13f29b70",
    "eth.vm.logic.swap:swap13": "5d00fd70f2186eb8114a02494939d7efafd137552b7a648c3bb5c578bb27ffe2",
    "eth.vm.logic.swap:swap14": "fc5a97a6d35e795bfaf0c1592ef5b643fbc5449aad07238408fdbc4417fb3bbd",
    "eth.vm.logic.swap:swap15": "31e1373118f340440774709838767d857a4d8804c3578a93d684722324c75a3b",
    "eth.vm.logic.swap:swap16": "602f02972651350473fe2ebdd296ea6cc80babf71a25d2cf0702f9cc597b6fd0",
}
"""py-evm functions whose effect the interpreter loop reproduces for the opcodes it runs itself (sha256 of each)."""


CHANGES: tuple[Change, ...] = (
    Change(
        name="one-pass trie roots",
        where="node classes: evm_speedups.OrderedTrieRootsMixin in TakasagoVM",
        what="set_block_transactions_and_withdrawals builds transaction/receipt roots bottom-up in one pass",
        why="py-evm inserts one key at a time into a HexaryTrie, ~1/3 ms per transaction; the roots and "
        "nodes are byte-identical (ordered_trie.py, tests/test_ordered_trie.py)",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague:PragueVM.set_block_transactions_and_withdrawals",
                "aaa180fbf74c24cf90c7b6ee6c212f1a4da02fcadb02edeed8a0e3d43c7aab9d",
            ),
            Original(
                "py-evm",
                "eth.db.trie:make_trie_root_and_nodes",
                "8efef213793673e7bc8ea933cdd6bae3b98288a478451d85e4a6e16a1e4743e5",
            ),
            Original(
                "py-evm",
                "eth.db.trie:_make_trie_root_and_nodes",
                "87562a2f669f0a727a56e6baaa96d340f6a83ddea0b427ef1a06bf3089215077",
            ),
        ),
    ),
    Change(
        name="cached jump analysis",
        where="node classes: evm_speedups.AnalysedJumpsMixin in TakasagoComputation",
        what="JUMP/JUMPI destinations checked against a per-code bitmap of instruction starts",
        why="py-evm searches the 32 bytes before every jump destination for PUSH data; geth's code bitmap "
        "answers the same question with one forward pass per distinct code",
        originals=(
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.is_valid_opcode",
                "63dc73e80787d07e2e7b12c50de3c2e5696b4afe8b4e3152e8024380e87ea616",
            ),
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.__init__",
                "1a775e8a972f82101ed4bc9d6292029ceb586465ec9297aa83cba3a495bb5a85",
            ),
            Original(
                "py-evm",
                "eth.vm.forks.prague.computation:PragueComputation.__init__",
                "9dbbbaab1665d3b7d674d2d0bcd134de75025db5761d8f8366a1a65ed1382fbf",
            ),
        ),
    ),
    Change(
        name="lean interpreter loop",
        where="node classes: evm_speedups.LeanInterpreterMixin in TakasagoComputation",
        what="apply_computation reads opcodes from the code bytes and charges constant gas inline",
        why="two Python call layers per instruction (CodeStream iterator, _FastOpcode.__call__ -> "
        "consume_gas) and a debug-logging check dominate simple opcodes",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague.computation:PragueComputation.apply_computation",
                "4645a2de61ddb37820c169445ea0c91935e3bc44c74b75091a52cb67d9042471",
            ),
            Original(
                "py-evm",
                "eth.vm.code_stream:CodeStream.__iter__",
                "2802bd4ac30864f942e4ac5e6d0c50cc75febfd4f04496231f73aadbea922839",
            ),
            Original(
                "py-evm",
                "eth.vm.opcode:_FastOpcode.__call__",
                "3b56e4feeac865fa5e30f5258d2ee43ddd007189788519dc19f0c9ef05dbfa74",
            ),
            Original(
                "py-evm",
                "eth.vm.computation:BaseComputation.consume_gas",
                "ba8281107cd076332a2fc1e880567d52a0822471f745cc26fd9fa35fc7f7c3df",
            ),
            Original(
                "py-evm",
                "eth.vm.gas_meter:GasMeter.consume_gas",
                "251db89822497b13eb431eb3f4ef571308cfb9578d6ae9519234674adbc59b3a",
            ),
        ),
    ),
    Change(
        name="inlined common opcodes",
        where="node classes: evm_speedups.LeanInterpreterMixin in TakasagoComputation",
        what="PUSHn, DUPn, SWAPn, POP, JUMPDEST, JUMP, JUMPI, ADD, SUB, MUL, DIV, AND, OR, LT, GT, SLT, SGT, EQ, "
        "ISZERO, NOT, SHL, SHR, CALLDATALOAD, and MSTORE/MLOAD within existing memory, run by the loop on the "
        "stack's list; py-evm's logic function whenever one would fail (underflow, overflow, bad jump) or "
        "memory must grow",
        why="each of these goes through 4-6 Python calls in py-evm (logic function, computation proxy, Stack "
        "method, to_int, validation); they are ~85% of the instructions of a Solidity contract, and the bulk "
        "mint's 40,000 first-time grants were bound by the node's execution (docs/benchmarks.md)",
        originals=tuple(Original("py-evm", path, sha256) for path, sha256 in _INLINED_OPCODE_LOGIC.items()),
    ),
    Change(
        name="quiet message builder",
        where="node classes: evm_speedups.QuietMessageBuilderMixin in TakasagoTransactionExecutor",
        what="build_evm_message without its debug line (and refusing blob transactions)",
        why="py-evm formats repr(transaction), the contract code in hex and a keccak of the calldata for "
        "every transaction before the logger drops the line",
        originals=(
            Original(
                "py-evm",
                "eth.vm.forks.prague.state:PragueTransactionExecutor.build_evm_message",
                "0a3e38aac2aaffa92f9c8e77f9ef0fb4dd2e49f8e3a22921b45595fb34cf080f",
            ),
        ),
    ),
    Change(
        name="sharing rlp copy",
        where="process-wide: copy of PragueBlock, PragueBlockHeader and Account (install)",
        what="copy(**changes) shares the unchanged fields instead of deep-copying them",
        why="rlp objects are immutable, but pyrlp's copy deep-copies every unchanged field: each of the "
        "block.copy(header=...) calls py-evm makes while finishing a block re-created all its transactions, "
        "and every balance or nonce change deep-copies the account",
        originals=(
            Original(
                "rlp",
                "rlp.sedes.serializable:BaseSerializable.copy",
                "5d61cc7f0439239dfb04399ed27e0551476acfd89b4ca5a4c9b09a063d265e7d",
            ),
        ),
    ),
    Change(
        name="decoded trie node cache",
        where="process-wide: trie.hexary.HexaryTrie.get_node (install)",
        what="a trie node fetched by its hash is decoded once and kept (up to TRIE_NODE_CACHE_LIMIT nodes); "
        "each caller gets its own copy of the decoded lists",
        why="every storage read that misses py-evm's caches walks the trie from the root, reading and "
        "RLP-decoding (in Python) each node on the way: a fifth of an eth_call over thousands of accounts and "
        "a tenth of a bulk mint's block building; a node's hash fixes its content, so the decoding can be kept",
        originals=(
            Original(
                "trie",
                "trie.hexary:HexaryTrie.get_node",
                "ddd7fab7286b10c0627b2335e0b6121e38f25bdde0f292e12803c447935863ff",
            ),
            Original(
                "trie",
                "trie.utils.nodes:decode_node",
                "195c6dd0ec84d8eabfedfec3972423ddb839566a75002478e7861b0a393f3cf2",
            ),
        ),
    ),
    Change(
        name="keccak backend",
        where="process-wide: eth_hash.auto.keccak (install; ETH_HASH_BACKEND for child processes)",
        what=f"keccak256 by eth-hash's {KECCAK_BACKEND!r} backend, whatever was picked at the first hash",
        why="eth-hash picks pycryptodome when both are installed, ~3x slower per hash, and trie hashing is "
        "a large share of block building; the digests are the same",
        originals=(
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.__init__",
                "2779e33533ca2ed8bf38c7d96ac5e439d86e0c154aa272c88b74729f130351e8",
            ),
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.__call__",
                "a7f53a17fd92eba24d0df0a744df13a08aed51f2afea5221b8bd63241593c1c2",
            ),
            Original(
                "eth-hash",
                "eth_hash.main:Keccak256.new",
                "ceb5021508f2ae930c7b41c3e3ef54a1a0c0ebffb9785a5df3601cb4c78183a9",
            ),
        ),
    ),
)

SHARING_COPY_CLASSES: tuple[type[Any], ...] = (PragueBlock, PragueBlockHeader, Account)
"""The rlp classes whose ``copy`` shares unchanged fields: the ones the node copies (measured: block
assembly copies blocks and headers, every balance or nonce change copies the account)."""

TRIE_NODE_CACHE_LIMIT = 20_000
"""Decoded trie nodes kept (~1.5 KB each): the upper levels of every trie the node reads often."""

_ORIGINAL_GET_NODE = _trie_hexary.HexaryTrie.get_node
_decoded_nodes: dict[bytes, Any] = {}


def _copy_node(node: list[Any]) -> list[Any]:
    """A decoded node is a list of bytes and embedded (short) nodes; the trie edits the lists in place."""
    return [item if type(item) is bytes else _copy_node(item) for item in node]


def _get_node_decoding_once(self: Any, node_hash: Any) -> Any:
    """``HexaryTrie.get_node`` (trie 3.1.0) with each node hash decoded once: the same node, a fresh copy."""
    if node_hash == BLANK_NODE:
        return BLANK_NODE
    elif node_hash == BLANK_NODE_HASH:
        return BLANK_NODE
    if len(node_hash) < 32:
        return decode_node(node_hash)
    node = _decoded_nodes.get(node_hash)
    if node is None:
        node = decode_node(self.db[node_hash])
        if len(_decoded_nodes) >= TRIE_NODE_CACHE_LIMIT:
            _decoded_nodes.clear()
        _decoded_nodes[node_hash] = node
    return _copy_node(node) if type(node) is list else node


_get_node_decoding_once.__wrapped__ = _ORIGINAL_GET_NODE  # type: ignore[attr-defined]  # verify() checks the original


_ORIGINAL_COPY = _rlp_serializable.BaseSerializable.copy
_install_lock = threading.Lock()
_installed = False


def _copy_sharing_unchanged_fields(self: Any, *args: Any, **kwargs: Any) -> Any:
    """rlp objects are immutable (lists become tuples), so unchanged fields can be shared.

    Positional arguments (which py-evm never passes) fall back to pyrlp's own ``copy``.
    """
    if args:
        return _ORIGINAL_COPY(self, *args, **kwargs)
    # as many values as fields (an rlp object); no strict=: the execution worker may run on Python 3.9
    values = dict(zip(self._meta.field_names, self))  # noqa: B905
    values.update(kwargs)
    return type(self)(**values)


def installed_version(package: str) -> str:
    return importlib.metadata.version(package)


def verify() -> None:
    """Raise :class:`PatchTargetChanged` unless every library and function is the one the changes expect."""
    for package, expected in PINNED_VERSIONS.items():
        try:
            found = installed_version(package)
        except importlib.metadata.PackageNotFoundError:
            found = "not installed"
        if found != expected:
            raise PatchTargetChanged(
                f"{package} {found} is installed, but the node's changes to it were written against "
                f"{package} {expected}. {remedy(package)}"
            )
    for change in CHANGES:
        for original in change.originals:
            try:
                actual = fingerprint(original.resolve())
            except (ImportError, AttributeError, OSError, TypeError) as exc:
                raise PatchTargetChanged(
                    f"{original.name} ({original.package} {PINNED_VERSIONS[original.package]}), which the node's "
                    f"change {change.name!r} stands in for, cannot be found or read: {exc}. {remedy(original.package)}"
                ) from None
            if actual != original.expected:
                raise PatchTargetChanged(
                    f"{original.name} is not the code the node's change {change.name!r} was written against "
                    f"(source sha256 {actual[:16]}…, expected {original.expected[:16]}…): {original.package} was "
                    f"modified or replaced. {remedy(original.package)}"
                )
    get_node = _trie_hexary.HexaryTrie.__dict__.get("get_node")
    if get_node is not _ORIGINAL_GET_NODE and get_node is not _get_node_decoding_once:
        raise PatchTargetChanged(
            "trie.hexary.HexaryTrie.get_node was replaced by other code; the node's change 'decoded trie node "
            f"cache' would replace it. {remedy('trie')}"
        )
    for cls in SHARING_COPY_CLASSES:
        own = cls.__dict__.get("copy")
        if own is not None and own is not _copy_sharing_unchanged_fields:
            raise PatchTargetChanged(
                f"{cls.__module__}.{cls.__qualname__} now defines its own copy(); the node's change "
                f"'sharing rlp copy' would replace it. {remedy('py-evm')}"
            )


def install() -> None:
    """Check the libraries (:func:`verify`), then apply the process-wide changes once.

    Verifies on every call (cheap) and patches only on the first; raises
    :class:`PatchTargetChanged` before changing anything when a check fails.
    """
    global _installed
    verify()
    with _install_lock:
        if _installed:
            return
        for cls in SHARING_COPY_CLASSES:
            cls.copy = _copy_sharing_unchanged_fields  # type: ignore[method-assign]
        _trie_hexary.HexaryTrie.get_node = _get_node_decoding_once  # type: ignore[method-assign]
        _use_keccak_backend(os.environ.get("ETH_HASH_BACKEND") or KECCAK_BACKEND)
        _installed = True


def is_installed() -> bool:
    return _installed


def _use_keccak_backend(name: str) -> None:
    """Hash with eth-hash's ``name`` backend from now on, in this process and in processes it starts.

    ``eth_hash.auto.keccak`` picks its backend at the first hash (possibly already done by
    an import); replacing its two bound functions switches it for every caller, since all
    of py-evm, trie and eth-utils call that one object. Child processes (the admission
    workers) inherit ``ETH_HASH_BACKEND`` and pick the same backend at their first hash.
    """
    from eth_hash.auto import keccak
    from eth_hash.utils import load_environment_backend

    backend = load_environment_backend(name)
    keccak.hasher = backend.keccak256  # type: ignore[method-assign]
    keccak.preimage = backend.preimage  # type: ignore[method-assign]
    os.environ.setdefault("ETH_HASH_BACKEND", name)


def _print_fingerprints() -> None:
    for package in PINNED_VERSIONS:
        print(f"{package}: installed {installed_version(package)}, pinned {PINNED_VERSIONS[package]}")
    for change in CHANGES:
        print(f"{change.name}:")
        for original in change.originals:
            print(f"    {original.path}  {fingerprint(original.resolve())}")


if __name__ == "__main__":
    _print_fingerprints()
