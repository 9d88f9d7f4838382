"""The 2-joint arm: forward kinematics against hand-computed poses, trajectories and the loss."""

import numpy as np
import pytest

from sklearn_aimc.robot_arm import forward_kinematics, joint_angles, random_trajectories, trajectory_loss


@pytest.mark.parametrize(
    "angles, expected",
    [
        ((0.0, 0.0), (1.0, 0.0)),  # stretched along x
        ((np.pi / 2, 0.0), (0.0, 1.0)),  # stretched along y
        ((0.0, np.pi / 2), (0.5, 0.5)),  # elbow bent up
        ((0.0, np.pi), (0.0, 0.0)),  # folded back onto the shoulder
        ((np.pi / 4, -np.pi / 4), (0.5 / np.sqrt(2) + 0.5, 0.5 / np.sqrt(2))),
    ],
)
def test_forward_kinematics_hand_computed_poses(angles, expected):
    np.testing.assert_allclose(forward_kinematics(angles), expected, atol=1e-12)


def test_forward_kinematics_other_links_and_batches():
    angles = np.array([[[0.0, np.pi / 2]], [[np.pi, 0.0]]])
    np.testing.assert_allclose(forward_kinematics(angles, (2.0, 1.0)), [[[2.0, 1.0]], [[-3.0, 0.0]]], atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="angles"):
        forward_kinematics([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="link_lengths"):
        forward_kinematics([0.0, 0.0], (1.0, -1.0))
    with pytest.raises(ValueError, match="n_trajectories"):
        random_trajectories(0)
    with pytest.raises(ValueError, match="max_velocity"):
        random_trajectories(2, max_velocity=0)
    with pytest.raises(ValueError, match="shape"):
        trajectory_loss(np.zeros((3, 2)), np.zeros((4, 2)))


def test_joint_angles_integrate():
    v = np.tile([[2.0, -1.0]], (10, 1))
    angles = joint_angles(v, dt=0.1, initial_angles=(1.0, 0.0))
    np.testing.assert_allclose(angles[-1], [3.0, -1.0])


def test_trajectories_seeded_clipped_and_smooth():
    a = random_trajectories(20, random_state=3)
    np.testing.assert_array_equal(a, random_trajectories(20, random_state=3))
    assert not np.array_equal(a, random_trajectories(20, random_state=4))
    assert a.shape == (20, 250, 2) and np.abs(a).max() <= 2.0
    # smoothed: the step-to-step change is far smaller than the velocities themselves
    assert np.abs(np.diff(a, axis=1)).mean() < 0.05 * np.abs(a).mean()
    # not degenerate: trajectories differ from each other
    assert a.std(axis=0).mean() > 0.1


def test_loss_hand_computed():
    target = np.zeros((1, 2, 2))
    produced = np.zeros((1, 2, 2))
    produced[0, :, 1] = 1.0  # elbow turns at 1 rad/s
    dt = 0.5
    angles = np.array([[0.0, np.pi / 2 + 0.5], [0.0, np.pi / 2 + 1.0]])
    position = np.stack([0.5 + 0.5 * np.cos(angles[:, 1]), 0.5 * np.sin(angles[:, 1])], axis=1)
    position_mse = np.mean((position - [0.5, 0.5]) ** 2)
    expected = 0.5 * 0.5 + 0.5 * position_mse
    np.testing.assert_allclose(trajectory_loss(produced, target, dt=dt), [expected])
