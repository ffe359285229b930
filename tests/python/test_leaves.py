"""The Python module against the C++ library and the command-line tool.

Run by CTest (python.*) with PYTHONPATH=BUILD/python, LEAVES_CLI=BUILD/leaves and
LEAVES_DATA=../shared/data:  python3 -m unittest test_leaves -k NAME
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

import leaves

CLI = os.environ.get("LEAVES_CLI", "leaves")
DATA = os.environ.get("LEAVES_DATA", "")
TINY = "synthetic:size=96,length=128"


def cli(*args):
    """Runs the leaves tool; returns (exit status, stdout + stderr)."""
    p = subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


class _Run:
    """One tiny pre-training run, shared by the tests of a class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="leaves-py-")
        cls.run_dir = os.path.join(cls.tmp, "run")
        rc, out = cli("pretrain", "--data", TINY, "--epochs", "3", "--min-steps", "0", "--width", "4",
                      "--batch-size", "16", "--seed", "5", "--out", cls.run_dir)
        if rc != 0:
            raise AssertionError("leaves pretrain failed:\n" + out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


def seeded(module, seed=0):
    """The module's forward with its randomness fixed: a deterministic function."""
    def f(x):
        torch.manual_seed(seed)
        return module(x)
    return f


class GradientTest(unittest.TestCase):
    def test_finite_differences_through_leaves(self):
        """Autograd through the C++ augmentations against central differences, in
        float64, for one fixed draw: the input (every augmentation is linear in
        it) and every continuous intensity. The time distortion samples by
        inverse CDF here: its gradient (implicit reparameterisation) is then the
        derivative of the draw itself; under ancestral sampling it is an
        estimator of the expectation's gradient, not of one draw's. The
        permutation's segment count is a discrete draw whose gradient is an
        estimator by design (docs/method.md): finite differences see a step
        function there, so its parameter is left out."""
        torch.manual_seed(1)
        gen = leaves.Leaves(mixture_components=3, knots=4, sampling="inverse-cdf").double()
        x = torch.randn(3, 2, 40, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(seeded(gen), (x,), eps=1e-6, atol=1e-5, rtol=1e-4))

        weight = torch.randn(3, 2, 40, dtype=torch.float64)
        names = ["jitter.raw", "scale.raw", "magwarp.raw", "distortion.logits", "distortion.mu", "distortion.rho"]
        params = dict(gen.named_parameters())
        for name in names:
            p = params[name]
            self.assertEqual(p.dtype, torch.float64, name)
            gen.zero_grad()
            (seeded(gen)(x.detach()) * weight).sum().backward()
            analytic = p.grad.clone()
            numeric = torch.zeros_like(p)
            flat, nflat = p.data.view(-1), numeric.view(-1)
            for i in range(flat.numel()):
                keep = flat[i].item()
                with torch.no_grad():
                    flat[i] = keep + 1e-6
                    up = (seeded(gen)(x) * weight).sum().item()
                    flat[i] = keep - 1e-6
                    down = (seeded(gen)(x) * weight).sum().item()
                    flat[i] = keep
                nflat[i] = (up - down) / 2e-6
            self.assertTrue(torch.allclose(analytic, numeric, rtol=1e-4, atol=1e-6),
                            f"{name}: autograd {analytic.tolist()} vs finite differences {numeric.tolist()}")
            self.assertGreater(analytic.abs().sum().item(), 0, name)


class ModuleTest(unittest.TestCase):
    def test_parameters_are_the_cpp_tensors(self):
        gen = leaves.Leaves()
        names = [n for n, _ in gen.named_parameters()]
        self.assertEqual(names, ["jitter.raw", "scale.raw", "magwarp.raw", "distortion.logits", "distortion.mu",
                                 "distortion.rho", "permutation.raw"])
        self.assertEqual(sum(p.numel() for p in gen.parameters()), 19)  # the CLI's "19 learnable parameters"
        self.assertTrue(all(isinstance(p, torch.nn.Parameter) for p in gen.parameters()))
        self.assertIn("distortion.logits", gen.state_dict())
        before = gen.report()
        opt = torch.optim.SGD(gen.parameters(), lr=1.0)
        for p in gen.parameters():
            p.grad = torch.ones_like(p)
        opt.step()  # a Python optimizer moves what the C++ module reports
        after = gen.report()
        self.assertNotEqual(before["jitter_sigma"], after["jitter_sigma"])
        # load_state_dict reaches C++ too
        fresh = leaves.Leaves()
        fresh.load_state_dict(gen.state_dict())
        self.assertEqual(fresh.report(), after)

    def test_defaults_and_options_are_the_cpp_ones(self):
        self.assertEqual(leaves.Leaves().options["knots"], 8)
        self.assertEqual(leaves.Leaves().options["eta"], 0.05)
        self.assertEqual(leaves.RandomViews().options["sigma"], 0.03)
        self.assertEqual(leaves.ViewMaker(channels=3).options, {"channels": 3, "budget": 0.05})
        self.assertEqual(leaves.Leaves(mixture_components=12).distortion.mu.numel(), 12)
        self.assertEqual(list(leaves.RandomViews().parameters()), [])
        self.assertIn("mixture_components (default 5", leaves.Leaves.__doc__)

    def test_views_keep_shape_and_train_eval_reach_cpp(self):
        x = torch.randn(4, 3, 64)
        for gen in (leaves.Leaves(), leaves.RandomViews(), leaves.ViewMaker(channels=3)):
            self.assertEqual(gen(x).shape, x.shape, type(gen).__name__)
        vm = leaves.ViewMaker(channels=3)
        self.assertTrue(len(list(vm.parameters())) > 10)
        vm.eval()
        self.assertFalse(vm.training)
        enc = leaves.ResNet1d(in_channels=3, width=4)
        enc.eval()
        with torch.no_grad():
            a, b = enc(x), enc(x)
        self.assertTrue(torch.equal(a, b))  # eval: running statistics, deterministic
        enc.train()
        with torch.no_grad():
            enc(x)
        self.assertFalse(torch.equal(enc.get_submodule("stem_bn").running_mean, torch.zeros(4)))

    def test_version_and_repr(self):
        rc, out = cli("--version")
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.startswith(f"leaves {leaves.__version__} (LibTorch "), out)
        self.assertEqual(leaves.torch_version.split(".")[:2], torch.__version__.split(".")[:2])
        text = repr(leaves.Leaves(knots=4))
        self.assertTrue(text.startswith("Leaves(\n  eta=0.05, mixture_components=5, max_segments=5, knots=4,"), text)
        self.assertIn("(magwarp): MagnitudeWarp()", text)
        self.assertIn("(stem_conv): Conv1d()", repr(leaves.ResNet1d(width=2)))

    def test_numbers_of_other_types_are_taken(self):
        import numpy
        gen = leaves.Leaves(eta=numpy.float32(0.25), knots=numpy.int64(6), mixture_components=torch.tensor(4))
        self.assertAlmostEqual(gen.options["eta"], 0.25)
        self.assertEqual((gen.options["knots"], gen.options["mixture_components"]), (6, 4))
        with self.assertRaises(ValueError) as e:
            leaves.Leaves(knots=2 ** 70)
        self.assertEqual(str(e.exception), f"knots must fit in a 64-bit integer, got {2 ** 70}")

    def test_every_parameter_gets_a_gradient(self):
        """Every parameter but the encoder's convolution biases, which the
        BatchNorm after each convolution cancels in training: the encoder runs
        without them and they get no gradient (`--conv-bias fold`, docs/engine.md)."""
        x = torch.randn(4, 2, 64)
        for module in (leaves.Leaves(), leaves.ViewMaker(channels=2), leaves.ResNet1d(in_channels=2, width=2)):
            module(x).square().mean().backward()
            for name, p in module.named_parameters():
                label = f"{type(module).__name__}.{name}"
                if isinstance(module, leaves.Encoder) and re.search(r"conv\d?\.bias$", name):
                    self.assertIsNone(p.grad, label)
                    continue
                self.assertIsNotNone(p.grad, label)
                self.assertTrue(torch.isfinite(p.grad).all(), label)

    def test_double_reaches_cpp(self):
        gen = leaves.Leaves().double()
        y = gen(torch.randn(2, 1, 50, dtype=torch.float64))
        self.assertEqual(y.dtype, torch.float64)


class SimclrLoopTest(unittest.TestCase):
    def test_five_steps_with_leaves_as_adversary_lower_the_loss(self):
        """A SimCLR loop written here in Python: a small PyTorch encoder, NT-Xent
        at the paper's temperature, and leaves.Leaves trained against it with
        one backward pass (its gradients negated). The loss on views held fixed
        (one draw from the untrained generator) goes down, and the adversary moved."""
        torch.manual_seed(0)
        t = torch.linspace(0, 1, 96)
        x = torch.stack([torch.sin(2 * 3.1416 * (2 + i % 3) * t + i) for i in range(32)]).unsqueeze(1)
        encoder = torch.nn.Sequential(
            torch.nn.Conv1d(1, 16, 7, padding=3), torch.nn.ReLU(), torch.nn.Conv1d(16, 32, 5, padding=2),
            torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(), torch.nn.Linear(32, 32))
        gen = leaves.Leaves()
        opt = torch.optim.Adam(encoder.parameters(), lr=3e-3)
        adversary = torch.optim.Adam(gen.parameters(), lr=0.05)
        with torch.no_grad():
            fixed = (gen(x), gen(x))
            start_params = {n: p.clone() for n, p in gen.named_parameters()}

        def fixed_loss():
            with torch.no_grad():
                return leaves.nt_xent(encoder(fixed[0]), encoder(fixed[1])).item()

        before = fixed_loss()
        losses = []
        for _ in range(5):
            loss = leaves.nt_xent(encoder(gen(x)), encoder(gen(x)), temperature=0.05)
            opt.zero_grad()
            adversary.zero_grad()
            loss.backward()
            for p in gen.parameters():
                p.grad.neg_()  # the generator maximises what the encoder minimises
            opt.step()
            adversary.step()
            losses.append(loss.item())
        after = fixed_loss()
        self.assertLess(after, before, f"fixed-view loss {before} -> {after}; step losses {losses}")
        moved = [n for n, p in gen.named_parameters() if not torch.equal(p, start_params[n])]
        self.assertEqual(len(moved), len(start_params), f"parameters the adversary moved: {moved}")

    def test_nt_xent_is_simclr_loss(self):
        z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
        z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
        s = z @ z.t() / 0.05
        s.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(6, 12), torch.arange(0, 6)])
        expected = torch.nn.functional.cross_entropy(s, target)
        self.assertTrue(torch.allclose(leaves.nt_xent(z1, z2), expected, atol=1e-5))


class RunTest(_Run, unittest.TestCase):
    def test_load_encoder_equals_leaves_embed(self):
        out = os.path.join(self.tmp, "z.npy")
        rc, text = cli("embed", "--encoder", self.run_dir, "--data", TINY, "--split", "test", "--out", out)
        self.assertEqual(rc, 0, text)
        expected = leaves.read_npy(out)
        enc = leaves.load_encoder(self.run_dir)
        self.assertFalse(enc.training)
        data = leaves.load_data(TINY)
        with torch.no_grad():
            z = enc(data.test.x)
        self.assertEqual(z.shape, expected.shape)
        # The tool runs on all cores, Debian's torch on one thread by default: the
        # same arithmetic summed in another order, so equal to rounding.
        self.assertLessEqual((z - expected).abs().max().item(), 1e-6)
        self.assertLessEqual((enc.embed(data.test.x) - expected).abs().max().item(), 1e-6)
        self.assertTrue(torch.equal(data.test.y, leaves.read_npy(os.path.join(self.tmp, "z.labels.npy"))))
        self.assertEqual(enc.output_dim, 32)

    def test_load_generator_is_the_trained_one(self):
        gen = leaves.load_generator(self.run_dir)
        self.assertIsInstance(gen, leaves.Leaves)
        rc, text = cli("views", "--data", TINY, "--generator", self.run_dir, "--count", "1")
        self.assertEqual(rc, 0, text)
        # `leaves views` prints the learned intensities; the module reports the same values.
        report = gen.report()
        for name in ("jitter_sigma", "scale_sigma", "magwarp_sigma"):
            m = re.search(rf"{name}\s+([0-9.e-]+)", text)
            self.assertIsNotNone(m, f"{name} not in:\n{text}")
            self.assertAlmostEqual(report[name], float(m.group(1)), places=4)
        self.assertNotAlmostEqual(report["jitter_sigma"], leaves.Leaves().report()["jitter_sigma"], places=6)


class DataTest(unittest.TestCase):
    def test_load_data_of_a_ucr_set(self):
        if not DATA:
            self.skipTest("LEAVES_DATA not set")
        d = leaves.load_data(f"ucr:{DATA}/ucr/GunPoint")
        self.assertEqual(d.train.x.shape[0] + d.val.x.shape[0], 50)  # GunPoint: 50 train, 150 test
        self.assertEqual(tuple(d.test.x.shape), (150, 1, 150))
        self.assertEqual(d.test.x.dtype, torch.float32)
        self.assertEqual(d.test.y.dtype, torch.int64)
        self.assertIsNone(d.test.targets)
        self.assertEqual(len(d.class_names), 2)


class DocsTest(unittest.TestCase):
    def test_readme_python_snippet_runs(self):
        """The README's snippet, as a user pastes it, in a folder holding the
        `runs/leaves` it loads (a tiny run of the tool)."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md"), encoding="utf-8") as f:
            readme = f.read()
        section = readme[readme.index("## From Python"):]
        snippet = section[section.index("```python\n") + len("```python\n"):]
        snippet = snippet[:snippet.index("```")]
        tmp = tempfile.mkdtemp(prefix="leaves-readme-")
        try:
            rc, out = cli("pretrain", "--data", "synthetic:size=96,length=250", "--epochs", "1", "--min-steps", "0",
                          "--width", "4", "--batch-size", "16", "--out", os.path.join(tmp, "runs", "leaves"))
            self.assertEqual(rc, 0, out)
            p = subprocess.run([sys.executable, "-c", snippet], cwd=tmp, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertRegex(p.stdout, r"^loss [0-9.]+ \{'jitter_sigma': ")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class ErrorTest(unittest.TestCase):
    def test_bad_option_is_a_value_error_with_the_cpp_message(self):
        with self.assertRaises(ValueError) as e:
            leaves.Leaves(eta=-1)
        self.assertEqual(str(e.exception), "eta must be > 0, got -1")
        # the command line refuses the same value with the same words
        rc, text = cli("pretrain", "--eta", "-1", "--out", os.path.join(tempfile.gettempdir(), "leaves-py-never"))
        self.assertEqual(rc, 2)
        self.assertIn("must be > 0, got -1", text)

    def test_other_refusals(self):
        cases = [
            (lambda: leaves.Leaves(budget=0.1), "budget is not an option of leaves.Leaves; its options: eta,"),
            (lambda: leaves.Leaves(eta="big"), "eta must be a number, got \"big\""),
            (lambda: leaves.Leaves(knots=2.5), "knots must be an integer, got 2.5"),
            (lambda: leaves.Leaves(perm_estimator="gumbel"), "perm_estimator must be"),
            (lambda: leaves.Leaves(eta=[1]), "eta must be a number, True/False or a string, got a list"),
            (lambda: leaves.Leaves()(torch.randn(4, 10)), "LEAVES"),
            (lambda: leaves.ResNet1d(width=0), "width must be between 1 and 4096, got 0"),
            (lambda: leaves.ResNet1d(in_channels=2)(torch.randn(1, 3, 20)), "x must be [B, 2, L], got [1, 3, 20]"),
            (lambda: leaves.load_data("nosuchkind:x"), "nosuchkind"),
            (lambda: leaves.load_encoder("/nonexistent/run"), "/nonexistent/run"),
            (lambda: leaves.load_generator("/nonexistent/run"), "/nonexistent/run: no config.json"),
            (lambda: leaves.nt_xent(torch.randn(3, 4), torch.randn(2, 4)), "z1 and z2 must both be [N, D]"),
        ]
        for call, needle in cases:
            with self.assertRaises(ValueError, msg=needle) as e:
                call()
            self.assertIn(needle, str(e.exception))


if __name__ == "__main__":
    unittest.main()
