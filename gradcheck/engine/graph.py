"""The graph lowering: a flat program of array operations, run forward and in reverse.

The typed expression tree becomes a tuple of nodes in topological order (each ``let``
shared, never copied). ``forward`` keeps every intermediate; ``backward`` walks the
nodes in reverse and accumulates each node's adjoint through the VJP table in
``ops.py``: backprop, as the seeds do it by hand. Every value carries a leading batch
axis, so one pass evaluates many points (or many perturbed copies of one point).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np

from gradcheck.engine import batched as bt
from gradcheck.engine.ops import OPS, DomainError
from gradcheck.errors import ValueProblem
from gradcheck.source.language import Node, describe_shape


class Program:
    """An expression lowered to array operations, ready to run forward and in reverse."""

    def __init__(self, root: Node) -> None:
        self.nodes: tuple[Node, ...] = tuple(_topological(root))
        position = {id(node): i for i, node in enumerate(self.nodes)}
        self.args: tuple[tuple[int, ...], ...] = tuple(
            tuple(position[id(arg)] for arg in node.args) for node in self.nodes
        )
        self.output = len(self.nodes) - 1
        self.inputs: dict[str, int] = {
            node.name: i for i, node in enumerate(self.nodes) if node.op == "input"
        }
        self.shapes: dict[str, tuple[int, ...]] = {
            name: self.nodes[i].shape for name, i in self.inputs.items()
        }
        self._needs: dict[frozenset[str], list[bool]] = {}

    @property
    def root(self) -> Node:
        return self.nodes[self.output]

    # ------------------------------------------------------------ forward

    def forward(
        self, inputs: Mapping[str, np.ndarray], dtype: type = np.float64
    ) -> list[np.ndarray]:
        """Every node's value, each of shape ``(B, *node.shape)``, in ``dtype``.

        ``inputs`` maps each input name to an array of shape ``(B, *shape)`` (``B`` may be
        1 for an input shared by every point).

        Raises:
            ValueProblem: an operation with no value at the point, naming the node.
        """
        values: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for node, args in zip(self.nodes, self.args):
                values.append(self._evaluate(node, [values[j] for j in args], inputs, dtype))
        return values

    def _evaluate(self, node: Node, args: list[np.ndarray], inputs, dtype) -> np.ndarray:
        if node.op == "input":
            value = np.asarray(inputs[node.name], dtype=dtype)
            if value.shape[1:] != node.shape:
                raise ValueProblem(
                    f"{node.name} has {describe_shape(value.shape[1:])}, "
                    f"expected {describe_shape(node.shape)}"
                )
            return value
        if node.op == "const":
            return node.value.astype(dtype)[None]
        op = OPS[node.op]
        if op.elementwise:
            args = [align(a, arg.shape, node.shape) for a, arg in zip(args, node.args)]
        try:
            return op.forward(*args, **node.kwargs)
        except DomainError as exc:
            raise ValueProblem(f"{describe(node)}: {exc}") from None

    def value(self, inputs: Mapping[str, np.ndarray], dtype: type = np.float64) -> np.ndarray:
        """The output at each point, shape ``(B,)``."""
        return self.forward(inputs, dtype)[self.output]

    # ------------------------------------------------------------ reverse

    def backward(
        self,
        values: list[np.ndarray],
        wrt: Iterable[str],
        dropped: int | None = None,
        seed: np.ndarray | None = None,
    ) -> list[np.ndarray | None]:
        """Every node's adjoint (d output / d node) by reverse accumulation.

        ``seed`` is the output's own adjoint, ``(B, *output shape)``: ones by default (the
        gradient of a scalar), one-hot rows for a Jacobian, any ``dout`` for a
        vector-Jacobian product. Nodes that do not lead to an input in ``wrt`` get
        ``None``; so do constants.
        ``dropped`` names a node whose local derivative is left out (its adjoint passes
        through unchanged): the chain rule as a hand derivation that forgot one factor.
        """
        needs = self.leads_to(frozenset(wrt))
        adjoints: list[np.ndarray | None] = [None] * len(self.nodes)
        adjoints[self.output] = np.ones_like(values[self.output]) if seed is None else seed
        with np.errstate(all="ignore"):
            for i in range(self.output, -1, -1):
                g, node = adjoints[i], self.nodes[i]
                if g is None or node.op in ("input", "const"):
                    continue
                self._propagate(node, i, g, values, adjoints, needs, i == dropped)
        return adjoints

    def _propagate(self, node, i, g, values, adjoints, needs, dropped=False) -> None:
        """Pass the adjoint ``g`` of node ``i`` to each argument: g times local derivative."""
        args = self._arguments(i, values)
        for k, j in enumerate(self.args[i]):
            if not needs[j]:
                continue
            contribution = self._passed(i, k, g, values[i], args, dropped)
            # += through fan-out: a node used twice collects both contributions.
            adjoints[j] = contribution if adjoints[j] is None else adjoints[j] + contribution

    def passed(self, i: int, k: int, g: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
        """What node ``i`` passes back to its argument ``k`` when its adjoint is ``g``:
        g times the local derivative, shaped ``(B, *argument shape)``."""
        with np.errstate(all="ignore"):
            return self._passed(i, k, g, values[i], self._arguments(i, values))

    def entrywise_local(self, i: int, k: int, values: list[np.ndarray]) -> np.ndarray:
        """An element-wise node's local derivative with respect to argument ``k``, entry by
        entry (the diagonal of its Jacobian), shaped ``(B, *node shape)``."""
        node = self.nodes[i]
        seed = np.ones((1, *node.shape))
        with np.errstate(all="ignore"):
            local = OPS[node.op].vjps[k](
                seed, values[i], *self._arguments(i, values), **node.kwargs
            )
        return np.broadcast_to(local, (values[i].shape[0], *node.shape))

    def _arguments(self, i: int, values: list[np.ndarray]) -> list[np.ndarray]:
        """Node ``i``'s argument values, lined up for broadcasting if it is element-wise."""
        node = self.nodes[i]
        args = [values[j] for j in self.args[i]]
        if OPS[node.op].elementwise:
            args = [align(a, arg.shape, node.shape) for a, arg in zip(args, node.args)]
        return args

    def _passed(self, i, k, g, out, args, dropped=False) -> np.ndarray:
        node = self.nodes[i]
        op = OPS[node.op]
        if dropped:
            contribution = _pass_through(node, g, args[k])
        else:
            contribution = op.vjps[k](g, out, *args, **node.kwargs)
        if op.elementwise:
            contribution = unbroadcast(contribution, node.args[k].shape)
        return contribution

    def leads_to(self, wrt: frozenset[str]) -> list[bool]:
        """Which nodes lead to an input in ``wrt`` (only they need adjoints); memoised."""
        if wrt in self._needs:
            return self._needs[wrt]
        needs = [False] * len(self.nodes)
        for i, node in enumerate(self.nodes):
            needs[i] = (node.op == "input" and node.name in wrt) or any(
                needs[j] for j in self.args[i]
            )
        self._needs[wrt] = needs
        return needs

    def gradient(
        self, inputs: Mapping[str, np.ndarray], wrt: Iterable[str], dtype: type = np.float64
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The value ``(B,)`` and, for each name in ``wrt``, its gradient ``(B, *shape)``."""
        wrt = list(wrt)
        values = self.forward(inputs, dtype)
        adjoints = self.backward(values, wrt)
        batch = values[self.output].shape[0]
        grads = {}
        for name in wrt:
            i = self.inputs[name]
            adjoint = adjoints[i] if adjoints[i] is not None else np.zeros((1, *self.shapes[name]))
            grads[name] = np.broadcast_to(adjoint, (batch, *self.shapes[name])).copy()
        return values[self.output], grads

    # ------------------------------------------------------------ inspection

    def droppable(self, wrt: Iterable[str]) -> list[int]:
        """Nodes whose local derivative a hand derivation might leave out (sigmoid's, the
        square's, softmax's ...), among those the gradient of ``wrt`` flows through."""
        needs = self.leads_to(frozenset(wrt))
        return [i for i, node in enumerate(self.nodes) if needs[i] and node.op in DROPPABLE]

    def depending_on(self, name: str) -> list[bool]:
        """Per node, whether its value depends on the input ``name``."""
        depends: list[bool] = []
        for i, node in enumerate(self.nodes):
            depends.append(
                (node.op == "input" and node.name == name) or any(depends[j] for j in self.args[i])
            )
        return depends

    def not_analytic(self, name: str) -> list[int]:
        """Nodes on the way from ``name`` to the output that complex step cannot pass
        (relu, abs, max ...: not analytic; erf: no complex implementation here)."""
        depends = self.depending_on(name)
        return [
            i
            for i, node in enumerate(self.nodes)
            if depends[i] and node.op not in ("input", "const") and not OPS[node.op].complex_safe
        ]

    def nonsmooth(self) -> list[int]:
        """Positions of the nodes whose derivative jumps somewhere (relu, abs, max ...)."""
        return [
            i
            for i, node in enumerate(self.nodes)
            if node.op not in ("input", "const") and OPS[node.op].switch is not None
        ]

    def branches(self, values: list[np.ndarray]) -> dict[int, np.ndarray]:
        """For each non-smooth node, the side of its switching surface each entry is on.

        Two evaluations on the same sides of every surface are on one smooth piece of the
        function; a change of side between ``x - h`` and ``x + h`` is a kink in the step.
        """
        sides = {}
        with np.errstate(all="ignore"):
            for i in self.nonsmooth():
                node = self.nodes[i]
                args = [values[j] for j in self.args[i]]
                if OPS[node.op].elementwise:
                    args = [align(a, arg.shape, node.shape) for a, arg in zip(args, node.args)]
                sides[i] = OPS[node.op].sides(*args, **node.kwargs)
        return sides

    def depends_on(self, i: int, names) -> bool:
        """Whether node ``i`` depends on any of the inputs ``names``."""
        names = set(names)
        stack, seen = [i], set()
        while stack:
            j = stack.pop()
            if j in seen:
                continue
            seen.add(j)
            if self.nodes[j].op == "input" and self.nodes[j].name in names:
                return True
            stack.extend(self.args[j])
        return False

    def switch_distances(self, values: list[np.ndarray]) -> dict[int, float]:
        """For each non-smooth node, how far its nearest entry is from its switch (at the
        first point of the batch): 0 where the point is exactly on a kink."""
        distances = {}
        with np.errstate(all="ignore"):
            for i in self.nonsmooth():
                node = self.nodes[i]
                args = [values[j][:1] for j in self.args[i]]
                if OPS[node.op].elementwise:
                    args = [align(a, arg.shape, node.shape) for a, arg in zip(args, node.args)]
                distances[i] = float(np.min(np.abs(OPS[node.op].switch(*args, **node.kwargs))))
        return distances

    def first_crossed(self, values: list[np.ndarray], before: dict[int, np.ndarray]) -> np.ndarray:
        """Per batch row, the first non-smooth node on another side of its switch than in
        ``before`` (the point's ``branches``); -1 where there is none."""
        rows = values[self.output].shape[0]
        crossed = np.full(rows, -1)
        for i, sides in self.branches(values).items():
            crossed = np.where((crossed < 0) & sides_changed(sides, before[i], rows), i, crossed)
        return crossed

    def first_nonfinite(self, values: list[np.ndarray]) -> int | None:
        """The first node, in evaluation order, whose value is not finite anywhere."""
        for i, value in enumerate(values):
            if not np.all(np.isfinite(value)):
                return i
        return None

    def fingerprint(self) -> str:
        """A digest of the program's structure, shapes and constants (for caching)."""
        digest = hashlib.sha256()
        for node, args in zip(self.nodes, self.args):
            digest.update(
                repr(
                    (node.op, args, node.shape, node.name if node.op == "input" else None)
                    + ((node.params,) if node.params else ())
                ).encode()
            )
            if node.op == "const":
                digest.update(np.ascontiguousarray(node.value, dtype=float).tobytes())
        return digest.hexdigest()


#: Operations whose local derivative is a factor a hand derivation can forget.
DROPPABLE = frozenset(
    [n for n, op in OPS.items() if op.elementwise and op.arity == (1, 1)]
    + ["pow", "softmax", "log_softmax", "logsumexp", "norm"]
) - {"neg", "sign", "heaviside"}  # a sign flip is no factor; a derivative of 0 is no slip


def _pass_through(node: Node, g: np.ndarray, arg: np.ndarray) -> np.ndarray:
    """The upstream gradient, as is, shaped like the argument (a dropped local derivative)."""
    if g.shape[1:] == arg.shape[1:]:
        return g
    if "keepdims" in node.kwargs:  # a reduction along axes: each output to its entries
        return bt.spread(g, arg, node.kwargs["axis"], node.kwargs["keepdims"])
    if g.ndim == 1 and arg.ndim > 1:
        return np.broadcast_to(
            g.reshape(g.shape + (1,) * (arg.ndim - 1)), g.shape[:1] + arg.shape[1:]
        )
    return g


def sides_changed(sides: np.ndarray, before: np.ndarray, rows: int) -> np.ndarray:
    """Per row, whether any entry is on another side of its switch than before.

    At a switch the point's side is 0, so any move off it counts as a change.
    """
    differs = np.broadcast_to(sides != before, (rows, *sides.shape[1:]))
    return np.any(differs.reshape(rows, -1), axis=1)


def describe(node: Node) -> str:
    """``'log(x - 2)' (column 1)``, ``q = 'relu(p)' (line 4, column 6)``: a node as the
    user wrote it, and where."""
    if node.term is None:
        return node.label
    source = node.term.source
    text = repr(node.term.text.strip())
    if node.name and node.op != "input" and node.name != node.term.text.strip():
        text = f"{node.name} = {text}"
    column = node.term.start + 1 + source.column_offset
    if source.line is not None:
        place = f"line {source.line}, column {column}"
    elif source.where == "expression":
        place = f"column {column}"
    else:
        place = f"{source.where}, column {column}"
    return f"{text} ({place})"


def _topological(root: Node) -> list[Node]:
    """Post-order depth-first: arguments before users, in argument order (reproducible)."""
    order: list[Node] = []
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((arg, False) for arg in reversed(node.args) if id(arg) not in done)
    return order


def align(value: np.ndarray, shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    """Insert length-1 axes after the batch axis so NumPy broadcasting lines entries up."""
    missing = len(out_shape) - len(shape)
    if missing == 0:
        return value
    return value.reshape((value.shape[0],) + (1,) * missing + shape)


def unbroadcast(contribution: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast contribution back to an argument's shape (the batch axis is kept)."""
    contribution = np.asarray(contribution)
    if not np.issubdtype(contribution.dtype, np.inexact):  # keep extended precision
        contribution = contribution.astype(float)
    if contribution.shape[1:] == shape:
        return contribution
    extra = contribution.ndim - 1 - len(shape)
    if extra > 0:
        contribution = contribution.sum(axis=tuple(range(1, 1 + extra)))
    stretched = tuple(
        1 + axis
        for axis, length in enumerate(shape)
        if length == 1 and contribution.shape[1 + axis] != 1
    )
    if stretched:
        contribution = contribution.sum(axis=stretched, keepdims=True)
    return np.broadcast_to(contribution, contribution.shape[:1] + shape)
