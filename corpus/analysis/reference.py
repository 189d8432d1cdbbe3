"""Reference data: real-world JAX, as people write it, for the op
distribution of `realistic` to be measured on.

`REAL_CODE` is a table of (function, input signature): functions that ship
with JAX called as users call them (`jax.nn.softmax`, `jax.scipy.special.*`,
`jnp.linalg.norm`, `lax.top_k`, ...) and the layers, losses and update rules
of flax/optax-style models written by hand in plain JAX (dense and
convolutional layers, normalisations, causal self-attention, recurrent cells
under `lax.scan`, training steps with `jax.value_and_grad`, Adam, dropout and
sampling with `jax.random`, ...). Shapes are those of small models, so that
lowering all of them takes seconds. It is data, not code to read: the
structure check leaves it out of its size limits.
"""
import jax
import jax.numpy as jnp
from jax import lax


# ---------------------------------------------------------------- activations and jax.nn

def softmax_probs(logits):
    """Class probabilities of a classifier head."""
    return jax.nn.softmax(logits, axis=-1)


def log_softmax_scores(logits):
    """Token log-probabilities of a language-model head."""
    return jax.nn.log_softmax(logits, axis=-1)


def gelu_tanh(x):
    """GELU as BERT/GPT write it (the tanh approximation, jax's default)."""
    return jax.nn.gelu(x)


def gelu_exact(x):
    """GELU with the exact erf form."""
    return jax.nn.gelu(x, approximate=False)


def silu_gate(x, gate):
    """A SiLU-gated product."""
    return jax.nn.silu(gate) * x


def elu_leaky_head(x, w):
    """A small head mixing ELU and leaky ReLU."""
    h = jax.nn.elu(x @ w)
    return jax.nn.leaky_relu(h, negative_slope=0.1)


def one_hot_labels(labels):
    """Integer labels as one-hot float targets."""
    return jax.nn.one_hot(labels, 10)


def logsumexp_rows(x):
    """Log-partition of each row."""
    return jax.scipy.special.logsumexp(x, axis=-1)


def l2_normalize(x):
    """Unit-norm embeddings, as before a cosine similarity."""
    return x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + 1e-6)


def sort_scores(x):
    """Scores sorted in descending order, and their order."""
    return jnp.sort(x, axis=-1)[:, ::-1], jnp.argsort(-x, axis=-1)


def where_mask_fill(x, mask):
    """Masked entries replaced by a large negative value."""
    return jnp.where(mask, x, -1e9)


def einsum_bilinear(x, w, y):
    """A bilinear score x^T W y per example."""
    return jnp.einsum("bi,ij,bj->b", x, w, y)


def top_k_scores(scores):
    """The five best scores of each row and their indices."""
    return lax.top_k(scores, 5)


def cumsum_offsets(lengths):
    """Start offsets of ragged rows: an exclusive cumulative sum."""
    return jnp.cumsum(lengths) - lengths


# ---------------------------------------------------------------- jax.scipy

def normal_cdf_logpdf(x, mu, sigma):
    """Gaussian log-density and CDF from jax.scipy.stats."""
    return jax.scipy.stats.norm.logpdf(x, mu, sigma), jax.scipy.stats.norm.cdf(x, mu, sigma)


def poisson_nll(counts, log_rate):
    """Poisson negative log-likelihood of counts (gammaln for log k!)."""
    rate = jnp.exp(log_rate)
    return jnp.sum(rate - jax.scipy.special.xlogy(counts, rate) + jax.scipy.special.gammaln(counts + 1.0))


def dirichlet_kl(alpha, beta):
    """KL divergence between two Dirichlet distributions."""
    sa, sb = alpha.sum(-1), beta.sum(-1)
    sp = jax.scipy.special
    return (sp.gammaln(sa) - sp.gammaln(alpha).sum(-1) - sp.gammaln(sb) + sp.gammaln(beta).sum(-1)
            + ((alpha - beta) * (sp.digamma(alpha) - sp.digamma(sa)[..., None])).sum(-1))


def gaussian_process_nll(k, y):
    """GP negative log marginal likelihood through a Cholesky factor."""
    n = k.shape[0]
    chol = jnp.linalg.cholesky(k + 1e-3 * jnp.eye(n))
    alpha = jax.scipy.linalg.cho_solve((chol, True), y)
    return 0.5 * y @ alpha + jnp.sum(jnp.log(jnp.diag(chol))) + 0.5 * n * jnp.log(2 * jnp.pi)


def fft_convolve(signal, kernel):
    """Circular convolution of signals through rfft/irfft."""
    return jnp.fft.irfft(jnp.fft.rfft(signal, axis=-1) * jnp.fft.rfft(kernel), n=signal.shape[-1], axis=-1)


def robust_scale(x):
    """Features scaled by median and interquartile range."""
    q1, q3 = jnp.percentile(x, jnp.array([25.0, 75.0]), axis=0)
    return (x - jnp.median(x, axis=0)) / (q3 - q1 + 1e-6)


def bucketize(x, boundaries):
    """Values to bucket indices with searchsorted."""
    return jnp.searchsorted(boundaries, x)


# ---------------------------------------------------------------- layers

def dense(x, w, b):
    """A dense layer: x @ W + b."""
    return x @ w + b


def mlp_gelu(x, w1, b1, w2, b2):
    """Two-layer MLP with GELU, as in a transformer feed-forward block."""
    return jax.nn.gelu(x @ w1 + b1) @ w2 + b2


def swiglu_ffn(x, w_gate, w_up, w_down):
    """LLaMA-style SwiGLU feed-forward block."""
    return (jax.nn.silu(x @ w_gate) * (x @ w_up)) @ w_down


def mixed_precision_dense(x, w):
    """A bf16 matmul accumulated in f32, as mixed-precision training does."""
    return jnp.dot(x.astype(jnp.bfloat16), w, preferred_element_type=jnp.float32)


def layer_norm(x, scale, bias):
    """LayerNorm over the last axis."""
    mean = x.mean(-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), -1, keepdims=True)
    return (x - mean) * lax.rsqrt(var + 1e-6) * scale + bias


def rms_norm(x, scale):
    """RMSNorm over the last axis."""
    return x * lax.rsqrt(jnp.mean(jnp.square(x), -1, keepdims=True) + 1e-6) * scale


def batch_norm_train(x, scale, bias, running_mean, running_var):
    """BatchNorm in training mode, updating its running statistics."""
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    y = (x - mean) / jnp.sqrt(var + 1e-5) * scale + bias
    return y, 0.9 * running_mean + 0.1 * mean, 0.9 * running_var + 0.1 * var


def _causal_self_attention(x, w_qkv, w_out, heads):
    """Multi-head causal self-attention of (batch, time, features)."""
    b, t, d = x.shape
    q, k, v = jnp.split(x @ w_qkv, 3, axis=-1)
    q, k, v = (a.reshape(b, t, heads, d // heads) for a in (q, k, v))
    scores = jnp.einsum("bthd,bshd->bhts", q, k) / jnp.sqrt(d // heads).astype(x.dtype)
    causal = jnp.tril(jnp.ones((t, t), dtype=bool))
    scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("bhts,bshd->bthd", weights, v).reshape(b, t, d) @ w_out


def causal_self_attention(x, w_qkv, w_out):
    """Four-head causal self-attention."""
    return _causal_self_attention(x, w_qkv, w_out, heads=4)


def padded_attention(q, k, v, lengths):
    """Single-head attention over padded keys, masked by sequence length."""
    scores = q @ jnp.swapaxes(k, -1, -2) / jnp.sqrt(q.shape[-1])
    valid = jnp.arange(k.shape[1])[None, None, :] < lengths[:, None, None]
    scores = jnp.where(valid, scores, -jnp.inf)
    return jax.nn.softmax(scores, axis=-1) @ v


def dot_product_attention(q, k, v):
    """jax.nn.dot_product_attention with a causal mask."""
    return jax.nn.dot_product_attention(q, k, v, is_causal=True)


def transformer_block(x, ln1_scale, ln1_bias, w_qkv, w_out, ln2_scale, ln2_bias, w1, b1, w2, b2):
    """A pre-LN transformer block: causal attention and a GELU MLP, with residuals."""
    x = x + _causal_self_attention(layer_norm(x, ln1_scale, ln1_bias), w_qkv, w_out, heads=4)
    return x + mlp_gelu(layer_norm(x, ln2_scale, ln2_bias), w1, b1, w2, b2)


def rotary_embedding(x, positions):
    """Rotary position embedding (RoPE) of (batch, time, heads, head_dim)."""
    half = x.shape[-1] // 2
    freqs = 1.0 / (10000.0 ** (jnp.arange(half) / half))
    angles = positions[:, None].astype(jnp.float32) * freqs
    sin, cos = jnp.sin(angles)[None, :, None, :], jnp.cos(angles)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def embedding_lookup(table, ids, pos_table):
    """Token embeddings plus learned positions, scaled as in the Transformer."""
    return table[ids] * jnp.sqrt(table.shape[1]) + pos_table[jnp.arange(ids.shape[1])]


def _conv(x, w, stride=1, groups=1, padding="SAME", dilation=1):
    """A channels-last convolution (NHWC images or NWC sequences), as flax.linen.Conv calls it."""
    spatial = x.ndim - 2
    layout = ("NHWC", "HWIO", "NHWC") if spatial == 2 else ("NWC", "WIO", "NWC")
    return lax.conv_general_dilated(x, w, (stride,) * spatial, padding, rhs_dilation=(dilation,) * spatial,
                                    dimension_numbers=layout, feature_group_count=groups)


def _max_pool(x):
    """2x2 max-pooling of NHWC images, as flax.linen.max_pool calls it."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def conv_bn_relu_pool(x, w, scale, bias, mean, var):
    """Conv2D, BatchNorm in inference mode, ReLU and 2x2 max-pool."""
    y = _conv(x, w)
    y = (y - mean) * lax.rsqrt(var + 1e-5) * scale + bias
    return _max_pool(jax.nn.relu(y))


def depthwise_separable_conv(x, w_depth, w_point):
    """MobileNet block: depthwise 3x3, pointwise 1x1, ReLU6."""
    y = _conv(x, w_depth, groups=x.shape[-1])
    return jnp.clip(_conv(y, w_point), 0.0, 6.0)


def strided_conv_avg_pool(x, w):
    """Strided convolution, then global average pooling to a feature vector."""
    return jax.nn.relu(_conv(x, w, stride=2)).mean(axis=(1, 2))


def conv_transpose_upsample(x, w):
    """A decoder's 2x upsampling with a transposed convolution."""
    return lax.conv_transpose(x, w, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def wavenet_gated_conv(x, w_filter, w_gate):
    """WaveNet's dilated causal 1D convolution with a tanh-sigmoid gate."""
    x = jnp.pad(x, ((0, 0), (4, 0), (0, 0)))   # (kernel 3 - 1) * dilation 2 on the left: causal
    return jnp.tanh(_conv(x, w_filter, padding="VALID", dilation=2)) * \
        jax.nn.sigmoid(_conv(x, w_gate, padding="VALID", dilation=2))


def gru_cell(h, x, w_x, w_h, b):
    """A GRU cell (update, reset and candidate gates)."""
    zx, rx, nx = jnp.split(x @ w_x + b, 3, axis=-1)
    zh, rh, nh = jnp.split(h @ w_h, 3, axis=-1)
    z, r = jax.nn.sigmoid(zx + zh), jax.nn.sigmoid(rx + rh)
    return (1 - z) * jnp.tanh(nx + r * nh) + z * h


def _lstm_step(carry, x, w_x, w_h, b):
    h, c = carry
    i, f, g, o = jnp.split(x @ w_x + h @ w_h + b, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return (h, c), h


def lstm_scan(xs, w_x, w_h, b):
    """An LSTM over a sequence (time-major) with lax.scan."""
    batch, hidden = xs.shape[1], w_h.shape[0]
    zeros = jnp.zeros((batch, hidden), xs.dtype)
    (h, _), hs = lax.scan(lambda carry, x: _lstm_step(carry, x, w_x, w_h, b), (zeros, zeros), xs)
    return h, hs


def scan_over_layers(x, ws, bs):
    """Stacked residual layers applied with lax.scan over their weights."""
    def layer(h, wb):
        w, b = wb
        return h + jax.nn.relu(h @ w + b), None
    return lax.scan(layer, x, (ws, bs))[0]


def gnn_message_passing(nodes, edges, senders, receivers, w_msg, w_node):
    """A graph-network layer: messages on edges, summed per receiving node."""
    messages = jax.nn.relu(jnp.concatenate([nodes[senders], edges], axis=-1) @ w_msg)
    aggregated = jax.ops.segment_sum(messages, receivers, num_segments=nodes.shape[0])
    return jax.nn.relu(jnp.concatenate([nodes, aggregated], axis=-1) @ w_node)


def moe_top2_routing(x, w_router, w_experts):
    """Mixture-of-experts: top-2 routing and a dense dispatch with einsum."""
    gates = jax.nn.softmax(x @ w_router, axis=-1)
    weights, experts = lax.top_k(gates, 2)
    weights = weights / weights.sum(-1, keepdims=True)
    combine = jnp.einsum("tk,tke->te", weights, jax.nn.one_hot(experts, w_router.shape[1]))
    return jnp.einsum("te,td,edf->tf", combine, x, w_experts)


# ---------------------------------------------------------------- losses and metrics

def cross_entropy_loss(logits, labels):
    """Softmax cross-entropy with integer labels."""
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def sigmoid_bce_loss(logits, targets):
    """Binary cross-entropy with logits, numerically stable."""
    return jnp.mean(jnp.maximum(logits, 0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits))))


def focal_loss(logits, targets):
    """Focal loss (gamma 2) for dense detection."""
    p = jax.nn.sigmoid(logits)
    ce = -(targets * jax.nn.log_sigmoid(logits) + (1 - targets) * jax.nn.log_sigmoid(-logits))
    p_t = targets * p + (1 - targets) * (1 - p)
    return jnp.sum((1 - p_t) ** 2.0 * ce) / jnp.maximum(targets.sum(), 1.0)


def huber_loss(pred, target):
    """Huber loss with delta 1."""
    err = jnp.abs(pred - target)
    return jnp.mean(jnp.where(err < 1.0, 0.5 * err ** 2, err - 0.5))


def accuracy(logits, labels):
    """Top-1 accuracy."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def contrastive_infonce(a, b):
    """InfoNCE (CLIP-style) loss between two batches of embeddings."""
    a, b = l2_normalize(a), l2_normalize(b)
    logits = a @ b.T / 0.07
    labels = jnp.arange(a.shape[0])
    return 0.5 * (cross_entropy_loss(logits, labels) + cross_entropy_loss(logits.T, labels))


def vae_kl_reparameterize(mu, logvar, seed):
    """VAE: a sample z by reparameterisation and the KL term to N(0, I)."""
    eps = jax.random.normal(jax.random.PRNGKey(seed), mu.shape)
    z = mu + jnp.exp(0.5 * logvar) * eps
    kl = -0.5 * jnp.sum(1 + logvar - mu ** 2 - jnp.exp(logvar), axis=-1)
    return z, kl.mean()


def kmeans_step(points, centroids):
    """One Lloyd iteration of k-means."""
    d2 = jnp.sum((points[:, None, :] - centroids[None]) ** 2, axis=-1)
    assign = jax.nn.one_hot(jnp.argmin(d2, axis=-1), centroids.shape[0])
    counts = assign.sum(0)
    new = (assign.T @ points) / jnp.maximum(counts, 1.0)[:, None]
    return jnp.where(counts[:, None] > 0, new, centroids)


def box_iou(boxes_a, boxes_b):
    """IoU between two sets of (y1, x1, y2, x2) boxes."""
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    tl = jnp.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    br = jnp.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    inter = jnp.prod(jnp.clip(br - tl, 0.0), axis=-1)
    return inter / (area(boxes_a)[:, None] + area(boxes_b)[None, :] - inter)


def masked_mean_pool(x, lengths):
    """Mean over the valid time steps of padded sequences."""
    mask = (jnp.arange(x.shape[1])[None, :] < lengths[:, None]).astype(x.dtype)
    return (x * mask[..., None]).sum(1) / jnp.maximum(mask.sum(1, keepdims=True), 1.0)


# ---------------------------------------------------------------- training

def _mlp_loss(params, x, labels):
    w1, b1, w2, b2 = params
    logits = jax.nn.relu(x @ w1 + b1) @ w2 + b2
    return cross_entropy_loss(logits, labels)


def sgd_train_step(w1, b1, w2, b2, x, labels):
    """A training step: value_and_grad of an MLP loss and an SGD update."""
    params = (w1, b1, w2, b2)
    loss, grads = jax.value_and_grad(_mlp_loss)(params, x, labels)
    return loss, jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads)


def adam_update(param, grad, m, v, step):
    """One Adam update with bias correction."""
    t = step + 1
    m = 0.9 * m + 0.1 * grad
    v = 0.999 * v + 0.001 * grad ** 2
    m_hat = m / (1 - 0.9 ** t)
    v_hat = v / (1 - 0.999 ** t)
    return param - 1e-3 * m_hat / (jnp.sqrt(v_hat) + 1e-8), m, v


def adamw_train_step(w, b, x, y, m_w, v_w, step):
    """Linear regression trained by AdamW: grads, Adam moments, decoupled weight decay."""
    loss, (gw, gb) = jax.value_and_grad(lambda w, b: jnp.mean((x @ w + b - y) ** 2), argnums=(0, 1))(w, b)
    new_w, m_w, v_w = adam_update(w, gw, m_w, v_w, step)
    return loss, new_w - 1e-3 * 0.01 * w, b - 1e-3 * gb, m_w, v_w


def sgd_weight_decay(w, b, gw, gb):
    """SGD with L2 weight decay applied to the weights only."""
    return w - 0.1 * (gw + 5e-4 * w), b - 0.1 * gb


def clip_by_global_norm(g1, g2, g3):
    """Gradients rescaled so that their global norm is at most 1."""
    grads = (g1, g2, g3)
    norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grads)))
    scale = jnp.minimum(1.0, 1.0 / (norm + 1e-6))
    return jax.tree_util.tree_map(lambda g: g * scale, grads)


def skip_nonfinite_update(param, grad):
    """Apply an SGD step only if every gradient is finite (lax.cond)."""
    return lax.cond(jnp.all(jnp.isfinite(grad)), lambda p: p - 0.01 * grad, lambda p: p, param)


def ema_params(ema_w, ema_b, w, b):
    """Exponential moving average of parameters."""
    return jax.tree_util.tree_map(lambda e, p: 0.999 * e + 0.001 * p, (ema_w, ema_b), (w, b))


def warmup_cosine_lr(step):
    """Linear warmup then cosine decay of the learning rate."""
    step = step.astype(jnp.float32)
    warm = step / 100.0
    progress = jnp.clip((step - 100.0) / 900.0, 0.0, 1.0)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * progress))
    return 3e-4 * jnp.where(step < 100, warm, cosine)


def dp_sgd_clipped_grads(w, x, y):
    """DP-SGD: per-example gradients (vmap of grad), clipped, averaged."""
    per_example = jax.vmap(jax.grad(lambda w, xi, yi: (xi @ w - yi) ** 2), in_axes=(None, 0, 0))(w, x, y)
    norms = jnp.linalg.norm(per_example, axis=-1, keepdims=True)
    return (per_example / jnp.maximum(1.0, norms)).mean(0)


def remat_mlp_grad(x, w1, w2):
    """Gradient of an MLP whose hidden layer is rematerialised (jax.checkpoint)."""
    hidden = jax.checkpoint(lambda x, w: jnp.tanh(x @ w))
    return jax.grad(lambda w1, w2: jnp.sum(hidden(x, w1) @ w2), argnums=(0, 1))(w1, w2)


def cnn_train_step(x, w, w_out, labels):
    """A CNN training step: conv, max-pool, dense head; grads through the pool."""
    def loss(w, w_out):
        h = _max_pool(jax.nn.relu(_conv(x, w)))
        return cross_entropy_loss(h.reshape(h.shape[0], -1) @ w_out, labels)
    value, (gw, gout) = jax.value_and_grad(loss, argnums=(0, 1))(w, w_out)
    return value, w - 0.01 * gw, w_out - 0.01 * gout


def quantize_int8(x):
    """Symmetric per-tensor int8 quantisation and its dequantisation."""
    scale = jnp.max(jnp.abs(x)) / 127.0
    q = jnp.clip(jnp.round(x / scale), -127, 127).astype(jnp.int8)
    return q, q.astype(jnp.float32) * scale


# ---------------------------------------------------------------- randomness, decoding, loops

def dropout(x, seed):
    """Dropout at rate 0.1 with a key made from a seed."""
    keep = jax.random.bernoulli(jax.random.PRNGKey(seed), 0.9, x.shape)
    return jnp.where(keep, x / 0.9, 0.0)


def gumbel_softmax(logits, seed, step):
    """Gumbel-softmax relaxation, its key folded in with the step."""
    key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
    return jax.nn.softmax((logits + jax.random.gumbel(key, logits.shape)) / 0.5, axis=-1)


def top_k_sampling(logits, seed):
    """Sample the next token among the 10 most likely, at temperature 0.8."""
    values, indices = lax.top_k(logits, 10)
    choice = jax.random.categorical(jax.random.PRNGKey(seed), values / 0.8, axis=-1)
    return jnp.take_along_axis(indices, choice[:, None], axis=-1)[:, 0]


def random_init(seed):
    """He-normal and uniform initialisation of a layer from a split key."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    w = jax.random.normal(k1, (32, 64)) * jnp.sqrt(2.0 / 32)
    b = jax.random.uniform(k2, (64,), minval=-0.1, maxval=0.1)
    return w, b


def augment_images(images, seed):
    """uint8 images to floats, random horizontal flip and random crop."""
    k_flip, k_crop = jax.random.split(jax.random.PRNGKey(seed))
    x = images.astype(jnp.float32) / 255.0
    flip = jax.random.bernoulli(k_flip, 0.5, (x.shape[0], 1, 1, 1))
    x = jnp.where(flip, x[:, :, ::-1, :], x)
    x = jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    oy, ox = jax.random.randint(k_crop, (2,), 0, 5)
    return lax.dynamic_slice(x, (0, oy, ox, 0), images.shape)


def greedy_decode_step(beam_scores, logprobs):
    """Beam-style argmax: the best (beam, token) of each batch row."""
    total = beam_scores[:, :, None] + logprobs
    best = jnp.argmax(total.reshape(total.shape[0], -1), axis=-1)
    return best // logprobs.shape[-1], best % logprobs.shape[-1], jnp.max(total, axis=(1, 2))


def beam_search_step(beam_scores, logprobs):
    """One beam-search expansion: top beams over (beam, token) pairs."""
    b, k, v = logprobs.shape
    scores, flat = lax.top_k((beam_scores[:, :, None] + logprobs).reshape(b, k * v), k)
    return scores, flat // v, flat % v


def kv_cache_update(cache, new_kv, index):
    """Write one decoding step's keys into a preallocated cache."""
    return lax.dynamic_update_slice(cache, new_kv, (0, index, 0, 0))


def newton_sqrt(a):
    """Square roots by Newton's iteration in a while_loop until converged."""
    def cond(state):
        x, i = state
        return (i < 30) & (jnp.max(jnp.abs(x * x - a)) > 1e-5)

    def body(state):
        x, i = state
        return 0.5 * (x + a / x), i + 1
    return lax.while_loop(cond, body, (jnp.maximum(a, 1.0), 0))[0]


def power_iteration(m, v0):
    """Top eigenvector estimate with a fori_loop of power iterations."""
    def body(_, v):
        v = m @ v
        return v / jnp.linalg.norm(v)
    v = lax.fori_loop(0, 20, body, v0)
    return v, v @ m @ v


def discounted_returns(rewards, dones):
    """Discounted returns of an RL rollout, a reverse lax.scan."""
    def step(ret, rd):
        r, d = rd
        ret = r + 0.99 * ret * (1.0 - d)
        return ret, ret
    return lax.scan(step, jnp.zeros(rewards.shape[1]), (rewards, dones), reverse=True)[1]


def cumsum_ranking(scores, mask):
    """Rank of each kept item and the kept scores compacted to the front."""
    position = jnp.cumsum(mask.astype(jnp.int32)) - 1
    target = jnp.where(mask, position, scores.shape[0])
    compacted = jnp.zeros_like(scores).at[target].set(scores, mode="drop")
    return jnp.where(mask, position, -1), compacted


def segment_sum_at(data, segment_ids):
    """Per-segment sums with .at[].add."""
    return jnp.zeros((8, data.shape[1]), data.dtype).at[segment_ids].add(data)


def hash_buckets(ids):
    """The hashing trick: integer ids mixed and folded into 1000 buckets."""
    h = ids * jnp.uint32(2654435761)
    h = h ^ (h >> 16)
    return (h % jnp.uint32(1000)).astype(jnp.int32)


# ---------------------------------------------------------------- the table

REAL_CODE = [
    (softmax_probs, "f32[8,10]"),
    (log_softmax_scores, "f32[4,16,64]"),
    (gelu_tanh, "f32[8,64]"),
    (gelu_exact, "f32[8,64]"),
    (silu_gate, "f32[8,32], f32[8,32]"),
    (elu_leaky_head, "f32[8,32], f32[32,16]"),
    (one_hot_labels, "i32[16]"),
    (logsumexp_rows, "f32[8,32]"),
    (l2_normalize, "f32[16,32]"),
    (sort_scores, "f32[4,20]"),
    (where_mask_fill, "f32[4,16], bool[4,16]"),
    (einsum_bilinear, "f32[8,16], f32[16,16], f32[8,16]"),
    (top_k_scores, "f32[4,50]"),
    (cumsum_offsets, "i32[16]"),
    (normal_cdf_logpdf, "f32[32], f32[32], f32[32]"),
    (poisson_nll, "f32[32], f32[32]"),
    (dirichlet_kl, "f32[8,5], f32[8,5]"),
    (gaussian_process_nll, "f32[16,16], f32[16]"),
    (fft_convolve, "f32[4,64], f32[64]"),
    (robust_scale, "f32[32,4]"),
    (bucketize, "f32[32], f32[7]"),
    (dense, "f32[8,32], f32[32,16], f32[16]"),
    (mlp_gelu, "f32[8,32], f32[32,128], f32[128], f32[128,32], f32[32]"),
    (swiglu_ffn, "f32[8,32], f32[32,64], f32[32,64], f32[64,32]"),
    (mixed_precision_dense, "f32[8,32], bf16[32,16]"),
    (layer_norm, "f32[4,16,32], f32[32], f32[32]"),
    (rms_norm, "f32[4,16,32], f32[32]"),
    (batch_norm_train, "f32[4,8,8,16], f32[16], f32[16], f32[16], f32[16]"),
    (causal_self_attention, "f32[2,16,32], f32[32,96], f32[32,32]"),
    (padded_attention, "f32[2,8,16], f32[2,12,16], f32[2,12,16], i32[2]"),
    (dot_product_attention, "f32[2,16,4,8], f32[2,16,4,8], f32[2,16,4,8]"),
    (transformer_block, "f32[2,16,32], f32[32], f32[32], f32[32,96], f32[32,32], f32[32], f32[32], "
                        "f32[32,128], f32[128], f32[128,32], f32[32]"),
    (rotary_embedding, "f32[2,16,4,8], i32[16]"),
    (embedding_lookup, "f32[100,32], i32[4,16], f32[64,32]"),
    (conv_bn_relu_pool, "f32[4,16,16,3], f32[3,3,3,16], f32[16], f32[16], f32[16], f32[16]"),
    (depthwise_separable_conv, "f32[2,16,16,8], f32[3,3,1,8], f32[1,1,8,16]"),
    (strided_conv_avg_pool, "f32[4,16,16,3], f32[3,3,3,16]"),
    (conv_transpose_upsample, "f32[2,8,8,16], f32[3,3,16,8]"),
    (wavenet_gated_conv, "f32[2,32,16], f32[3,16,16], f32[3,16,16]"),
    (gru_cell, "f32[8,32], f32[8,16], f32[16,96], f32[32,96], f32[96]"),
    (lstm_scan, "f32[10,8,16], f32[16,128], f32[32,128], f32[128]"),
    (scan_over_layers, "f32[8,32], f32[4,32,32], f32[4,32]"),
    (gnn_message_passing, "f32[10,16], f32[24,8], i32[24], i32[24], f32[24,16], f32[32,16]"),
    (moe_top2_routing, "f32[16,32], f32[32,4], f32[4,32,32]"),
    (cross_entropy_loss, "f32[16,10], i32[16]"),
    (sigmoid_bce_loss, "f32[16,8], f32[16,8]"),
    (focal_loss, "f32[16,8], f32[16,8]"),
    (huber_loss, "f32[16], f32[16]"),
    (accuracy, "f32[16,10], i32[16]"),
    (contrastive_infonce, "f32[8,32], f32[8,32]"),
    (vae_kl_reparameterize, "f32[8,16], f32[8,16], i32[]"),
    (kmeans_step, "f32[32,2], f32[4,2]"),
    (box_iou, "f32[8,4], f32[12,4]"),
    (masked_mean_pool, "f32[4,16,32], i32[4]"),
    (sgd_train_step, "f32[16,32], f32[32], f32[32,10], f32[10], f32[8,16], i32[8]"),
    (adam_update, "f32[32,16], f32[32,16], f32[32,16], f32[32,16], i32[]"),
    (adamw_train_step, "f32[8], f32[], f32[16,8], f32[16], f32[8], f32[8], i32[]"),
    (sgd_weight_decay, "f32[32,16], f32[16], f32[32,16], f32[16]"),
    (clip_by_global_norm, "f32[32,16], f32[16], f32[16,10]"),
    (skip_nonfinite_update, "f32[32,16], f32[32,16]"),
    (ema_params, "f32[32,16], f32[16], f32[32,16], f32[16]"),
    (warmup_cosine_lr, "i32[]"),
    (dp_sgd_clipped_grads, "f32[8], f32[16,8], f32[16]"),
    (remat_mlp_grad, "f32[8,16], f32[16,32], f32[32,4]"),
    (cnn_train_step, "f32[4,8,8,3], f32[3,3,3,8], f32[128,10], i32[4]"),
    (quantize_int8, "f32[32,16]"),
    (dropout, "f32[8,64], i32[]"),
    (gumbel_softmax, "f32[8,10], i32[], i32[]"),
    (top_k_sampling, "f32[4,100], i32[]"),
    (random_init, "i32[]"),
    (augment_images, "u8[4,16,16,3], i32[]"),
    (greedy_decode_step, "f32[4,3], f32[4,3,50]"),
    (beam_search_step, "f32[4,3], f32[4,3,50]"),
    (kv_cache_update, "f32[2,32,4,8], f32[2,1,4,8], i32[]"),
    (newton_sqrt, "f32[16]"),
    (power_iteration, "f32[16,16], f32[16]"),
    (discounted_returns, "f32[20,4], f32[20,4]"),
    (cumsum_ranking, "f32[32], bool[32]"),
    (segment_sum_at, "f32[32,8], i32[32]"),
    (hash_buckets, "u32[64]"),
]
