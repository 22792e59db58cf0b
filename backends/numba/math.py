"""Scalar helpers the generated kernels call: float32 exp and tanh that vectorize, NumPy's
NaN rules for maximum and minimum, and NumPy's rules where C's or Python's differ (integer
division by zero, shifts by the width or more, the float floor division and remainder).

Without Intel's SVML, Numba lowers `np.exp` on a float32 to a call into libm, one element
at a time, and a fused loop full of such calls is slower than NumPy's own SIMD ufuncs. The
versions here are plain arithmetic (a range reduction, a polynomial, and building 2**k from
its exponent bits), so LLVM turns a loop calling them into vector code.

They are inlined into each kernel by Numba (`inline="always"`), so LLVM sees one loop body
and vectorizes it; they then run under the kernels' fastmath flags (which keep NaN and Inf).
Accuracy under those flags, against float64 NumPy rounded to float32, checked on every third
float32 in the ranges below (tests/test_numba_math.py checks a sample of the same bound):
    exp_f32    at most 1 ulp on [-120, 120] (NumPy's own float32 exp: 2 ulp); results in the
               denormal range are kept, never flushed to zero; inf, -inf, nan and overflow
               come out as NumPy's.
    tanh_f32   at most 1 ulp on [-20, 20] and exactly +-1 beyond; +-0, +-inf, nan as NumPy.
"""
import numpy as np
from llvmlite import ir
from numba import cfunc, config, njit, types
from numba.extending import intrinsic

F32 = np.float32
# The names generated kernels import (backends/numba/emit.py imports them all)
__all__ = ["exp_f32", "tanh_f32", "maximum", "minimum", "int_power", "int_floor_divide", "int_remainder",
           "int_fmod", "float_floor_divide", "float_remainder", "left_shift", "right_shift", "logaddexp",
           "logaddexp2"]


def _link_integer_powers():
    """Give Numba's JIT the compiler runtime's `__powisf2` and `__powidf2`.

    Under the `afn` fastmath flag LLVM rewrites `x ** float(n)`, for an integer n of 32 bits
    or fewer, as its powi intrinsic, which compiles to a call into the compiler's runtime
    library (x ** n by repeated squaring). Numba links no such library, so a kernel computing
    a float to an integer array's power would call address 0 and crash the process. GCC's
    runtime, libgcc_s, has both; where it is missing they are written here as C callbacks.
    Run at import, before any kernel (generated or loaded from the cache) is linked.
    """
    import llvmlite.binding as llvm
    names = ("__powisf2", "__powidf2")
    if all(llvm.address_of_symbol(name) for name in names):
        return
    try:
        llvm.load_library_permanently("libgcc_s.so.1")
    except RuntimeError:
        pass
    for name, float_type in zip(names, ("float32", "float64")):
        if not llvm.address_of_symbol(name):
            callback = integer_power_callback(float_type)
            _CALLBACKS.append(callback)         # its machine code lives as long as the object
            llvm.add_symbol(name, callback.address)


_CALLBACKS = []     # the C callbacks given to LLVM in place of a missing runtime


def integer_power_callback(float_type):
    """x ** n for a float x and an int32 n, as the runtime's powi computes it, as a C function."""
    return cfunc(f"{float_type}({float_type}, int32)", error_model="numpy")(_integer_power_of_float)


def _integer_power_of_float(x, n):
    result, base, k = 1.0, x, abs(np.int64(n))
    while k:
        if k & 1:
            result *= base
        base *= base
        k >>= 1
    return result if n >= 0 else 1 / result


_link_integer_powers()


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bit pattern is the low 32 bits of the integer `bits`."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


if config.DISABLE_JIT:      # kernels run as plain Python (for debugging): no intrinsics there
    def _float32_from_bits(bits):
        return np.array(int(bits) & 0xFFFFFFFF, np.uint32).view(F32)[()]


@njit(cache=True, inline="always")
def _pow2(k):
    """2.0**k for an integer k in [-126, 127]."""
    return _float32_from_bits((k + 127) << 23)


# exp(x) = 2**k * exp(r), k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2]; ln 2 is
# split in a short high part (k * hi is exact) and a low correction. exp(r) is
# 1 + r + r**2 * P(r) with P the degree-5 minimax fit from the Cephes library.
_LOG2E = F32(1.4426950408889634)
_LN2_HI = F32(0.693359375)
_LN2_LO = F32(-2.12194440e-4)
_EXP_P = (F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3),
          F32(4.1665795894e-2), F32(1.6666665459e-1), F32(5.0000001201e-1))
_OVERFLOW = F32(88.72283935546875)      # above: inf
_UNDERFLOW = F32(-103.97208)            # below: 0 (the smallest denormal is 2**-149)


@njit(cache=True, inline="always")
def exp_f32(x):
    """exp of a float32, vectorizable (see the module docstring for its accuracy)."""
    p0, p1, p2, p3, p4, p5 = _EXP_P
    clamped = min(max(x, F32(-104.0)), F32(89.0))      # keeps k an int even for inf or nan
    k = np.floor(clamped * _LOG2E + F32(0.5))
    r = clamped - k * _LN2_HI
    r = r - k * _LN2_LO
    poly = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5
    er = poly * (r * r) + r + F32(1.0)
    ki = np.int32(k)
    half = ki >> np.int32(1)                            # 2**k as two factors: no overflow at
    y = er * _pow2(half) * _pow2(ki - half)             # k = 128, gradual underflow below -126
    y = F32(np.inf) if x > _OVERFLOW else y
    y = F32(0.0) if x < _UNDERFLOW else y
    return x if x != x else y


# tanh(x) = x + x**3 Q(x**2) for |x| < 0.625 (Cephes' minimax Q), else
# sign(x) * (1 - 2 / (exp(2|x|) + 1)); both are computed and one selected, so loops vectorize.
_TANH_Q = (F32(-5.70498872745e-3), F32(2.06390887954e-2), F32(-5.37397155531e-2),
           F32(1.33314422036e-1), F32(-3.33332819422e-1))


@njit(cache=True, inline="always")
def tanh_f32(x):
    """tanh of a float32, vectorizable (see the module docstring for its accuracy)."""
    q0, q1, q2, q3, q4 = _TANH_Q
    z = x * x
    small = x + x * z * ((((q0 * z + q1) * z + q2) * z + q3) * z + q4)
    ax = abs(x)
    large = F32(1.0) - F32(2.0) / (exp_f32(ax + ax) + F32(1.0))
    large = -large if x < F32(0.0) else large
    y = small if ax < F32(0.625) else large
    return x if ax == F32(0.0) else y          # +-0 keeps its sign whatever fastmath rewrites


@njit(cache=True, inline="always")
def maximum(a, b):
    """np.maximum for scalars: nan if either is nan."""
    return a if (a > b or a != a) else b


@njit(cache=True, inline="always")
def minimum(a, b):
    """np.minimum for scalars: nan if either is nan."""
    return a if (a < b or a != a) else b


@njit(cache=True, inline="always")
def int_power(base, exponent, one):
    """base ** exponent for integers (all three of one dtype), as NumPy computes it: by
    repeated squaring, wrapping around on overflow (the caller converts the result to the
    dtype, which wraps it as NumPy's arithmetic in that dtype would). Numba's own `**` on
    integers crashes under fastmath for 32 bits or fewer and gives 0 for negative exponents;
    NumPy refuses those, and so does this (the driver names the node: emit.py)."""
    if exponent < one - one:
        raise ValueError("Integers to negative integer powers are not allowed.")
    result = one
    while exponent:
        if exponent & one:
            result = result * base
        base = base * base
        exponent = exponent >> one
    return result


# Integer division as NumPy does it: Python's floor rules for floor_divide and remainder, C's
# truncation for fmod, 0 where the divisor is 0 (NumPy warns), and the most negative number
# divided by -1 wrapping around to itself (a machine division would trap). `zero` is 0 of the
# arguments' dtype; for unsigned dtypes `y < zero` is never true.

@njit(cache=True, inline="always")
def int_floor_divide(x, y, zero):
    if y == zero:
        return zero
    if y < zero and y == ~zero:        # -1 (~0: no int literal, which would make uint64 a float)
        return zero - x
    return x // y


@njit(cache=True, inline="always")
def int_remainder(x, y, zero):
    if y == zero or (y < zero and y == ~zero):
        return zero
    return x % y


@njit(cache=True, inline="always")
def int_fmod(x, y, zero):
    """x - y * trunc(x / y): Python's remainder, moved to the sign of x where they differ."""
    r = int_remainder(x, y, zero)
    if r != zero and (r < zero) != (x < zero):
        r = r - y
    return r


# Float floor division and remainder as NumPy computes them (the algorithm of its npy_divmod):
# from C's fmod, corrected to the divisor's sign, the quotient snapped to an integer. These
# are not inlined: compiled apart, they keep exact IEEE arithmetic whatever the kernel's
# fastmath flags allow (a reciprocal in place of the division would move the snapping).

@njit(cache=True)
def _float_divmod(x, y, one):
    """(floor(x / y), x mod y); `one` is 1 of their dtype, so float32 stays float32 throughout."""
    mod = np.fmod(x, y)
    if y == 0:
        return x / y, mod
    div = (x - mod) / y
    if mod != 0:
        if (y < 0) != (mod < 0):
            mod = mod + y
            div = div - one
    else:
        mod = np.copysign(mod - mod, y)
    if div != 0:
        floor = np.floor(div)
        if div - floor > one / 2:
            floor = floor + one
    else:
        floor = np.copysign(div - div, x / y)
    return floor, mod


@njit(cache=True)
def float_floor_divide(x, y, one):
    return _float_divmod(x, y, one)[0]


@njit(cache=True)
def float_remainder(x, y, one):
    return _float_divmod(x, y, one)[1]


# Shifts by the width of the dtype or more (or by a negative amount) are undefined in C;
# NumPy gives 0 to the left, and to the right 0 or -1 by the sign of x.

@njit(cache=True, inline="always")
def left_shift(x, y, bits):
    return x << y if (y >= bits - bits and y < bits) else x - x


@njit(cache=True, inline="always")
def right_shift(x, y, bits):
    if y >= bits - bits and y < bits:
        return x >> y
    return ~(x - x) if x < bits - bits else x - x      # -1 or 0 in x's dtype (no int literal: uint64
                                                        # next to one would make the result a float)


# log(e^x + e^y) and log2(2^x + 2^y) without overflow, NumPy's way: equal arguments (the
# infinities of one sign too) give x + log(2); otherwise the larger plus the log of 1 plus the
# exponential of the (negative) difference. `log_two`, `log2_e` and `one` are of x's dtype.

@njit(cache=True, inline="always")
def logaddexp(x, y, log_two):
    if x == y:
        return x + log_two
    d = x - y
    if d > 0:
        return x + np.log1p(np.exp(-d))
    if d <= 0:
        return y + np.log1p(np.exp(d))
    return d


@njit(cache=True, inline="always")
def logaddexp2(x, y, log2_e, one):
    if x == y:
        return x + one
    d = x - y
    if d > 0:
        return x + log2_e * np.log1p(np.exp2(-d))
    if d <= 0:
        return y + log2_e * np.log1p(np.exp2(d))
    return d
