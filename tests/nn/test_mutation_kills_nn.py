"""Tests added by a mutation-testing audit: each pins a behaviour that a small source change
(a mutant) altered without any other test noticing. References are independent: jax.nn,
optax, jax.grad, or closed forms computed here with NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndl_jax import losses, nn

KEY = jax.random.key(0)


def test_softplus_autodiff_slope_at_zero_is_one_half():
    """jax.grad through our softplus at exactly 0 is sigmoid(0) = 1/2, as for jax.nn.softplus
    (the stable form must not lose or double the slope of -|x| at the kink)."""
    for x in (0.0, -0.0):
        got = jax.grad(nn.softplus)(jnp.float32(x))
        want = jax.grad(jax.nn.softplus)(jnp.float32(x))
        np.testing.assert_allclose(got, want, rtol=1e-6)
        np.testing.assert_allclose(got, 0.5, rtol=1e-6)


def test_multiclass_hinge_has_a_unit_margin():
    """Crammer-Singer hinge max(0, 1 + max_{j != y} s_j - s_y), against a NumPy closed form and
    optax.losses.multiclass_hinge_loss: a correct class ahead by less than 1 still costs."""
    scores = np.array([[2.0, 1.5, -1.0], [0.0, 3.0, 0.2], [1.0, 1.0, 1.0], [5.0, 0.0, 0.0]])
    labels = np.array([0, 1, 2, 0])
    other = np.where(np.eye(3, dtype=bool)[labels], -np.inf, scores).max(axis=-1)
    want = np.maximum(0.0, 1.0 + other - scores[np.arange(4), labels])
    got = losses.multiclass_hinge(jnp.asarray(scores), jnp.asarray(labels))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    ref = optax.losses.multiclass_hinge_loss(jnp.asarray(scores), jnp.asarray(labels))
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_swish_grad_with_beta_matches_autodiff():
    """swish_grad(x, beta) is d/dx [x sigmoid(beta x)] for beta != 1, checked with jax.grad of
    a reference built from jax.nn.sigmoid."""
    x = jnp.linspace(-4.0, 4.0, 17)
    for beta in (0.5, 2.0, 3.0):
        ref = jax.vmap(jax.grad(lambda t, b=beta: t * jax.nn.sigmoid(b * t)))(x)
        np.testing.assert_allclose(nn.swish_grad(x, beta=beta), ref, rtol=1e-5, atol=1e-6)


def test_kl_divergence_zero_targets_in_half_precision():
    """A zero target probability contributes 0 (0 log 0 = 0) also in float16, where a tiny
    stand-in for log(0) would underflow to -inf and give NaN; closed form in NumPy."""
    p = np.array([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]], np.float16)
    log_q = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])).astype(np.float16)
    got = losses.kl_divergence(jnp.asarray(log_q), jnp.asarray(p))
    p64, lq64 = p.astype(np.float64), log_q.astype(np.float64)
    want = np.sum(np.where(p64 > 0, p64 * (np.log(np.where(p64 > 0, p64, 1.0)) - lq64), 0.0), -1)
    assert np.all(np.isfinite(np.asarray(got, np.float64)))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-2, atol=1e-3)


def test_macro_average_counts_classes_only_predicted():
    """Macro averages run over the classes seen in y_true *or* y_pred (a class predicted but
    never true scores 0 and still counts), as sklearn with zero_division=0."""
    from sklearn import metrics as sk

    from nndl_jax import metrics

    y_true = np.array([0, 0, 1, 1, 1, 0])
    y_pred = np.array([0, 2, 1, 1, 0, 0])
    for ours, ref in (
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1, sk.f1_score),
    ):
        want = ref(y_true, y_pred, average="macro", zero_division=0)
        got = ours(jnp.asarray(y_true), jnp.asarray(y_pred), average="macro", num_classes=4)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_gelu_tanh_form_matches_jax_nn_including_large_inputs():
    """gelu(approximate=True) and its derivative agree with jax.nn.gelu (tanh form) and its
    jax.grad on [-8, 8], where an input clip must not bite (|x| up to 8 is exact in float32)."""
    x = jnp.linspace(-8.0, 8.0, 65)
    ref = jax.nn.gelu(x, approximate=True)
    np.testing.assert_allclose(nn.gelu(x, approximate=True), ref, rtol=1e-5, atol=1e-6)
    ref_grad = jax.vmap(jax.grad(lambda t: jax.nn.gelu(t, approximate=True)))(x)
    got_grad = nn.gelu_grad(x, approximate=True)
    np.testing.assert_allclose(got_grad, ref_grad, rtol=1e-5, atol=1e-6)


def test_maxout_grad_splits_ties_like_jax_grad():
    """maxout_grad is the VJP of maxout: against jax.vjp of a jnp.max reference, with ties."""
    x = jnp.array([[1.0, 1.0, 0.0, 2.0, 2.0, 2.0], [3.0, -1.0, 0.5, 0.5, 0.5, -2.0]])
    g = jnp.array([[1.0, 3.0], [2.0, -1.0]])
    _, vjp = jax.vjp(lambda t: jnp.max(t.reshape(2, 2, 3), axis=-1), x)
    np.testing.assert_allclose(nn.maxout_grad(x, g, num_pieces=3), vjp(g)[0], rtol=1e-6)


def test_prelu_grads_match_autodiff_in_both_arguments():
    """prelu_grad and prelu_grad_alpha agree with jax.grad of a jnp.where reference in x and in
    a per-feature alpha different from 1."""
    x = jnp.array([[-2.0, 0.5, -0.3], [1.5, -1.0, 0.0]])
    alpha = jnp.array([0.1, 0.4, 2.5])

    def ref(t, a):
        return jnp.sum(jnp.where(t >= 0, t, a * t))

    gx, ga = jax.grad(ref, argnums=(0, 1))(x, alpha)
    np.testing.assert_allclose(nn.prelu_grad(x, alpha), gx, rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(nn.prelu_grad_alpha(x, alpha), axis=0), ga, rtol=1e-6)


def test_hard_sigmoid_matches_jax_nn_with_slope_one_sixth():
    """hard_sigmoid(x, 1/6) is jax.nn.hard_sigmoid (corners at -3, 3), values and jax.grad."""
    x = jnp.array([-4.0, -3.0, -2.999, -1.0, 0.0, 2.0, 2.999, 3.0, 3.001, 5.0])
    np.testing.assert_allclose(nn.hard_sigmoid(x, 1 / 6), jax.nn.hard_sigmoid(x), atol=1e-6)
    ref = jax.vmap(jax.grad(jax.nn.hard_sigmoid))(x)
    np.testing.assert_allclose(nn.hard_sigmoid_grad(x, 1 / 6), ref, atol=1e-6)


def test_orthogonal_is_sign_corrected():
    """Haar-uniform orthogonal matrices have E[W_00] = 0: over many keys W_00 takes both signs
    and averages near 0 (an uncorrected Householder QR gives W_00 < 0 always)."""
    init = nn.initializers.orthogonal()
    keys = jax.random.split(KEY, 256)
    w = jax.vmap(lambda k: init(k, (4, 4)))(keys)
    w00 = np.asarray(w[:, 0, 0])
    assert (w00 > 0).any() and (w00 < 0).any()
    # std of W_00 is 1/2, so the mean of 256 draws has standard error 1/32
    assert abs(w00.mean()) < 4 / 32
    np.testing.assert_allclose(
        np.einsum("nij,nkj->nik", w, w), np.broadcast_to(np.eye(4), w.shape), atol=1e-5
    )


def test_dense_weight_and_bias_draw_independent_keys():
    """With the same random initializer for w and b, Dense must not feed both the same key
    (w of shape (1, 3) would then equal b)."""
    init = nn.initializers.normal(1.0)
    _, params, _ = nn.Dense(3, w_init=init, b_init=init).init(KEY, (-1, 1))
    assert not np.allclose(params["w"][0], params["b"])


def test_residual_body_and_shortcut_draw_independent_masks():
    """residual(Dropout, shortcut=serial(Dropout)): independent masks give y = 2 on about half
    of the units (one kept), a shared key would give only 0 or 4."""
    model = nn.residual(nn.Dropout(0.5), shortcut=nn.serial(nn.Dropout(0.5)))
    _, params, state = model.init(KEY, (1, 2000))
    y, _ = model.apply(params, state, jnp.ones((1, 2000)), key=KEY, train=True)
    frac_one_kept = float(jnp.mean(y == 2.0))
    assert 0.4 < frac_one_kept < 0.6


def test_parallel_children_draw_independent_masks():
    """parallel(Dropout, Dropout) on equal inputs: the two masks differ (independent keys)."""
    model = nn.parallel(nn.Dropout(0.5), nn.Dropout(0.5))
    _, params, state = model.init(KEY, ((1, 1000), (1, 1000)))
    x = jnp.ones((1, 1000))
    (a, b), _ = model.apply(params, state, (x, x), key=KEY, train=True)
    agree = float(jnp.mean((a != 0) == (b != 0)))
    assert 0.4 < agree < 0.6


def test_serial_init_gives_equal_layers_different_weights():
    """serial(Dense(4), Dense(4)) on width 4: the two kernels come from different keys."""
    _, params, _ = nn.serial(nn.Dense(4), nn.Dense(4)).init(KEY, (-1, 4))
    assert not np.allclose(params[0]["w"], params[1]["w"])


def test_variance_scaling_initializers_match_jax_nn_with_the_same_key():
    """Our named initializers draw the numbers jax.nn.initializers draws with the same key
    (truncated normal with its variance correction, uniform with r = sqrt(3) sigma, fan_in /
    fan_avg, conv receptive field), up to last-bit rounding of the scale."""
    ref = jax.nn.initializers
    pairs = [
        (nn.initializers.he_normal, ref.he_normal()),
        (nn.initializers.xavier_normal, ref.glorot_normal()),
        (nn.initializers.lecun_normal, ref.lecun_normal()),
        (nn.initializers.he_uniform, ref.he_uniform()),
        (nn.initializers.xavier_uniform, ref.glorot_uniform()),
        (nn.initializers.lecun_uniform, ref.lecun_uniform()),
    ]
    for ours, theirs in pairs:
        for shape in ((16, 8), (3, 3, 4, 5)):
            np.testing.assert_allclose(ours(KEY, shape), theirs(KEY, shape), rtol=1e-6, atol=0)


def test_mlp_init_weight_and_bias_keys_differ():
    """mlp_init with the same random initializer for weights and biases must not draw both
    from one key (the (1, 3) kernel would then equal the bias)."""
    from nndl_jax.train.backprop import mlp_init

    init = nn.initializers.normal(1.0)
    params = mlp_init(KEY, (1, 3, 2), init, bias_init=init)
    assert not np.allclose(params[0]["w"][0], params[0]["b"])


def test_hidden_unit_spread_counts_biases():
    """Units with equal incoming weights but different biases are not copies: the spread is
    the largest bias gap (closed form max_i (max_j - min_j) over the stacked [W; b])."""
    from nndl_jax.train.initialization import hidden_unit_spread

    w0 = np.full((2, 3), 0.5, np.float32)
    b0 = np.array([0.0, 0.3, -0.1], np.float32)
    params = [
        {"w": jnp.asarray(w0), "b": jnp.asarray(b0)},
        {"w": jnp.ones((3, 2)), "b": jnp.zeros((2,))},
    ]
    stacked = np.concatenate([w0, b0[None]], axis=0)
    want = np.max(stacked.max(axis=1) - stacked.min(axis=1))
    np.testing.assert_allclose(hidden_unit_spread(params), want, rtol=1e-6)
    assert want > 0
