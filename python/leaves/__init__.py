"""leaves in PyTorch: the LEAVES augmentation module, its baselines and the
encoders of leaves' runs as torch.nn.Modules, running leaves' C++ code.

    import torch, leaves
    gen = leaves.Leaves(eta=0.05, mixture_components=12)     # learnable views
    v1, v2 = gen(x), gen(x)                                  # x: [B, C, L] float
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3)        # ~20 intensities

    enc = leaves.load_encoder("runs/leaves")                 # [B, C, L] -> [B, D]
    data = leaves.load_data("ucr:DIR/ECG200")                # any spec the CLI takes
    z = enc(data.test.x)

Tensors cross between Python and C++ without a copy, and one autograd graph
spans both: the modules' parameters are the C++ modules' own tensors, so a
Python optimizer steps exactly what the C++ forward reads. A bad option raises
ValueError with the library's message ("eta must be > 0, got -1").
"""
import collections as _collections

import torch as _torch  # first: the extension resolves LibTorch's Python bindings from it

from . import _leaves

__all__ = ["Leaves", "ViewMaker", "RandomViews", "ResNet1d", "Encoder", "load_encoder", "load_generator",
           "load_data", "nt_xent", "read_npy", "write_npy", "Data", "Split"]

__version__ = _leaves.version
#: The LibTorch version the module was built against (Python's torch must be the same).
torch_version = _leaves.torch_version


class _Node(_torch.nn.Module):
    """One C++ module of a tree: its own parameters and buffers (the C++
    tensors themselves, as Parameters) and its children as submodules, so that
    `state_dict()` keys are the C++ names ("magwarp.raw", "body.0.bn1.weight")."""

    def __init__(self, tree):
        super().__init__()
        self._cpp_name = tree["name"]
        for name, tensor in tree["parameters"]:
            # The C++ tensor becomes a Parameter in place (same object, same
            # storage, same autograd identity): an optimizer over
            # `parameters()` steps the tensor the C++ forward reads.
            if not isinstance(tensor, _torch.nn.Parameter):
                tensor.__class__ = _torch.nn.Parameter
            self._parameters[name] = tensor
        for name, tensor in tree["buffers"]:
            self._buffers[name] = tensor
        for name, child in tree["children"]:
            self._modules[name] = _Node(child)

    def _get_name(self):
        return self._cpp_name  # the C++ module's class in repr(): "Jitter", "Conv1d"

    def _apply(self, fn):
        # `.to()`, `.double()`, `.cuda()`: change the C++ tensors in place
        # (set_data), never replace them, so C++ keeps seeing what Python sees.
        for child in self.children():
            child._apply(fn)
        with _torch.no_grad():
            for tensor in list(self._parameters.values()) + list(self._buffers.values()):
                if tensor is None:
                    continue
                tensor.data = fn(tensor)
                if tensor.grad is not None:
                    tensor.grad.data = fn(tensor.grad)
        return self

    def forward(self, *args):
        raise RuntimeError("a part of a leaves module: call the module it belongs to")


class _Wrapped(_Node):
    """A C++ module behind a torch.nn.Module; `train()` / `eval()` reach C++."""

    def __init__(self, handle):
        super().__init__(handle.tree())
        object.__setattr__(self, "_handle", handle)

    def _get_name(self):
        return type(self).__name__

    def train(self, mode=True):
        super().train(mode)
        self._handle.train(bool(mode))
        return self

    def __deepcopy__(self, memo):
        raise TypeError(f"{type(self).__name__} holds a C++ module and cannot be deep-copied: build a new one and "
                        "load_state_dict(old.state_dict())")


def _option_doc(kind):
    lines = []
    for key, default, values, help_text in _leaves.generator_options(kind):
        extra = f"; {values}" if values else ""
        lines.append(f"    {key} (default {default}{extra}): {help_text}")
    return "\n".join(lines)


class _Generator(_Wrapped):
    _kind = None

    def __init__(self, **options):
        handle = options.pop("_handle", None)
        if handle is None:
            handle = _leaves.make_generator(self._kind, options)
        super().__init__(handle)

    @classmethod
    def _from_handle(cls, handle):
        return cls(_handle=handle)

    @property
    def options(self):
        """The options it was built with (every option of its class)."""
        return dict(self._handle.options)

    def forward(self, x):
        """`[B, C, L]` float -> a view of the same shape; fresh randomness on
        every call (`torch.manual_seed` fixes it, as for any torch module)."""
        return self._handle.forward(x)

    def report(self):
        """The interpretable intensities (sigmas, mixture weights, segment
        count...) as a dict of floats, as `leaves plot params` draws them."""
        return self._handle.report()

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


class Leaves(_Generator):
    _kind = "leaves"


class RandomViews(_Generator):
    _kind = "random"


class ViewMaker(_Generator):
    _kind = "viewmaker"


Leaves.__doc__ = ("The LEAVES module (paper Eq. 1): jitter, scaling, magnitude warp, time distortion and "
                  "permutation with learnable intensities.\n\nOptions (keywords):\n" + _option_doc("leaves"))
RandomViews.__doc__ = ("SimCLR's random augmentations T(sigma): the same chain with fixed intensities (no "
                       "parameters).\n\nOptions (keywords):\n" + _option_doc("random"))
ViewMaker.__doc__ = ("ViewMaker 1D: a residual network adding a perturbation within an L1 budget.\n\n"
                     "Options (keywords):\n" + _option_doc("viewmaker"))


class Encoder(_Wrapped):
    """A ResNet-18 1D encoder: `[B, C, L]` -> `[B, 8 width]` embeddings."""

    in_channels = property(lambda self: self._handle.in_channels)
    width = property(lambda self: self._handle.width)
    output_dim = property(lambda self: self._handle.output_dim)

    def forward(self, x):
        return self._handle.forward(x)

    def embed(self, x, batch_size=256):
        """Embeddings of `x` in eval mode, without gradients, in batches: what
        `leaves embed` writes. The module's mode is kept."""
        return self._handle.embed(x, batch_size)

    def extra_repr(self):
        return f"in_channels={self.in_channels}, width={self.width}, output_dim={self.output_dim}"


def ResNet1d(in_channels=1, width=64):
    """A new, randomly initialised ResNet-18 1D encoder (width 64: the paper's, 512-d)."""
    return Encoder(_leaves.make_encoder(in_channels, width))


def load_encoder(run_dir):
    """The encoder a `leaves pretrain` run wrote (encoder.pt + encoder.json), in
    eval mode (call `.train()` to fine-tune it), on the CPU."""
    return Encoder(_leaves.load_encoder(str(run_dir))).eval()


def load_generator(run_dir):
    """The view generator of a `leaves pretrain` run as trained (its last checkpoint), on the CPU."""
    handle = _leaves.load_generator(str(run_dir))
    cls = {"leaves": Leaves, "random": RandomViews, "viewmaker": ViewMaker}[handle.kind]
    return cls._from_handle(handle)


Split = _collections.namedtuple("Split", ["x", "y", "targets"])
Split.__doc__ = ("One split: x [N, C, L] float32, y [N] int64 class indices (-1: not single-label), "
                 "targets [N, K] multi-hot (multi-label studies) or None.")
Data = _collections.namedtuple("Data", ["train", "val", "test", "class_names", "channel_names", "rate", "name"])
Data.__doc__ = "A data set's three splits and what it says of itself (rate in Hz, 0 when unknown)."


def load_data(spec):
    """The splits of a data spec, exactly as `leaves pretrain --data SPEC` sees them
    (`synthetic`, `ucr:DIR`, `uea:DIR`, `arrays:x=X.npy,y=Y.npy`, `apnea-ecg:DIR`, ...)."""
    d = _leaves.load_data(str(spec))
    splits = {k: Split(d[k]["x"], d[k]["y"], d[k]["targets"]) for k in ("train", "val", "test")}
    return Data(splits["train"], splits["val"], splits["test"], list(d["class_names"]), list(d["channel_names"]),
                d["rate"], d["name"])


def nt_xent(z1, z2, temperature=0.05):
    """SimCLR's NT-Xent loss of the pairs (z1[k], z2[k]), `[N, D]` each, at the
    paper's temperature 0.05 by default."""
    return _leaves.nt_xent(z1, z2, temperature)


def read_npy(file):
    """A `.npy` file as a tensor (little-endian float32, float64, int32, int64, uint8 or bool, C order)."""
    return _leaves.read_npy(str(file))


def write_npy(file, tensor):
    """A float32, float64, int32 or int64 tensor as a `.npy` file, written atomically
    (a reader never sees half a file)."""
    _leaves.write_npy(str(file), tensor)
