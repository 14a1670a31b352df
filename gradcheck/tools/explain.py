"""Why a claimed adjoint is wrong: the first wrong one, going backward, explained where
one forgotten branch, one recognisable slip (transposed, scaled, a local derivative left
out) or one wrong local derivative accounts for it."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from gradcheck.engine.graph import Program
from gradcheck.engine.ops import OPS
from gradcheck.judge.mistakes import Agree, diagnose, dropped_adjoints
from gradcheck.results import ExpectResult

#: With up to this many uses, a claimed adjoint is tried against each subset of the
#: contributions (the hand computation that forgot one branch).
BRANCHES_TRIED = 4


@dataclass
class Explainer:
    """What explaining a wrong adjoint needs: the graph, its values and true adjoints,
    each node's name and operation as the trace shows them."""

    program: Program
    values: list[np.ndarray]
    adjoints: list[np.ndarray | None]
    names: list[str]
    operations: list[str]  # each node's operation in its inputs' names: "sin(t1)"
    wrt: list[str]
    agree: Agree
    right: set[str]  # the nodes whose claimed adjoint holds

    def explain(self, i: int, judged: ExpectResult) -> str:
        """Why the claimed adjoint of node ``i`` (judged wrong) is wrong, in a sentence."""
        name = self.names[i]
        uses = self._uses(i)
        return (
            self._forgotten_branch(judged.claimed, uses, name)
            or self._recognised(i, judged.claimed, judged.true)
            or self._implied_local(uses, i, judged)
            or f"d f/d {name} is the first claimed adjoint, going backward, that is "
            "wrong; the claims before it hold, so look between them and this node"
        )

    def _uses(self, i: int) -> list[tuple[int, int, np.ndarray]]:
        """(user, argument position, what it passes back) for each use of node ``i``."""
        return [
            (m, k, np.array(self.program.passed(m, k, self.adjoints[m], self.values)[0]))
            for m in range(i + 1, len(self.program.nodes))
            if self.adjoints[m] is not None
            for k, j in enumerate(self.program.args[m])
            if j == i
        ]

    def _forgotten_branch(self, claimed, uses, name: str) -> str | None:
        """A node used more than once collects every use's contribution; a claim that
        holds only some of them forgot a branch."""
        if not 2 <= len(uses) <= BRANCHES_TRIED:
            return None
        for size in range(1, len(uses)):
            for subset in combinations(uses, size):
                partial = sum(passed for _, _, passed in subset)
                if np.all(self.agree(claimed, np.broadcast_to(partial, claimed.shape))):
                    missing = [u for u in uses if all(u is not v for v in subset)]
                    return (
                        f"it holds only what {self._passers(subset)} passes back; {name} "
                        f"is used {len(uses)} times, and its adjoint is the sum of what "
                        f"every use passes back, so what {self._passers(missing)} passes "
                        "back is missing"
                    )
        return None

    def _passers(self, uses) -> str:
        """``t1 = sin(u) (0.96017)``: the users named, with what each passes back."""
        return _listed(
            f"{self.names[m]} = {self.operations[m]} ({_short(passed)})" for m, _, passed in uses
        )

    def _recognised(self, i: int, claimed, truth) -> str | None:
        """Transposed, scaled by a simple factor, or a local derivative left out."""
        alternatives = (
            (left_out, np.broadcast_to(adjoint[0], truth.shape))
            for left_out, adjoint in dropped_adjoints(self.program, self.values, self.wrt, i)
        )
        return diagnose(claimed, truth, self.agree, alternatives)

    def _implied_local(self, uses, i: int, judged: ExpectResult) -> str | None:
        """With one use by an element-wise node: the local derivative the claim needs,
        next to the true one, at the first wrong entry."""
        if len(uses) != 1:
            return None
        m, k, _ = uses[0]
        user = self.program.nodes[m]
        if not OPS[user.op].elementwise or user.shape != self.program.nodes[i].shape:
            return None
        wrong = judged.wrong[0]
        index = tuple(wrong["index"])
        upstream = float(np.broadcast_to(self.adjoints[m][0], user.shape)[index])
        if upstream == 0:
            return None
        local = float(self.program.entrywise_local(m, k, self.values)[0][index])
        entry = f"[{', '.join(map(str, index))}]" if index else ""
        name, user_name = self.names[i], self.names[m]
        return (
            f"{user_name} = {self.operations[m]} passes back "
            f"d f/d {user_name}{entry} × d {user_name}/d {name}{entry} = "
            f"{upstream:.6g} × {local:.6g} = {upstream * local:.6g}; the claimed "
            f"{wrong['claimed']:.6g} needs d {user_name}/d {name}{entry} = "
            f"{wrong['claimed'] / upstream:.6g}, so the local derivative of "
            f"{user_name} is where it goes wrong"
            + (
                f" (d f/d {user_name} holds as claimed)"
                if user_name in self.right
                else f" (if d f/d {user_name} is right)"
            )
        )


def _listed(names) -> str:
    """``t3``, ``t3 and t5``, ``t3, t5 and t7``: each name once, in order."""
    unique = list(dict.fromkeys(names))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]


def _short(value: np.ndarray) -> str:
    """A number or small array in six digits, for a sentence."""
    value = np.asarray(value, dtype=float)
    if value.size > 8:
        return f"an array of shape {value.shape}"
    if value.ndim == 0:
        return f"{float(value):.6g}"
    return "[" + ", ".join(_short(v) for v in value) + "]"
