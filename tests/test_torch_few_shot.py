import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn_aimc.torch.few_shot import FewShotNet, adapt_readout, maml_adapt, meta_train  # noqa: E402


def _toy_tasks(n_classes=8, per_class=12, size=8, seed=0):
    """Classes are noisy copies of random prototypes: learnable features, new classes at test."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_classes, size, size)) > 0.6
    X = prototypes[np.repeat(np.arange(n_classes), per_class)] + 0.3 * rng.standard_normal((n_classes * per_class,
                                                                                           size, size))
    return X.astype(np.float32), np.repeat(np.arange(n_classes), per_class)


@pytest.mark.parametrize("first_order", [False, True])
def test_meta_training_lowers_the_query_loss(first_order):
    torch.set_num_threads(1)
    X, y = _toy_tasks()
    _, history = meta_train(X, y, n_ways=3, n_shots=2, n_queries=3, channels=8, meta_iterations=60,
                            meta_batch_size=4, outer_lr=1e-2, first_order=first_order, random_state=0)
    assert history[-15:].mean() < history[:15].mean() - 0.1


def test_meta_train_is_seeded_and_keeps_readout_in_range():
    X, y = _toy_tasks()
    kwargs = dict(n_ways=3, n_shots=2, n_queries=2, channels=4, meta_iterations=5, meta_batch_size=2, outer_lr=0.5)
    a, _ = meta_train(X, y, random_state=1, **kwargs)
    b, _ = meta_train(X, y, random_state=1, **kwargs)
    np.testing.assert_array_equal(a["readout"], b["readout"])
    np.testing.assert_array_equal(a["convs"][0], b["convs"][0])
    assert np.abs(a["readout"]).max() <= 1.0
    assert a["convs"][0].shape == (4, 1, 3, 3) and a["convs"][1].shape == (4, 4, 3, 3)


def test_batch_norm_uses_each_groups_statistics():
    net = FewShotNet(1, channels=3, n_ways=2, generator=torch.Generator().manual_seed(0))
    images = torch.rand(2, 4, 1, 16, 16)
    both = net.features(images)
    alone = net.features(images[1:])
    torch.testing.assert_close(both[1:], alone)


def test_second_order_gradient_differs_from_first_order():
    net = FewShotNet(1, channels=3, n_ways=2, generator=torch.Generator().manual_seed(0))
    net.readout.data.normal_(generator=torch.Generator().manual_seed(1))
    support, query = torch.rand(1, 4, 1, 8, 8), torch.rand(1, 4, 1, 8, 8)
    labels = torch.tensor([[0, 0, 1, 1]])
    grads = []
    for create_graph in (True, False):
        net.zero_grad()
        readout = adapt_readout(net.features(support), labels, net.readout, 2, 0.5, create_graph)
        torch.nn.functional.cross_entropy(torch.bmm(net.features(query), readout)[0], labels[0]).backward()
        grads.append(net.readout.grad.clone())
    assert not torch.allclose(grads[0], grads[1])


def test_maml_adapt_one_step_is_a_gradient_step_of_the_cross_entropy():
    X, y = _toy_tasks(n_classes=2, per_class=3)
    weights, _ = meta_train(X, y, n_ways=2, n_shots=1, n_queries=1, channels=4, meta_iterations=1)
    readout = maml_adapt(weights, X, y, n_inner_steps=0)
    np.testing.assert_allclose(readout, weights["readout"], rtol=1e-6)
    adapted = maml_adapt(weights, X, y, n_inner_steps=1, inner_lr=0.1)
    assert not np.allclose(adapted, readout)
