"""The SMPL-X kinematic tree: joint names, parents and the mannequin's rest skeleton.

The order and parents are those of real SMPL-X (55 joints), so poses written for SMPL-X (or the first 22
joints of SMPL, as hmr2 predicts them) mean the same thing on the mannequin.
"""

from __future__ import annotations

import numpy as np

#: The 55 SMPL-X joints, in SMPL-X order.
JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "jaw",
    "left_eye_smplhf", "right_eye_smplhf",
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2", "right_middle3",
    "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1", "right_ring2", "right_ring3",
    "right_thumb1", "right_thumb2", "right_thumb3",
)

#: Parent index of each joint (-1 for the root), as in SMPL-X's kintree_table.
PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
     20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
     21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53], dtype=np.int64)

#: Names of the 21 body joints posed by ``body_pose`` (SMPL-X joints 1..21).
BODY_JOINT_NAMES: tuple[str, ...] = JOINT_NAMES[1:22]
#: Names of the 15 finger joints of each hand, without the side prefix.
HAND_JOINT_NAMES: tuple[str, ...] = tuple(n[len("left_"):] for n in JOINT_NAMES[25:40])

FINGERS = ("index", "middle", "pinky", "ring", "thumb")


def mirror_joint_index() -> np.ndarray:
    """Index permutation that swaps left and right joints.

    Returns
    -------
    np.ndarray, shape (55,)
        ``perm[j]`` is the joint that plays ``j``'s role on the other side.
    """
    index = {n: i for i, n in enumerate(JOINT_NAMES)}
    perm = np.arange(len(JOINT_NAMES))
    for i, n in enumerate(JOINT_NAMES):
        if n.startswith("left_"):
            perm[i] = index["right_" + n[5:]]
        elif n.startswith("right_"):
            perm[i] = index["left_" + n[6:]]
    return perm


def _rest_skeleton() -> np.ndarray:
    """Rest (T-pose) joint positions of the mannequin, metres, y up, facing +z, soles at y=0.

    Returns
    -------
    np.ndarray, shape (55, 3)
    """
    j: dict[str, tuple[float, float, float]] = {
        "pelvis": (0.0, 0.955, 0.0),
        "spine1": (0.0, 1.065, -0.012),
        "spine2": (0.0, 1.19, -0.008),
        "spine3": (0.0, 1.31, -0.004),
        "neck": (0.0, 1.495, -0.018),
        "head": (0.0, 1.575, 0.0),
        "jaw": (0.0, 1.585, 0.025),
        "left_eye_smplhf": (0.032, 1.645, 0.082),
        "left_hip": (0.088, 0.885, 0.0),
        "left_knee": (0.098, 0.505, 0.008),
        "left_ankle": (0.105, 0.085, -0.025),
        "left_foot": (0.115, 0.028, 0.105),
        "left_collar": (0.035, 1.43, -0.005),
        "left_shoulder": (0.175, 1.44, -0.015),
        "left_elbow": (0.445, 1.44, -0.025),
        "left_wrist": (0.695, 1.44, -0.015),
    }
    # Hand, palm down (-y), fingers along +x, thumb towards the front (+z), as in SMPL-X's rest pose.
    wx, wy, wz = j["left_wrist"]
    knuckle = {"index": (0.088, 0.031), "middle": (0.093, 0.0105), "ring": (0.089, -0.0105),
               "pinky": (0.081, -0.031)}
    seg = {"index": (0.038, 0.024), "middle": (0.042, 0.027), "ring": (0.040, 0.025),
           "pinky": (0.031, 0.020)}
    splay = {"index": 0.07, "middle": 0.02, "ring": -0.04, "pinky": -0.11}  # radians, fingers fan out
    for f, (dx, dz) in knuckle.items():
        d = np.array([np.cos(splay[f]), -0.05, np.sin(splay[f])])
        p1 = np.array([wx + dx, wy - 0.002, wz + dz])
        j[f"left_{f}1"] = tuple(p1)
        j[f"left_{f}2"] = tuple(p1 + d * seg[f][0])
        j[f"left_{f}3"] = tuple(p1 + d * (seg[f][0] + seg[f][1]))
    j["left_thumb1"] = (wx + 0.026, wy - 0.012, wz + 0.03)
    j["left_thumb2"] = (wx + 0.05, wy - 0.018, wz + 0.058)
    j["left_thumb3"] = (wx + 0.07, wy - 0.021, wz + 0.076)
    out = np.zeros((len(JOINT_NAMES), 3))
    for i, n in enumerate(JOINT_NAMES):
        if n.startswith("right_"):
            x, y, z = j["left_" + n[6:]]
            out[i] = (-x, y, z)
        else:
            out[i] = j[n]
    return out


#: Where the tip of each leaf bone ends (a child position for joints without one), left side; mirrored.
def leaf_tips(rest: np.ndarray) -> dict[int, np.ndarray]:
    """End points of bones that have no child joint (head top, toes, finger tips).

    Parameters
    ----------
    rest : np.ndarray, shape (55, 3)

    Returns
    -------
    dict
        joint index -> (3,) end point.
    """
    idx = {n: i for i, n in enumerate(JOINT_NAMES)}
    tips: dict[int, np.ndarray] = {idx["head"]: rest[idx["head"]] + (0, 0.14, 0.0)}
    for side, s in (("left", 1.0), ("right", -1.0)):
        tips[idx[f"{side}_foot"]] = rest[idx[f"{side}_foot"]] + (0.005 * s, -0.005, 0.07)
        for f in FINGERS:
            a, b = rest[idx[f"{side}_{f}2"]], rest[idx[f"{side}_{f}3"]]
            d = (b - a) / np.linalg.norm(b - a)
            length = 0.022 if f != "thumb" else 0.026
            tips[idx[f"{side}_{f}3"]] = b + d * length
    return tips
