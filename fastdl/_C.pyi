"""
fastdl's C++ kernels. Use the public API in fastdl; this module is private.
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['SizeOverflowError', 'activation_backward_bn_sums', 'adaptive_avg_pool2d', 'adaptive_avg_pool2d_backward', 'adaptive_avg_pool3d', 'adaptive_avg_pool3d_backward', 'adaptive_max_pool2d', 'avg_pool2d', 'avg_pool2d_backward', 'avg_pool3d', 'avg_pool3d_backward', 'batch_norm_apply', 'batch_norm_backward', 'batch_norm_backward_act', 'batch_norm_backward_sums', 'batch_norm_eval', 'batch_norm_train', 'build_version', 'clip_grad_norm_', 'compiler', 'conv2d_algorithm', 'conv2d_backward', 'conv2d_depthwise_nhwc_backward', 'conv2d_depthwise_nhwc_forward', 'conv2d_forward', 'conv2d_forward_packed', 'conv2d_get_algorithm', 'conv2d_pack_weight', 'conv2d_pw_dw_forward', 'conv2d_set_algorithm', 'conv3d', 'conv3d_backward', 'cross_entropy_backward', 'cross_entropy_forward', 'cross_entropy_prob_backward', 'cross_entropy_prob_forward', 'ctc_backward', 'ctc_forward', 'detect_isa', 'dropout', 'dropout_words', 'eltwise_acts', 'eltwise_add', 'eltwise_backward', 'eltwise_forward', 'embedding_bag', 'embedding_bag_backward', 'empty', 'empty_cache', 'gemm', 'get_isa', 'get_num_threads', 'grid_sample', 'grid_sample_backward', 'group_norm_backward', 'group_norm_forward', 'layer_norm_backward', 'layer_norm_forward', 'linear', 'matmul', 'max_pool2d', 'max_pool2d_backward', 'memory_stats', 'multi_tensor_clamp_', 'multi_tensor_norm', 'multi_tensor_scale_', 'nll_loss_backward', 'nll_loss_forward', 'optim_algos', 'optim_step', 'philox_word', 'pointwise_loss_backward', 'pointwise_loss_forward', 'pool_output_size', 'prelu_backward', 'prelu_forward', 'reset_peak_memory_stats', 'rnn_backward', 'rnn_forward', 'set_cache_limit', 'set_isa', 'set_num_threads', 'size_class', 'softmax_backward', 'softmax_forward', 'sort_rows', 'sort_searchsorted', 'sort_unique', 'supported_isas', 'tensorops_cumext', 'tensorops_cumop', 'tensorops_diag_embed', 'tensorops_erfinv', 'tensorops_flip', 'tensorops_fmod', 'tensorops_gather', 'tensorops_hypot', 'tensorops_index_add', 'tensorops_lerp', 'tensorops_logaddexp', 'tensorops_mode', 'tensorops_multinomial', 'tensorops_multinomial_noreplace', 'tensorops_nan_to_num', 'tensorops_nansum', 'tensorops_outer', 'tensorops_scatter_add', 'tensorops_spmm', 'tensorops_topk', 'tensorops_transpose', 'tensorops_tri', 'tensorops_unary']
class SizeOverflowError(ValueError):
    pass
def _bw_copy(src: numpy.ndarray, dst: numpy.ndarray) -> None:
    """
    dst = src on all threads (bandwidth probe).
    """
def _bw_triad(a: numpy.ndarray, b: numpy.ndarray, c: numpy.ndarray, s: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    a = b + s c on all threads.
    """
def _fma_peak(iters: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex) -> tuple[float, float]:
    """
    FMA-throughput probe (active ISA, float32) on `threads` threads: (flops, seconds).
    """
def _gemm_blocking(itemsize: typing.SupportsInt | typing.SupportsIndex) -> dict:
    ...
def _gemm_path(itemsize: typing.SupportsInt | typing.SupportsIndex, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, trans_b: bool = False) -> str:
    """
    The loop nest fastdl's GEMM runs for an (m, k) x (k, n) product on the active ISA.
    """
def _parse_byte_count(text: str) -> int:
    """
    The FASTDL_CACHE_LIMIT syntax: bytes with an optional K/M/G/T suffix.
    """
def _vm_eval(fn: typing.SupportsInt | typing.SupportsIndex, x: numpy.ndarray) -> numpy.ndarray:
    """
    common/simd.h function fn (0 exp, 1 expm1, 2 log, 3 log1p, 4 tanh, 5 erf, 6 erfc, 7 sigmoid, 8 softplus, 9 log_sigmoid, 10 normcdf) on an array (tests).
    """
def activation_backward_bn_sums(output: numpy.ndarray, grad_a: numpy.ndarray, grad_b: numpy.ndarray, activation: str, min_val: typing.SupportsFloat | typing.SupportsIndex, max_val: typing.SupportsFloat | typing.SupportsIndex, input1: numpy.ndarray, mean1: numpy.ndarray, input2: typing.Any = None, mean2: typing.Any = None) -> tuple:
    """
    Backward of y = act(bn1(input1) + r) ('relu' or 'clamp') for the gradient grad_a + grad_b of y (read twice): (g, sum_g, sum_gxc1, sum_gxc2), g = act'(y)·(grad_a + grad_b) bitwise eltwise_backward's, with the batch-norm backward's channel sums of g against input1 (and input2, another batch norm's input added into r) from the same sweep.
    """
def adaptive_avg_pool2d(input: numpy.ndarray, oh: typing.SupportsInt | typing.SupportsIndex, ow: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    Adaptive 2-D average pooling on (N, C, H, W).
    """
def adaptive_avg_pool2d_backward(grad_output: numpy.ndarray, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    grad_input of adaptive_avg_pool2d.
    """
def adaptive_avg_pool3d(input: numpy.ndarray, output_size: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> numpy.ndarray:
    """
    Adaptive average pooling of (N, C, D, H, W) to (N, C, *output_size).
    """
def adaptive_avg_pool3d_backward(grad_output: numpy.ndarray, input_shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> numpy.ndarray:
    """
    Gradient of adaptive_avg_pool3d: (N, C, D, H, W) from grad_output (N, C, OD, OH, OW).
    """
def adaptive_max_pool2d(input: numpy.ndarray, oh: typing.SupportsInt | typing.SupportsIndex, ow: typing.SupportsInt | typing.SupportsIndex, return_indices: bool) -> tuple:
    """
    (output, indices | None) of adaptive 2-D max pooling on (N, C, H, W).
    """
def avg_pool2d(input: numpy.ndarray, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, ceil_mode: bool, count_include_pad: bool, divisor_override: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    2-D average pooling on (N, C, H, W); divisor_override 0 means none.
    """
def avg_pool2d_backward(grad_output: numpy.ndarray, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, ceil_mode: bool, count_include_pad: bool, divisor_override: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    grad_input of avg_pool2d.
    """
def avg_pool3d(input: numpy.ndarray, output_size: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], kernel_size: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], stride: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], padding: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], count_include_pad: bool, divisor_override: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    3-D average pooling of (N, C, D, H, W) to (N, C, *output_size) (the caller computes the output size; divisor_override 0 = none).
    """
def avg_pool3d_backward(grad_output: numpy.ndarray, input_shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], kernel_size: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], stride: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], padding: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], count_include_pad: bool, divisor_override: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    Gradient of avg_pool3d: (N, C, D, H, W) from grad_output (N, C, OD, OH, OW).
    """
def batch_norm_apply(input: numpy.ndarray, scale_shift: numpy.ndarray, residual: typing.Any = None, activation: str = 'none', min_val: typing.SupportsFloat | typing.SupportsIndex = 0.0, max_val: typing.SupportsFloat | typing.SupportsIndex = 0.0, residual_scale_shift: typing.Any = None) -> numpy.ndarray:
    """
    y = act(x·scale + shift + residual) per channel (residual optional, of x's shape), scale_shift as batch_norm_train returns it: bitwise batch_norm_train's y, the eltwise add of the residual and the eltwise activation run in turn; with residual_scale_shift the residual is another batch norm's output, residual·scale' + shift'.
    """
def batch_norm_backward(grad_output: numpy.ndarray, input: numpy.ndarray, mean: numpy.ndarray, invstd: numpy.ndarray, weight: typing.Any, training: bool, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    """
    Fused batch-norm backward: (grad_input, grad_weight, grad_bias).
    """
def batch_norm_backward_act(grad_output: numpy.ndarray, input: numpy.ndarray, mean: numpy.ndarray, invstd: numpy.ndarray, weight: typing.Any, scale_shift: numpy.ndarray, activation: str, min_val: typing.SupportsFloat | typing.SupportsIndex, max_val: typing.SupportsFloat | typing.SupportsIndex, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    """
    Training backward of act(batch_norm(x)) from the gradient of the activation's output ('relu' or 'clamp' to [min_val, max_val]), the activation's input recomputed from x and batch_norm_train's scale_shift: (grad_input, grad_weight, grad_bias), bitwise the activation's backward followed by batch_norm_backward.
    """
def batch_norm_backward_sums(grad_output: numpy.ndarray, input: numpy.ndarray, mean: numpy.ndarray, invstd: numpy.ndarray, weight: typing.Any, sum_g: numpy.ndarray, sum_gxc: numpy.ndarray, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    """
    Training batch-norm backward from the channel sums Σg and Σg·(x − mean) (float64, as activation_backward_bn_sums returns them): (grad_input, grad_weight, grad_bias), bitwise batch_norm_backward(training=True).
    """
def batch_norm_eval(input: numpy.ndarray, running_mean: numpy.ndarray, running_var: numpy.ndarray, weight: typing.Any, bias: typing.Any, eps: typing.SupportsFloat | typing.SupportsIndex, activation: str = 'none', min_val: typing.SupportsFloat | typing.SupportsIndex = 0.0, max_val: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> tuple:
    """
    Batch norm with given statistics: returns (y, invstd); activation as batch_norm_train.
    """
def batch_norm_train(input: numpy.ndarray, weight: typing.Any, bias: typing.Any, eps: typing.SupportsFloat | typing.SupportsIndex, activation: str = 'none', min_val: typing.SupportsFloat | typing.SupportsIndex = 0.0, max_val: typing.SupportsFloat | typing.SupportsIndex = 0.0, output: bool = True) -> tuple:
    """
    Batch norm with batch statistics: returns (y, mean, biased var, invstd, scale_shift); y is act(x·scale + shift) per channel, scale = weight·invstd, shift = bias − mean·scale (scale_shift: (2, C)), activation 'relu' or 'clamp' (to [min_val, max_val]); output=False: y is None (the statistics alone, one pass over x).
    """
def clip_grad_norm_(grads: typing.Any, max_norm: typing.SupportsFloat | typing.SupportsIndex, norm_type: typing.SupportsFloat | typing.SupportsIndex = 2.0, error_if_nonfinite: bool = False) -> float:
    """
    Scale all `grads` in place by min(1, max_norm / (norm + 1e-6)) where norm is their total p-norm; returns the norm.
    """
def conv2d_algorithm(N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, K: typing.SupportsInt | typing.SupportsIndex, R: typing.SupportsInt | typing.SupportsIndex, S: typing.SupportsInt | typing.SupportsIndex, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, itemsize: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    (forward, input-gradient, weight-gradient) algorithm names for this geometry.
    """
def conv2d_backward(input: numpy.ndarray, weight: numpy.ndarray, grad_output: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    """
    (grad_input | None, grad_weight | None, grad_bias | None) of conv2d.
    """
def conv2d_depthwise_nhwc_backward(input: numpy.ndarray, weight: numpy.ndarray, grad_output: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, need_input: bool, need_weight: bool, need_bias: bool) -> typing.Any:
    """
    (grad_input (N, H, W, C) | None, grad_weight | None, grad_bias | None) of conv2d_depthwise_nhwc_forward, or None where it has no kernel.
    """
def conv2d_depthwise_nhwc_forward(input: numpy.ndarray, weight: numpy.ndarray, bias: typing.Any, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, act_lo: typing.SupportsFloat | typing.SupportsIndex = ..., act_hi: typing.SupportsFloat | typing.SupportsIndex = ...) -> typing.Any:
    """
    Depthwise conv2d (groups = C, weight (C, 1, kh, kw)) on the NHWC storage of a channels-last input, (N, H, W, C) C-contiguous: y (N, OH, OW, C) = clamp(conv + b), or None where this ISA or shape has no channels-last kernel.
    """
def conv2d_forward(input: numpy.ndarray, weight: numpy.ndarray, bias: typing.Any, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, act_lo: typing.SupportsFloat | typing.SupportsIndex = ..., act_hi: typing.SupportsFloat | typing.SupportsIndex = ...) -> typing.Any:
    """
    y = min(max(conv2d(x, w) + b, act_lo), act_hi) on NCHW float32/float64, C-contiguous arrays (the default bounds: no activation; ReLU is act_lo=0).
    """
def conv2d_forward_packed(input: numpy.ndarray, weight: numpy.ndarray, packed: numpy.ndarray, bias: typing.Any, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex, act_lo: typing.SupportsFloat | typing.SupportsIndex = ..., act_hi: typing.SupportsFloat | typing.SupportsIndex = ...) -> typing.Any:
    """
    conv2d_forward with a weight packed by conv2d_pack_weight for the same geometry.
    """
def conv2d_get_algorithm() -> str:
    """
    The forced convolution algorithm ('auto': chosen per shape).
    """
def conv2d_pack_weight(input: numpy.ndarray, weight: numpy.ndarray, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, groups: typing.SupportsInt | typing.SupportsIndex) -> typing.Any:
    """
    The forward pass's packed weight for this geometry (1-D float32), or None.
    """
def conv2d_pw_dw_forward(input: numpy.ndarray, weight1: numpy.ndarray, bias1: typing.Any, weight2: numpy.ndarray, bias2: typing.Any, stride_h: typing.SupportsInt | typing.SupportsIndex, stride_w: typing.SupportsInt | typing.SupportsIndex, pad_top: typing.SupportsInt | typing.SupportsIndex, pad_bottom: typing.SupportsInt | typing.SupportsIndex, pad_left: typing.SupportsInt | typing.SupportsIndex, pad_right: typing.SupportsInt | typing.SupportsIndex, dil_h: typing.SupportsInt | typing.SupportsIndex, dil_w: typing.SupportsInt | typing.SupportsIndex, act1_lo: typing.SupportsFloat | typing.SupportsIndex = ..., act1_hi: typing.SupportsFloat | typing.SupportsIndex = ..., act2_lo: typing.SupportsFloat | typing.SupportsIndex = ..., act2_hi: typing.SupportsFloat | typing.SupportsIndex = ..., channels_last: bool = False) -> typing.Any:
    """
    A 1x1 expansion (weight1 (C, Ci, 1, 1)) fused into a depthwise convolution (weight2 (C, 1, kh, kw)), float32 inference: y = clamp2(dwconv(clamp1(conv1x1(x) + b1)) + b2), the expanded tensor never stored; None where there is no fused kernel. channels_last: x is (N, H, W, Ci) NHWC storage and y (N, OH, OW, C).
    """
def conv2d_set_algorithm(name: str) -> None:
    """
    Force the convolution algorithm: auto, direct, gemm or winograd.
    """
def conv3d(input: numpy.ndarray, weight: numpy.ndarray, bias: typing.Any, output_size: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], stride: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], padding: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], dilation: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], groups: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    3-D convolution of (N, C, D, H, W) to (N, K, *output_size); padding is the front/top/left padding (the output size implies the rest).
    """
def conv3d_backward(grad_output: numpy.ndarray, input: numpy.ndarray, weight: numpy.ndarray, stride: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], padding: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], dilation: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], groups: typing.SupportsInt | typing.SupportsIndex, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    """
    (grad_input or None, grad_weight or None, grad_bias or None).
    """
def cross_entropy_backward(grad_output: numpy.ndarray, input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, ignore_index: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex, lse: numpy.ndarray, denom: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    ...
def cross_entropy_forward(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, ignore_index: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    Fused log-softmax + NLL with class-index targets: (loss, lse, mean divisor).
    """
def cross_entropy_prob_backward(grad_output: numpy.ndarray, input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex, lse: numpy.ndarray) -> numpy.ndarray:
    ...
def cross_entropy_prob_forward(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    Cross entropy with class-probability targets: (loss, lse, mean divisor).
    """
def ctc_backward(log_probs: numpy.ndarray, targets: numpy.ndarray, target_offsets: numpy.ndarray, input_lengths: numpy.ndarray, target_lengths: numpy.ndarray, blank: typing.SupportsInt | typing.SupportsIndex, nll: numpy.ndarray, log_alpha: numpy.ndarray, grad: numpy.ndarray, zero_infinity: bool) -> numpy.ndarray:
    """
    CTC backward: gradient (T, N, C) of Σ grad[n]·nll[n] with respect to log_probs.
    """
def ctc_forward(log_probs: numpy.ndarray, targets: numpy.ndarray, target_offsets: numpy.ndarray, input_lengths: numpy.ndarray, target_lengths: numpy.ndarray, blank: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    CTC forward: (nll (N,), log_alpha (N, T, 2·Lmax+1)).
    """
def detect_isa() -> str:
    ...
def dropout(x: numpy.ndarray, p: typing.SupportsFloat | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, group: typing.SupportsInt | typing.SupportsIndex = 1, out: numpy.ndarray | None = None) -> numpy.ndarray:
    """
    y = x * keep / (1 - p) with Philox4x32-10 keep bits; backward is the same call on the grad.
    """
def dropout_words(n: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.uint32]:
    ...
def eltwise_add(a: numpy.ndarray, b: numpy.ndarray, out: numpy.ndarray) -> None:
    """
    out = a + b on all threads (1-D contiguous float32/float64 of one length; out may be a or b): bitwise NumPy's add.
    """
def eltwise_backward(act: typing.SupportsInt | typing.SupportsIndex, from_output: bool, saved: numpy.ndarray, grad: numpy.ndarray, params: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], out: numpy.ndarray | None = None, grad2: numpy.ndarray | None = None) -> numpy.ndarray:
    """
    gx = act'(saved)·grad, or act'(saved)·(grad + grad2) with grad2 (the two gradients summed in the same pass, bitwise the separate add); saved is the input, or the output when from_output.
    """
def eltwise_forward(act: typing.SupportsInt | typing.SupportsIndex, x: numpy.ndarray, params: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], out: numpy.ndarray | None = None) -> numpy.ndarray:
    """
    y = act(x) (codes in eltwise_acts); out may be x for in place.
    """
def embedding_bag(weight: numpy.ndarray, indices: numpy.ndarray, offsets: typing.Any, bag_size: typing.SupportsInt | typing.SupportsIndex, per_sample_weights: typing.Any, mode: typing.SupportsInt | typing.SupportsIndex, padding_idx: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    (out (B, D), argmax (B, D) int64 for mode 2 else None). Bags: offsets (B,) of bag starts (the last bag runs to the end), or None and bags of bag_size entries; entries equal to padding_idx (-1: none) are left out. Raises IndexError for an index outside [0, n), RuntimeError for bad offsets.
    """
def embedding_bag_backward(grad: numpy.ndarray, weight: numpy.ndarray, indices: numpy.ndarray, offsets: typing.Any, bag_size: typing.SupportsInt | typing.SupportsIndex, per_sample_weights: typing.Any, mode: typing.SupportsInt | typing.SupportsIndex, padding_idx: typing.SupportsInt | typing.SupportsIndex, argmax: typing.Any, need_weight: bool, need_per_sample_weights: bool) -> tuple:
    """
    (grad_weight (n, D) or None, grad_per_sample_weights (E,) or None).
    """
def empty(shape: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], dtype: numpy.dtype[typing.Any]) -> numpy.ndarray:
    ...
def empty_cache() -> None:
    ...
def gemm(a: numpy.ndarray, b: numpy.ndarray, c: numpy.ndarray, trans_a: bool = False, trans_b: bool = False, alpha: typing.SupportsFloat | typing.SupportsIndex = 1.0, beta: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> None:
    """
    In place: c := alpha·op(a)·op(b) + beta·c on 2-D views with unit column stride (any row strides).
    """
def get_isa() -> str:
    ...
def get_num_threads() -> int:
    ...
def grid_sample(input: numpy.ndarray, grid: numpy.ndarray, mode: typing.SupportsInt | typing.SupportsIndex, padding_mode: typing.SupportsInt | typing.SupportsIndex, align_corners: bool) -> numpy.ndarray:
    """
    grid_sample of (N, C, [D,] H, W) at grid (N, [Do,] Ho, Wo, 2 or 3): mode 0 bilinear / 1 nearest / 2 bicubic (4-D only), padding 0 zeros / 1 border / 2 reflection.
    """
def grid_sample_backward(grad_output: numpy.ndarray, input: numpy.ndarray, grid: numpy.ndarray, mode: typing.SupportsInt | typing.SupportsIndex, padding_mode: typing.SupportsInt | typing.SupportsIndex, align_corners: bool, need_input: bool, need_grid: bool) -> tuple:
    """
    (grad_input or None, grad_grid or None).
    """
def group_norm_backward(grad_output: numpy.ndarray, input: numpy.ndarray, num_groups: typing.SupportsInt | typing.SupportsIndex, weight: typing.Any, mean: numpy.ndarray, rstd: numpy.ndarray, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    ...
def group_norm_forward(input: numpy.ndarray, num_groups: typing.SupportsInt | typing.SupportsIndex, weight: typing.Any, bias: typing.Any, eps: typing.SupportsFloat | typing.SupportsIndex) -> tuple:
    """
    Group norm: (y, mean, rstd) with mean/rstd of shape (N·G,).
    """
def layer_norm_backward(grad_output: numpy.ndarray, input: numpy.ndarray, weight: typing.Any, mean: numpy.ndarray, rstd: numpy.ndarray, need_input: bool, need_weight: bool, need_bias: bool) -> tuple:
    ...
def layer_norm_forward(input: numpy.ndarray, weight: typing.Any, bias: typing.Any, eps: typing.SupportsFloat | typing.SupportsIndex) -> tuple:
    """
    Layer norm of a 2-D (rows, K) input: (y, mean, rstd).
    """
def linear(input: numpy.ndarray, weight: numpy.ndarray, bias: typing.Any = None) -> numpy.ndarray:
    """
    input (m, in) @ weight(out, in).T + bias(out,)
    """
def matmul(a: numpy.ndarray, b: numpy.ndarray, trans_a: bool = False, trans_b: bool = False) -> numpy.ndarray:
    """
    np.matmul(op(a), op(b)) with op = swap of the last two axes when trans_*; batch dimensions broadcast; 1-D operands as in NumPy. C-contiguous float32/float64.
    """
def max_pool2d(input: numpy.ndarray, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, dh: typing.SupportsInt | typing.SupportsIndex, dw: typing.SupportsInt | typing.SupportsIndex, ceil_mode: bool, return_indices: bool) -> tuple:
    """
    (output, indices | None) of 2-D max pooling on (N, C, H, W).
    """
def max_pool2d_backward(grad_output: numpy.ndarray, indices: numpy.ndarray, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    grad_input of (adaptive) max pooling: scatter-add at the indices.
    """
def memory_stats() -> dict:
    ...
def multi_tensor_clamp_(tensors: typing.Any, lo: typing.SupportsFloat | typing.SupportsIndex, hi: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    x = min(max(x, lo), hi) for every array of the list, in place (NaN stays NaN).
    """
def multi_tensor_norm(tensors: typing.Any, norm_type: typing.SupportsFloat | typing.SupportsIndex = 2.0) -> float:
    """
    The p-norm of all arrays together, as if concatenated (inf: max |x|), in double.
    """
def multi_tensor_scale_(tensors: typing.Any, c: typing.SupportsFloat | typing.SupportsIndex) -> None:
    """
    x *= c for every array of the list, in place.
    """
def nll_loss_backward(grad_output: numpy.ndarray, input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, ignore_index: typing.SupportsInt | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex, denom: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    ...
def nll_loss_forward(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, ignore_index: typing.SupportsInt | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    NLL on log-probabilities: (loss, mean divisor).
    """
def optim_step(algo: str, params: typing.Any, grads: typing.Any, states: typing.Any, steps: typing.Any = None, mu_products: typing.Any = None, first: typing.Any = None, lr: typing.SupportsFloat | typing.SupportsIndex = 0.001, beta1: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta2: typing.SupportsFloat | typing.SupportsIndex = 0.999, eps: typing.SupportsFloat | typing.SupportsIndex = 1e-08, weight_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.0, dampening: typing.SupportsFloat | typing.SupportsIndex = 0.0, lr_decay: typing.SupportsFloat | typing.SupportsIndex = 0.0, momentum_decay: typing.SupportsFloat | typing.SupportsIndex = 0.004, maximize: bool = False, nesterov: bool = False, amsgrad: bool = False, centered: bool = False, decoupled: bool = False, eta_minus: typing.SupportsFloat | typing.SupportsIndex = 0.5, eta_plus: typing.SupportsFloat | typing.SupportsIndex = 1.2, step_min: typing.SupportsFloat | typing.SupportsIndex = 1e-06, step_max: typing.SupportsFloat | typing.SupportsIndex = 50.0, lambd: typing.SupportsFloat | typing.SupportsIndex = 0.0001, asgd_alpha: typing.SupportsFloat | typing.SupportsIndex = 0.75, t0: typing.SupportsFloat | typing.SupportsIndex = 1000000.0) -> None:
    """
    One fused update of every parameter in `params` (a list of arrays, one dtype) by algorithm `algo` (sgd, adam, adagrad, rmsprop, adadelta, adamax, nadam, radam, rprop, asgd), using `grads` and the state lists `states` (3 entries, list or None; see kernels/optim/optim.h). `steps` (and NAdam's `mu_products`) are lists of float64 one-element arrays, incremented/updated in place; SGD's `first` flags a momentum buffer's first step. RMSprop's alpha and Adadelta's rho go in beta2.
    """
def philox_word(seed: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def pointwise_loss_backward(kind: typing.SupportsInt | typing.SupportsIndex, grad_output: numpy.ndarray, input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, pos_weight: typing.Any, param: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex, denom: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    ...
def pointwise_loss_forward(kind: typing.SupportsInt | typing.SupportsIndex, input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, pos_weight: typing.Any, param: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    ...
def pool_output_size(size: typing.SupportsInt | typing.SupportsIndex, kernel_size: typing.SupportsInt | typing.SupportsIndex, stride: typing.SupportsInt | typing.SupportsIndex, padding: typing.SupportsInt | typing.SupportsIndex, dilation: typing.SupportsInt | typing.SupportsIndex, ceil_mode: bool) -> int:
    """
    The kernels' pooling output size (PyTorch's rule); may be < 1.
    """
def prelu_backward(x: numpy.ndarray, weight: numpy.ndarray, grad: numpy.ndarray, need_input: bool, need_weight: bool) -> tuple[typing.Any, typing.Any]:
    ...
def prelu_forward(x: numpy.ndarray, weight: numpy.ndarray) -> numpy.ndarray:
    ...
def reset_peak_memory_stats() -> None:
    ...
def rnn_backward(mode: typing.SupportsInt | typing.SupportsIndex, w_hh: numpy.ndarray, hs: numpy.ndarray, cs: typing.Any, acts: typing.Any, aux: typing.Any, aux2: typing.Any, gout: typing.Any, ghT: typing.Any, gcT: typing.Any, reverse: bool) -> tuple:
    """
    Backpropagation through time of rnn_forward: returns (dX, dHh, dh0, dc0) in step order; see csrc/kernels/rnn/rnn.h.
    """
def rnn_forward(mode: typing.SupportsInt | typing.SupportsIndex, xp: numpy.ndarray, w_hh: numpy.ndarray, b_hh: typing.Any, h0: numpy.ndarray, c0: typing.Any, reverse: bool) -> tuple:
    """
    Time loop of one RNN/LSTM/GRU layer and direction: returns the saved states (hs, cs, acts, aux, aux2); see csrc/kernels/rnn/rnn.h.
    """
def set_cache_limit(bytes: typing.Any) -> None:
    ...
def set_isa(name: str) -> None:
    ...
def set_num_threads(n: typing.Any) -> None:
    ...
def size_class(arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def softmax_backward(y: numpy.ndarray, grad: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex, log: bool, out: numpy.ndarray | None = None) -> numpy.ndarray:
    ...
def softmax_forward(x: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex, log: bool, out: numpy.ndarray | None = None) -> numpy.ndarray:
    ...
def sort_rows(input: numpy.ndarray, descending: bool = False, values: bool = True, indices: bool = True) -> tuple:
    """
    (values, indices) of input sorted along its last dimension, stably (equal elements keep their order, also descending); NaN the largest, -0.0 equal to 0.0. values / indices: None when not asked for. float32, float64, int32, int64.
    """
def sort_searchsorted(sorted_sequence: numpy.ndarray, input: numpy.ndarray, right: bool = False, out_int32: bool = False) -> numpy.ndarray:
    """
    int64 (int32 with out_int32), input's shape: each value's insertion point into the ascending sorted_sequence (1-D, or matching input in all but the last dimension), as torch.searchsorted (left: after the elements s with !(s >= v); right: !(s > v)).
    """
def sort_unique(input: numpy.ndarray, return_inverse: bool = False, return_counts: bool = False) -> tuple:
    """
    (values, inverse, counts): the distinct elements of the flattened input in ascending order (each NaN distinct, last, in input order; -0.0 and 0.0 one element, the first occurrence), each element's place in values (input's shape) and each value's count; inverse / counts None when not asked for.
    """
def supported_isas() -> list:
    ...
def tensorops_cumext(input: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex, is_max: bool) -> tuple:
    """
    (values, indices) of the running max (min) along dim, torch's NaN and tie rules.
    """
def tensorops_cumop(input: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex, prod: bool) -> numpy.ndarray:
    """
    The running sum (prod: product) along dim, accumulated in double as torch's CPU scan.
    """
def tensorops_diag_embed(input: numpy.ndarray, offset: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    input.shape[:-1] + (n, n), n = input.shape[-1] + |offset|: the last dimension of input (any numeric dtype) on the offset diagonal of each matrix, zeros elsewhere.
    """
def tensorops_erfinv(input: numpy.ndarray) -> numpy.ndarray:
    """
    The inverse error function of float32 input (within 2.7e-7 relative; ±inf at ±1, NaN outside [-1, 1]).
    """
def tensorops_flip(input: numpy.ndarray, dims: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex]) -> numpy.ndarray:
    """
    A C-contiguous copy of input (any numeric dtype) reversed along dims (each in [0, ndim)).
    """
def tensorops_fmod(input: numpy.ndarray, other: numpy.ndarray, python_mod: bool) -> numpy.ndarray:
    """
    fmod(input, other) (python_mod: the remainder with the divisor's sign), elementwise.
    """
def tensorops_gather(input: numpy.ndarray, index: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    out[..., j, ...] = input[..., index[..., j, ...], ...] along dim (index shaped as input outside dim; negative indices count from the end). IndexError for an index out of range.
    """
def tensorops_hypot(input: numpy.ndarray, other: numpy.ndarray) -> numpy.ndarray:
    """
    sqrt(input² + other²) elementwise, no overflow.
    """
def tensorops_index_add(input: numpy.ndarray, index: numpy.ndarray, source: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    A copy of input with source's slice j added to input's slice index[j] along dim (negative indices count from the end). IndexError for an index out of range.
    """
def tensorops_lerp(input: numpy.ndarray, end: numpy.ndarray, weight: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    """
    input + weight·(end - input) for |weight| < 0.5, else end - (end - input)·(1 - weight) (torch's formula), elementwise, with multiply-adds.
    """
def tensorops_logaddexp(input: numpy.ndarray, other: numpy.ndarray) -> numpy.ndarray:
    """
    log(exp(input) + exp(other)) elementwise, as max + log1p(exp(-|input - other|)).
    """
def tensorops_mode(input: numpy.ndarray) -> tuple:
    """
    (values, indices) per row: the most frequent value (the smallest of equally frequent ones, NaN the largest) and the index of its last occurrence. float32/float64/int64.
    """
def tensorops_multinomial(weights: numpy.ndarray, uniforms: numpy.ndarray) -> numpy.ndarray:
    """
    Categories drawn with replacement: per row, the first j whose cumulative weight exceeds u * total. RuntimeError for negative/non-finite weights or a zero row.
    """
def tensorops_multinomial_noreplace(weights: numpy.ndarray, uniforms: numpy.ndarray, k: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    int64 (rows, k): k distinct categories per row drawn without replacement (the exponential race on keys w / -log(u), largest first; zero weights last). RuntimeError for invalid weights or a row without a positive one.
    """
def tensorops_nan_to_num(input: numpy.ndarray, nan: typing.SupportsFloat | typing.SupportsIndex, posinf: typing.SupportsFloat | typing.SupportsIndex, neginf: typing.SupportsFloat | typing.SupportsIndex) -> numpy.ndarray:
    """
    input with NaN, +inf and -inf replaced by nan, posinf and neginf (cast to its dtype).
    """
def tensorops_nansum(input: numpy.ndarray) -> float:
    """
    The sum of the non-NaN elements of input (0 when there are none), accumulated per vector lane in the input's dtype for at most 32 terms, then in double.
    """
def tensorops_outer(input: numpy.ndarray, vec2: numpy.ndarray) -> numpy.ndarray:
    """
    (m, n) with out[i, j] = input[i]·vec2[j].
    """
def tensorops_scatter_add(input: numpy.ndarray, index: numpy.ndarray, src: numpy.ndarray, dim: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    A copy of input with out[..., index[..., j, ...], ...] += src[..., j, ...] along dim (index and src one shape, matching input outside dim; negative indices count from the end). IndexError for an index out of range.
    """
def tensorops_spmm(rows: numpy.ndarray, cols: numpy.ndarray, values: numpy.ndarray, m: typing.SupportsInt | typing.SupportsIndex, mat2: numpy.ndarray) -> numpy.ndarray:
    """
    Dense (m, n) = sparse COO (rows, cols, values) times mat2 (k, n); duplicates add.
    """
def tensorops_topk(input: numpy.ndarray, k: typing.SupportsInt | typing.SupportsIndex, dim: typing.SupportsInt | typing.SupportsIndex, largest: bool) -> numpy.ndarray:
    """
    int64, input's shape with k along dim: the indices of the k largest (smallest) values along dim in order, NaN the largest, ties by lower index.
    """
def tensorops_transpose(input: numpy.ndarray, out: numpy.ndarray) -> None:
    """
    out[b, j, i] = input[b, i, j] for C-contiguous (batch, r, c) input and (batch, c, r) out of one dtype: the layout copy between NCHW and NHWC (r = C, c = H·W).
    """
def tensorops_tri(input: numpy.ndarray, diagonal: typing.SupportsInt | typing.SupportsIndex, upper: bool) -> numpy.ndarray:
    """
    The lower (upper=False: j - i <= diagonal) or upper (j - i >= diagonal) triangle of the last two dimensions of input (any numeric dtype), zeros elsewhere.
    """
def tensorops_unary(input: numpy.ndarray, code: typing.SupportsInt | typing.SupportsIndex) -> numpy.ndarray:
    """
    f(input) elementwise in one pass, for code 0: sign (+0 for ±0 and NaN), 1: rsqrt (1/sqrt, exact division), 2: reciprocal, 3: frac (x - trunc(x)).
    """
build_version: str
compiler: str
eltwise_acts: dict = {'relu': 0, 'leaky_relu': 1, 'hardtanh': 2, 'elu': 3, 'gelu': 4, 'gelu_tanh': 5, 'silu': 6, 'mish': 7, 'sigmoid': 8, 'tanh': 9, 'softplus': 10, 'softsign': 11, 'hardsigmoid': 12, 'hardswish': 13, 'logsigmoid': 14}
optim_algos: tuple = ('sgd', 'adam', 'adagrad', 'rmsprop', 'adadelta', 'adamax', 'nadam', 'radam', 'rprop', 'asgd')
