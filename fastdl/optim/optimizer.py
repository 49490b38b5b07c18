"""``fastdl.optim.Optimizer``: the base of every optimizer (param groups, state, state_dict).

A step is one fused C++ call per parameter group (``fastdl._C.optim_step``): it reads every
parameter, gradient and state buffer of the group once and writes parameter and state once,
on all cores. Subclasses only say which algorithm they are, which state they keep, how their
hyperparameters are checked and how a group's options map onto the kernel's arguments.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..tensor import Tensor, _cl_only, _nhwc, _to_cl

__all__ = ["Optimizer"]

_FLOAT = (np.dtype(np.float32), np.dtype(np.float64))


class _Required:
    """Marker for a hyperparameter without default (as ``torch.optim.optimizer.required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


def _layout(a):
    """The memory layout the fused step reads ``a`` in: "C" (C-contiguous), "CL" (a 4-D
    channels-last array, read as its NHWC view) or None (neither: the checked slow path)."""
    if a.flags.c_contiguous:
        return "C"
    return "CL" if _cl_only(a) else None


def _in_layout(a, layout):
    """The C-contiguous array of ``a``'s values in memory order ``layout`` (a view when ``a``
    is laid out so, else a copy): parameter, gradient and state buffers of one parameter
    must pair element by element in memory."""
    if layout == "CL":
        return _nhwc(_to_cl(a))
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _zeros(shape, dtype, value=0.0):
    """A state buffer from the caching allocator, filled with ``value``."""
    a = _C.empty(tuple(shape), np.dtype(dtype))
    a.fill(value)
    return a


def _scalar(v=0.0):
    """A 0-d float64 array: the kernel updates step counts and products in place."""
    return np.array(float(v), dtype=np.float64)


class Optimizer:
    """Base class of the optimizers.

    ``params`` is an iterable of Tensors or of dicts (param groups: ``{'params': [...],
    'lr': ...}``, options not given taken from ``defaults``). A parameter may appear only once
    across all groups (ValueError otherwise). Parameters whose ``.grad`` is None are skipped
    by ``step()`` (their state, including the step count, does not advance).

    Differences from PyTorch: ``state_dict()`` returns copies of the state arrays (so a saved
    dict is not changed by later steps); step counts are 0-d float64 arrays; ``foreach`` and
    ``fused`` are accepted and ignored (every step is fused).

    Example::

        opt = fastdl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    """

    # Subclasses set these.
    _algo = None         # kernel name for _C.optim_step
    _stepped = True      # keeps a per-parameter 'step' count

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        self._cache = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for g in param_groups:
            self.add_param_group(g)

    # ---- subclass hooks ---------------------------------------------------------------------
    def _check_group(self, group):
        """Raise ValueError for invalid hyperparameters of ``group``."""

    def _slots(self, group):
        """State names for the kernel's three state slots (None: slot unused)."""
        return (None, None, None)

    def _init_value(self, group, name):
        """Initial value of state buffer ``name``."""
        return 0.0

    def _kernel_args(self, group):
        """Keyword arguments of ``_C.optim_step`` for ``group``."""
        raise NotImplementedError

    def _init_extra(self, group, st):
        """Initialise per-parameter scalars besides 'step' (NAdam's mu_product)."""

    # ---- groups -------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (missing ones from ``defaults``).

        Example: ``opt.add_param_group({'params': head.parameters(), 'lr': 1e-2})``
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("param_group has no 'params'")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params "
                                f"is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if p._array.dtype not in _FLOAT:
                raise TypeError(f"optimizer can only optimize float32/float64 Tensors, got "
                                f"{p._array.dtype} (shape {p.shape})")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters "
                             "(each parameter may be given only once)")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        group["params"] = params
        self._check_group(group)
        self.param_groups.append(group)
        self._cache = {}

    # ---- gradients ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters: to None (default) or to zeros in place.

        Example: ``opt.zero_grad()``
        """
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad._array.flags.writeable:
                    p.grad._array.fill(0)
                else:
                    p.grad = Tensor._make(np.zeros_like(p.grad._array))

    # ---- the step -------------------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a gradient; one kernel call per group.

        ``closure`` (optional) re-evaluates the model and returns the loss, which ``step``
        returns. Example: ``opt.step()``
        """
        loss = None
        if closure is not None:
            from ..autograd import enable_grad
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _state_of(self, p, group, slots):
        """The state dict of ``p``, created (and missing buffers added) as needed; returns
        (state, created) where created flags a new SGD momentum buffer."""
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
            if self._stepped:
                st["step"] = _scalar(0.0)
            self._init_extra(group, st)
        created = False
        cl = _layout(p._array) == "CL"
        for name in slots:
            if name is None:
                continue
            if name not in st:
                st[name] = _zeros(p._array.shape, p._array.dtype, self._init_value(group, name))
                created = True
            if cl != (_layout(st[name]) == "CL"):  # state follows its parameter's layout
                st[name] = _to_cl(st[name]) if cl else np.ascontiguousarray(st[name])
        return st, created

    def _build(self, group, act, slots):
        """State lists for the active parameters ``act`` (cached between steps)."""
        states = [[] if s is not None else None for s in slots]
        steps = [] if self._stepped else None
        mus = [] if self._algo == "nadam" else None
        first = []
        for p in act:
            st, created = self._state_of(p, group, slots)
            lay = _layout(p._array)
            for k, name in enumerate(slots):
                if name is not None:
                    states[k].append(_in_layout(st[name], lay))
            if steps is not None:
                steps.append(st["step"])
            if mus is not None:
                mus.append(st["mu_product"])
            first.append(created)
        return states, steps, mus, (first if any(first) else None)

    def _step_group(self, group):
        params = group["params"]
        act = [p for p in params if p.grad is not None]
        if not act:
            return
        if len(act) == len(params):
            act = params
        grads = [p.grad for p in act]
        slots = self._slots(group)
        lays = tuple(_layout(p._array) for p in act)
        key = (id(group), slots, tuple(map(id, act)), lays)
        entry = self._cache.get(key)
        first = None
        if entry is None:
            states, steps, mus, first = self._build(group, act, slots)
            entry = self._cache[key] = (states, steps, mus)
        states, steps, mus = entry
        kw = self._kernel_args(group)
        if "CL" in lays:  # the kernel reads every buffer of a channels-last one as NHWC
            pdata = [_in_layout(p._array, la) if la == "CL" else p._array
                     for p, la in zip(act, lays)]
            gdata = [_in_layout(g._array, la) if la == "CL" else g._array
                     for g, la in zip(grads, lays)]
        else:
            pdata = [p._array for p in act]
            gdata = [g._array for g in grads]
        try:
            try:
                _C.optim_step(self._algo, pdata, gdata, states, steps, mus, first, **kw)
            except (TypeError, ValueError):
                # Nothing was changed (the binding checks everything first): retry with
                # contiguous gradients, one call per dtype, so the error (if any) is precise.
                self._step_slow(group, act, slots, kw, first)
        except Exception:
            # Forget state created for this failed step (an SGD buffer must start from its
            # first gradient).
            self._cache.pop(key, None)
            if first is not None:
                for p, f in zip(act, first):
                    if f:
                        self.state[p].pop(slots[0], None)
            raise
        for p in act:
            p._vc[0] += 1

    def _step_slow(self, group, act, slots, kw, first):
        for p in act:
            if not (p._array.flags.c_contiguous and p._array.flags.writeable):
                raise ValueError(f"{type(self).__name__}.step: parameter of shape {p.shape} "
                                 "must be a writeable C-contiguous array")
            if p.grad.shape != p.shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of shape "
                                 f"{p.grad.shape} does not match its parameter of shape "
                                 f"{p.shape}")
        by_dtype = {}
        for i, p in enumerate(act):
            by_dtype.setdefault(p._array.dtype, []).append(i)
        for dt, idx in by_dtype.items():
            sub = [act[i] for i in idx]
            states, steps, mus, _ = self._build(group, sub, slots)
            f = None if first is None else [first[i] for i in idx]
            gdata = [np.ascontiguousarray(p.grad._array, dtype=dt) for p in sub]
            _C.optim_step(self._algo, [p._array for p in sub], gdata, states, steps, mus, f,
                          **kw)

    # ---- saving and loading -----------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index]}]}``
        with parameters numbered in group order, as PyTorch's; arrays are copies.

        Example: ``sd = opt.state_dict(); opt2.load_state_dict(sd)``
        """
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            ids = []
            for p in g["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state.get(p)
                if st is not None:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore options and state saved by ``state_dict()`` (same group structure);
        floating state is cast to its parameter's dtype. Continuing after a load gives the
        same parameters, bit for bit, as continuing the saved optimizer.

        Example: ``opt.load_state_dict(torch_like_or_fastdl_state_dict)``
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(self.param_groups, groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = {}
        for g, sg in zip(self.param_groups, groups):
            for p, i in zip(g["params"], sg["params"]):
                id_map[i] = p
        new_state = {}
        for i, st in state_dict["state"].items():
            i = int(i)
            if i not in id_map:
                continue
            p = id_map[i]
            out = {}
            for k, v in st.items():
                if k in ("step", "mu_product"):
                    out[k] = _scalar(float(np.asarray(v)))
                elif v is None:
                    continue
                else:
                    a = np.asarray(v)
                    if a.shape != p._array.shape:
                        raise ValueError(f"load_state_dict: state '{k}' of parameter {i} has "
                                         f"shape {a.shape}, the parameter {p._array.shape}")
                    buf = _C.empty(p._array.shape, p._array.dtype)
                    np.copyto(buf, a, casting="unsafe")
                    out[k] = buf
            new_state[p] = out
        self.state = new_state
        for g, sg in zip(self.param_groups, groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = v
        self._cache = {}

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._cache = {}

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, g in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for k in sorted(g):
                if k != "params":
                    s += f"\n    {k}: {g[k]}"
        return s + "\n)"
