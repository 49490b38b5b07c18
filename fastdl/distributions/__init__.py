"""fastdl.distributions: probability distributions with ``torch.distributions``' API.

Every distribution has ``batch_shape`` and ``event_shape``, ``sample(sample_shape)``,
``log_prob(value)``, ``entropy()``, ``mean``, ``mode``, ``stddev``, ``variance``,
``expand(batch_shape)``; those with ``has_rsample`` also ``rsample`` (reparameterised: the
sample is a differentiable function of the parameters, so gradients reach them). Parameters
are validated against their constraints unless ``validate_args=False`` (torch's errors).
``kl_divergence(p, q)`` knows the pairs registered with ``register_kl``.

Example::

    from fastdl.distributions import Normal, kl_divergence
    q = Normal(mu, log_sigma.exp())          # mu, log_sigma from an encoder
    z = q.rsample()                          # reparameterisation trick
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
"""
from . import constraints  # noqa: F401
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .basic import (Bernoulli, Categorical, Independent, MultivariateNormal, Normal,
                    OneHotCategorical, Uniform)

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "OneHotCategorical", "Uniform",
           "Independent", "MultivariateNormal", "kl_divergence", "register_kl", "constraints"]
