"""The torch converter and the numpy network runtime: ideal device equals torch's eval output."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sklearn_aimc import AnalogCrossbar  # noqa: E402
from sklearn_aimc.network import Network  # noqa: E402
from sklearn_aimc.torch.convert import convert  # noqa: E402
from sklearn_aimc.torch.resnet import ResidualBlock, conv_bn_relu, resnet9  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_aimc.AnalogClippingWarning")


def _randomize_batch_norms(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.2)
    return model.eval()


def _tiny_model():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        ResidualBlock(nn.Sequential(conv_bn_relu(6, 6), nn.Conv2d(6, 6, 3, padding=1), nn.BatchNorm2d(6)),
                      relu=True),
        nn.MaxPool2d(2),
        ResidualBlock(conv_bn_relu(6, 8), shortcut=nn.Conv2d(6, 8, 1, stride=1, bias=False)),
        nn.AvgPool2d(2), nn.Dropout(0.5),
        nn.Conv2d(8, 8, 2, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4),
    )
    return _randomize_batch_norms(model).double()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).standard_normal((40, 1, 8, 8))


def _torch_output(model, X):
    with torch.no_grad():
        return model(torch.from_numpy(X)).numpy()


def test_float_runtime_equals_torch(images):
    model = _tiny_model()
    net = convert(model)
    np.testing.assert_allclose(net.forward(images), _torch_output(model, images), rtol=1e-10, atol=1e-10)
    # Batch norms and ReLUs after a chip layer are folded into it: 8 chip layers, no digital BN.
    assert len(net.chip_layers()) == 8


def test_ideal_chip_equals_torch(images):
    model = _tiny_model()
    net = convert(model).program("ideal", images, random_state=0)
    assert len(net.crossbars_) == 8
    np.testing.assert_allclose(net.forward(images), _torch_output(model, images), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("post_processing", ["fixed", "fp16"])
def test_hermes_chip_is_close_and_noisy(images, post_processing):
    model = _tiny_model()
    expected = _torch_output(model, images)
    net = convert(model).program(AnalogCrossbar(post_processing=post_processing), images, random_state=0)
    out = net.forward(images)
    error = np.linalg.norm(out - expected) / np.linalg.norm(expected)
    assert 1e-4 < error < 0.3
    np.testing.assert_array_equal(out, net.forward(images))  # reads are a function of (seed, row, time)
    assert not np.array_equal(out, net.forward(images, t_inference=86400.0))


def test_resnet9_converts_and_equals_torch_on_the_ideal_chip():
    model = _randomize_batch_norms(resnet9(in_channels=1, n_classes=10, width=4)).double()
    X = np.random.default_rng(1).standard_normal((6, 1, 8, 8))  # three 2x2 pools: 8 -> 1
    net = convert(model).program("ideal", X, random_state=0)
    assert len(net.crossbars_) == 9  # 8 convolutions and the classifier
    np.testing.assert_allclose(net.forward(X), _torch_output(model, X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh()), r"Layer '1' of type Tanh"),
        (nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), r"Layer '0'.*one group"),
        (nn.Sequential(nn.Conv2d(1, 2, 3, padding="same")), r"Layer '0'"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)), r"Layer '2'.*batch norm"),
        (nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, padding=1))), r"Layer '0.1'"),
        (nn.Sequential(nn.AdaptiveAvgPool2d(2)), r"Layer '0'.*global"),
        (nn.Sequential(nn.LSTM(3, 3)), r"Layer '0' of type LSTM"),
    ],
)
def test_unsupported_layers_are_named(model, match):
    with pytest.raises(ValueError, match=match):
        convert(model)


def test_program_reprograms_fresh_chips(images):
    net = convert(_tiny_model())
    assert isinstance(net, Network)
    first = net.program("hermes", images, random_state=0).forward(images)
    again = net.program("hermes", images, random_state=0).forward(images)
    np.testing.assert_array_equal(first, again)
    other = net.program("hermes", images, random_state=1).forward(images)
    assert not np.array_equal(first, other)
