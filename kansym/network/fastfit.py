"""The LBFGS training stage of a pykan MultKAN with a faster evaluation of the same network.

pykan's ``MultKAN.fit`` spends almost all of its time in loss evaluations (about 20 per LBFGS step
with the strong-Wolfe line search), and most of each evaluation in the recursive B-spline basis and
autograd's pass back through that recursion. :func:`fit_stage` trains the same parameters with the
same optimiser, loss, sparsity penalty and grid-update schedule, but evaluates the network with

- the B-spline basis of each layer computed in one pass over precomputed knot spacings, with its
  derivative (from the order k-1 basis) supplied analytically to autograd instead of recorded op by op;
- the first layer's basis and SiLU of the (fixed) training inputs computed once per grid update;
- no copies of activations that only pykan's plotting reads.

The function computed is pykan's, to rounding (tested: outputs, gradients and penalty agree to
~1e-15 relative); the bits differ, so training runs land on networks that differ from pykan's own
``fit`` by training noise. The full batch is used in row order (pykan permutes it each step).
Networks that use features this path does not implement (symbolic edges, multiplication nodes, a base
function other than SiLU) are reported by :func:`unsupported` and trained by pykan's ``fit``.
"""

from __future__ import annotations

import functools

import numpy as np


def unsupported(model) -> str | None:
    """Why :func:`fit_stage` cannot train ``model`` (None: it can)."""
    import torch

    if any(float(torch.sum(torch.abs(s.mask))) != 0 for s in model.symbolic_fun):
        return "symbolic edges are active"
    if any(w[1] for w in model.width[1:]):
        return "the network has multiplication nodes"
    if any(not isinstance(layer.base_fun, torch.nn.SiLU) for layer in model.act_fun):
        return "a base function other than SiLU"
    return None


def _knots(grid, k: int):
    """Per recursion order p = 1..k: left knots, 1/(t_{i+p} - t_i), right knots, 1/(t_{i+p+1} - t_{i+1});
    a zero spacing (repeated knot) gets a zero reciprocal, as pykan's NaN-to-zero gives."""
    import torch

    levels = []
    for p in range(1, k + 1):
        d_left = grid[:, p:-1] - grid[:, :-(p + 1)]
        d_right = grid[:, p + 1:] - grid[:, 1:-p]
        r_left = torch.where(d_left > 0, 1.0 / torch.where(d_left > 0, d_left, 1.0), 0.0)
        r_right = torch.where(d_right > 0, 1.0 / torch.where(d_right > 0, d_right, 1.0), 0.0)
        levels.append((grid[None, :, :-(p + 1)], r_left[None], grid[None, :, p + 1:], r_right[None]))
    return grid, levels


def _basis(x, knots, derivative: bool):
    """B-spline basis (batch, in, G+k) of x (batch, in) by the Cox-de Boor recursion, and its x-derivative."""
    grid, levels = knots
    x = x.unsqueeze(2)
    b = ((x >= grid[None, :, :-1]) & (x < grid[None, :, 1:])).to(x.dtype)
    db = None
    for p, (left, r_left, right, r_right) in enumerate(levels, start=1):
        if derivative and p == len(levels):
            db = p * (b[:, :, :-1] * r_left - b[:, :, 1:] * r_right)
        b = (x - left) * r_left * b[:, :, :-1] + (right - x) * r_right * b[:, :, 1:]
    return b, db


@functools.cache
def _basis_function():
    """The autograd Function class, made once (torch is imported on first use)."""
    import torch

    class Basis(torch.autograd.Function):
        """The basis as one autograd node: d(basis)/dx from the forward pass, no recorded recursion."""

        @staticmethod
        def forward(ctx, x, knots):
            b, db = _basis(x, knots, derivative=x.requires_grad)
            ctx.save_for_backward(db)
            return b

        @staticmethod
        def backward(ctx, grad_b):
            (db,) = ctx.saved_tensors
            return (grad_b * db).sum(-1), None

    return Basis


class FastForward:
    """Evaluates ``model`` (a MultKAN that :func:`unsupported` accepts) on fixed inputs.

    The first layer's basis and base function depend only on the inputs and the grid, so they are
    kept per input tensor until :meth:`grid_changed`.
    """

    def __init__(self, model):
        self.model = model
        self._first: dict[int, tuple] = {}
        self._knots: dict[int, tuple] = {}
        self._basis = _basis_function()

    def grid_changed(self) -> None:
        self._first.clear()
        self._knots.clear()

    def _layer_knots(self, l: int):
        if l not in self._knots:
            layer = self.model.act_fun[l]
            self._knots[l] = _knots(layer.grid, layer.k)
        return self._knots[l]

    def __call__(self, x, with_reg: bool = False):
        """Output (batch, 1) and, with ``with_reg``, per layer pykan's 'edge_forward_spline_n' scales
        std(edge output) / (std(edge input) + 0.1), shape (out, in)."""
        import torch

        m = self.model
        if id(x) not in self._first:  # the entry holds x, so its id stays unique while cached
            first = x[:, m.input_id.long()]
            knots = self._layer_knots(0)
            self._first[id(x)] = (x, first, torch.nn.functional.silu(first), _basis(first, knots, False)[0])
        _, x, base, b = self._first[id(x)]
        scales = []
        for l, layer in enumerate(m.act_fun):
            if l > 0:
                base = torch.nn.functional.silu(x)
                b = self._basis.apply(x, self._layer_knots(l))
            spline = torch.einsum("ijk,jlk->ijl", b, layer.coef)
            edges = layer.mask[None] * (layer.scale_base[None] * base[:, :, None] + layer.scale_sp[None] * spline)
            if with_reg:
                scales.append(torch.std(edges, dim=0).T / (torch.std(x, dim=0)[None, :] + 0.1))
            x = edges.sum(dim=1)
            x = m.subnode_scale[l][None, :] * x + m.subnode_bias[l][None, :]
            x = m.node_scale[l][None, :] * x + m.node_bias[l][None, :]
        return x, scales


def sparsity(scales, lamb_l1: float, lamb_entropy: float):
    """pykan's regularisation 'edge_forward_spline_n': L1 of the edge scales plus row and column entropies."""
    import torch

    reg = 0.0
    for vec in scales:
        p_row = vec / (torch.sum(vec, dim=1, keepdim=True) + 1)
        p_col = vec / (torch.sum(vec, dim=0, keepdim=True) + 1)
        entropy_row = -torch.mean(torch.sum(p_row * torch.log2(p_row + 1e-4), dim=1))
        entropy_col = -torch.mean(torch.sum(p_col * torch.log2(p_col + 1e-4), dim=0))
        reg = reg + lamb_l1 * torch.sum(vec) + lamb_entropy * (entropy_row + entropy_col)
    return reg


def fit_stage(model, data: dict, steps: int, lamb: float, lamb_l1: float, lamb_entropy: float,
              update_grid: bool, stop_grid_update_step: int, grid_update_num: int) -> dict:
    """Train ``model`` in place for ``steps`` LBFGS steps on the full batch, as ``MultKAN.fit(opt='LBFGS')``
    with these settings does; return {'train_loss', 'test_loss'} (RMSE per step, scaled units).

    Loss: mean squared error (weighted by ``data['train_weight']`` when present) plus ``lamb`` times :func:`sparsity` (computed only when ``lamb > 0``).
    The grid is refitted to the training inputs every ``stop_grid_update_step // grid_update_num``
    steps before ``stop_grid_update_step`` (pykan's schedule).
    """
    import torch
    from kan.LBFGS import LBFGS

    x_train, y_train = data["train_input"], data["train_label"]
    w_train = data.get("train_weight")  # per-row weights (mean 1) of the squared errors, or None
    x_test, y_test = data["test_input"], data["test_label"]
    evaluate = FastForward(model)
    symbolic = {id(p) for s in model.symbolic_fun for p in s.parameters()}  # outside the loss: no gradient
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in symbolic]
    optimizer = LBFGS(params, lr=1.0, history_size=10, line_search_fn="strong_wolfe", tolerance_grad=1e-32,
                      tolerance_change=1e-32, tolerance_ys=1e-32)
    update_every = max(1, int(stop_grid_update_step / max(grid_update_num, 1)))
    last = {}

    def closure():
        optimizer.zero_grad()
        pred, scales = evaluate(x_train, with_reg=lamb > 0)
        loss = torch.mean((pred - y_train) ** 2) if w_train is None else torch.mean(w_train * (pred - y_train) ** 2)
        objective = loss + lamb * sparsity(scales, lamb_l1, lamb_entropy) if lamb > 0 else loss
        objective.backward()
        last["loss"] = loss.detach()
        return objective

    train_loss, test_loss = [], []
    # no symbolic branch (as MultKAN.fit) and no saved activations (the penalty is computed here) in the
    # forward passes of the grid updates; both restored afterwards
    state = model.save_act, model.symbolic_enabled
    model.save_act, model.symbolic_enabled = False, False
    try:
        for step in range(steps):
            if update_grid and step % update_every == 0 and step < stop_grid_update_step:
                model.update_grid(x_train)
                evaluate.grid_changed()
            optimizer.step(closure)
            with torch.no_grad():
                test = torch.mean((evaluate(x_test)[0] - y_test) ** 2)
            train_loss.append(float(torch.sqrt(last["loss"])))
            test_loss.append(float(torch.sqrt(test)))
    finally:
        model.save_act, model.symbolic_enabled = state
    return {"train_loss": np.asarray(train_loss), "test_loss": np.asarray(test_loss)}
