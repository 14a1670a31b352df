"""Seed 004's network, as the students wrote it: layer classes with forward and backward.

COMPSCI 371, homework 8: ``AffineLayer``, ``ReLULayer``, ``QuadraticLoss``, ``HingeLoss``
and ``MLP`` below are the students' code, kept as written (the Jacobians built whole,
then contracted with ``dot``). gradcheck calls functions, so the classes are wrapped in
functions at the end of the file; the wrappers are new, the classes are not.

What gradcheck finds (``make demo`` runs these):

- ``net_loss`` (quadratic loss, seed network 0) and ``net_hinge_loss`` (hinge loss with
  an integer label, seed network 2): **right**. Every gradient matches differences.
- ``net_loss_scalar_output`` (seed network 1: ``V2`` a vector and ``b2`` a number, so
  the output is one number): the values are **right but the shapes are not**. The
  students' ``AffineLayer.backward`` builds ``jv = eye(n)[:, :, newaxis] * x`` with
  ``n = 1``, so the gradient for ``V2`` (shape ``(2,)``) comes back as shape
  ``(1, 1, 2)`` and the one for ``b2`` (shape ``()``) as ``(1, 1)``: the seed's own
  printout shows ``gv2: [[[-0. -2.]]]``. gradcheck names both shapes.
- ``affine_forward``/``affine_backward`` and ``relu_forward``/``relu_backward``: one layer
  at a time, CS231n style, checked as vector-Jacobian products: **right**.

    gradcheck func examples/network.py:net_loss --at "V1=[[2,-1],[0,3],[2,1]]" \\
        --at "b1=[2,-1,3]" --at "V2=[[2,1,-3],[3,-1,2]]" --at "b2=[4,2]" \\
        --at "x=[-1,2]" --at "y=[-4,1]"
"""

import numpy as np


def dot(a, b):
    return a * b if np.isscalar(a) or np.isscalar(b) else np.einsum("...i,i...", a, b)


class Layer:
    def __init__(self):
        self.x = None

    def forward(self, x):
        pass

    def backward(self, g):
        pass

    def training(self):
        self.keep = True

    def inference(self):
        self.keep = False


class AffineLayer(Layer):
    def __init__(self, v, b, name):
        self.v = v
        self.b = b
        self.name = name

    def forward(self, x):
        if self.keep:
            self.x = x

        y = (self.v @ x) + self.b
        return y

    def backward(self, g):
        n = 1 if len(self.b.shape) == 0 else self.b.shape[0]
        jv = np.eye(n)[:, :, np.newaxis] * self.x
        jb = np.eye(n)
        jx = self.v
        self.jacobian = [jv, jb, jx]

        gv = dot(g, jv)
        gb = dot(g, jb)
        gx = dot(g, jx)
        self.gradient = [gv, gb, gx]

        return gx


class ReLULayer(Layer):
    def __init__(self, name):
        self.name = name

    def forward(self, x):
        if self.keep:
            self.x = x

        y = np.maximum(0, x)
        return y

    def backward(self, g):
        n = 1 if len(self.x.shape) == 0 else self.x.shape[0]
        jx = np.eye(n) * (self.x > 0).astype(float)
        self.jacobian = [jx]

        gx = dot(g, jx)
        self.gradient = [gx]

        return gx


class QuadraticLoss:
    def forward(self, z, y):
        l = np.sum((z - y) ** 2) / 2  # noqa: E741  (the students' name)
        return l

    def backward(self, z, y):
        gz = z - y
        return gz


class HingeLoss:
    def forward(self, z, y):
        l = np.log(np.sum(np.e**z)) - z[y]  # noqa: E741
        return l

    def backward(self, z, y):
        z_ast = np.zeros(z.shape[0])
        z_ast[y] = 1
        gz = (np.e**z) / np.sum(np.e**z) - z_ast
        return gz


class MLP:
    def __init__(self, layers, loss, decision):
        self.decision = decision
        self.layers = layers
        self.loss = loss
        self.z = None
        self.l = None
        self.gz = None

    def inference(self):
        self.keep = False
        for layer in self.layers:
            layer.inference()

    def training(self):
        self.keep = True
        for layer in self.layers:
            layer.training()

    def forward(self, x, y=None):
        if y is None:
            self.inference()
        else:
            self.training()

        for layer in self.layers:
            x = layer.forward(x)
        z = x

        if y is None:
            return self.decision(z)
        else:
            self.z = z
            self.l = self.loss.forward(z, y)
            return self.l

    def backward(self, y):
        g = self.loss.backward(self.z, y)
        self.gz = g

        for layer in reversed(self.layers):
            g = layer.backward(g)


# -- wrappers for gradcheck (new): the classes above, called as functions ------------------


def _trained(V1, b1, V2, b2, x, y, loss):
    """The students' run_test: build the network, one forward and one backward pass."""
    layers = [AffineLayer(V1, b1, "Affine Layer 1"), ReLULayer("ReLU"), AffineLayer(V2, b2, "2")]
    mlp = MLP(layers, loss, decision=np.argmax)
    value = mlp.forward(x, y)
    mlp.backward(y)
    first, _, second = layers
    grads = {
        "V1": first.gradient[0],
        "b1": first.gradient[1],
        "V2": second.gradient[0],
        "b2": second.gradient[1],
        "x": first.gradient[2],
    }
    return value, grads


def net_loss(V1, b1, V2, b2, x, y):
    """Seed network 0: quadratic loss against a target vector y. Right."""
    return _trained(V1, b1, V2, b2, x, y, QuadraticLoss())


def net_hinge_loss(V1, b1, V2, b2, x, y):
    """Seed network 2: the hinge (softmax cross-entropy) loss of an integer label y. Right."""
    return _trained(V1, b1, V2, b2, x, y, HingeLoss())


def net_loss_scalar_output(V1, b1, V2, b2, x, y):
    """Seed network 1: one output. Right values, wrong shapes for V2 and b2 (see above)."""
    return _trained(V1, b1, V2, b2, x, y, QuadraticLoss())


def affine_forward(x, V, b):
    """One AffineLayer's forward; the layer itself is the cache."""
    layer = AffineLayer(V, b, "affine")
    layer.training()
    return layer.forward(x), layer


def affine_backward(dout, layer):
    """The layer's gradients, for the inputs of affine_forward: x, V, b. Right."""
    gx = layer.backward(dout)
    gv, gb, _ = layer.gradient
    return gx, gv, gb


def relu_forward(x):
    layer = ReLULayer("relu")
    layer.training()
    return layer.forward(x), layer


def relu_backward(dout, layer):
    """Right away from 0; at an entry exactly 0 gradcheck reports a kink."""
    return layer.backward(dout)
