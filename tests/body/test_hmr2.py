"""The hmr2 adapter's parent side: conversions (hand-computed cases) and the child protocol, driven by a
stand-in child that speaks hmr2_child's JSON (no hmr2 here: it cannot be downloaded)."""
import json
import sys
import textwrap

import numpy as np
import pytest

from engine.body.camera import camera_from_hmr2
from engine.body.hmr2 import (Hmr2Adapter, Hmr2Error, estimate_from_answer, place_pelvis, rotmats_to_axis_angle,
                              smpl_to_smplx)
from engine.body.model import BodyModel
from engine.body.state import BodyState

RX180 = np.diag([1.0, -1.0, -1.0])  # an upright person in hmr2's y-down camera frame


@pytest.fixture(scope="module")
def body():
    return BodyModel.load_mannequin()


def test_rotation_matrices_to_axis_angle_hand_computed():
    c, s = np.cos(np.pi / 2), np.sin(np.pi / 2)
    rx90 = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    c30, s30 = np.cos(-np.pi / 6), np.sin(-np.pi / 6)
    rz_m30 = np.array([[c30, -s30, 0], [s30, c30, 0], [0, 0, 1]])
    out = rotmats_to_axis_angle(np.stack([np.eye(3), rx90, rz_m30]))
    np.testing.assert_allclose(out, [[0, 0, 0], [np.pi / 2, 0, 0], [0, 0, -np.pi / 6]], atol=1e-9)
    flip = rotmats_to_axis_angle(RX180)
    assert np.isclose(np.linalg.norm(flip), np.pi) and np.allclose(np.abs(flip), [np.pi, 0, 0])
    noisy = rx90 + 1e-4 * np.array([[0.3, -0.2, 0.1], [0.0, 0.4, -0.1], [0.2, 0.1, -0.3]])  # not orthonormal
    np.testing.assert_allclose(rotmats_to_axis_angle(noisy), [np.pi / 2, 0, 0], atol=1e-3)


def test_smpl_to_smplx_keeps_the_21_shared_joints_and_drops_the_hands():
    angles = np.linspace(0.05, 1.15, 23)
    mats = np.stack([np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]) for a in angles])
    state, notes = smpl_to_smplx(RX180, mats, betas=np.full(10, 0.7))
    np.testing.assert_allclose(state.body_pose[:, 0], angles[:21], atol=1e-6)  # joint k of SMPL = joint k of SMPL-X
    assert np.allclose(state.body_pose[:, 1:], 0, atol=1e-6)
    assert np.allclose(state.betas, 0) and "neutral" in notes[0]
    assert np.allclose(np.abs(state.global_orient), [np.pi, 0, 0], atol=1e-6)
    kept, notes = smpl_to_smplx(RX180, mats, betas=np.full(10, 0.7), keep_betas=True)
    assert np.allclose(kept.betas, 0.7) and "approximate" in notes[0]
    with pytest.raises(Hmr2Error, match=r"23 rotation matrices"):
        smpl_to_smplx(RX180, mats[:21])


def test_the_translation_puts_the_smplx_pelvis_where_hmr2_put_it(body):
    state = BodyState(global_orient=np.array([0.3, -0.8, 0.2], np.float32))
    state.body_pose[0] = (0.4, 0, 0)
    target = np.array([0.12, -0.35, 4.2])
    place_pelvis(state, target, body.rest_joints[0])
    _, joints = body.forward(state)
    np.testing.assert_allclose(joints[0], target, atol=1e-5)


def _answer(pose=None):
    return {"protocol": 1, "global_orient": RX180.tolist(),
            "body_pose": (pose if pose is not None else np.tile(np.eye(3), (23, 1, 1))).tolist(),
            "betas": [0.0] * 10, "pred_cam": [0.9, 0.05, -0.1], "pelvis": [0.01, 0.2, 0.03],
            "box_center": [300.0, 420.0], "box_size": 500.0, "focal": 5000.0, "crop": 256}


def test_the_answer_becomes_an_upright_body_whose_pelvis_projects_where_hmr2_saw_it(body):
    a = _answer()
    est = estimate_from_answer(a, (600, 800), body.rest_joints[0], (50, 170, 550, 670))
    # where hmr2's own camera puts its pelvis (y-down frame, full-image camera)
    hmr2_cam = camera_from_hmr2(a["pred_cam"], a["box_center"], a["box_size"], (600, 800))
    expected, _ = hmr2_cam.project(np.array([a["pelvis"]]))
    _, joints = body.forward(est.state)
    got, depth = est.camera.project(joints[:1])
    np.testing.assert_allclose(got, expected, atol=1e-3)
    assert depth[0] > 0 and est.camera.fx == pytest.approx(5000 / 256 * 800)
    head, pelvis = joints[15], joints[0]
    assert head[1] > pelvis[1] + 0.3  # upright in the y-up world
    assert np.allclose(est.state.global_orient, 0, atol=1e-6)  # hmr2's upright root is the identity here
    assert est.backend == "hmr2" and est.box == (50.0, 170.0, 550.0, 670.0)


STAND_IN = textwrap.dedent('''
    import json, sys
    req = json.loads(sys.stdin.read())
    open(sys.argv[1], "w").write(json.dumps({**req, "image_existed": __import__("os").path.isfile(req["image"])}))
    print("hmr2 chatter on stdout that is not the answer")
    mode = sys.argv[2]
    if mode == "ok":
        print(json.dumps(ANSWER))
    elif mode == "error":
        print(json.dumps({"protocol": 1, "error": "CUDA is not available for the detector"}))
    elif mode == "old":
        print(json.dumps({**ANSWER, "protocol": 0}))
    elif mode == "crash":
        sys.stderr.write("Traceback ...\\nRuntimeError: segfault in a kernel\\n"); sys.exit(3)
    elif mode == "sleep":
        __import__("time").sleep(30)
''')


@pytest.fixture
def stand_in(tmp_path):
    script = tmp_path / "stand_in_hmr2_child.py"
    script.write_text(f"ANSWER = {json.dumps(_answer())}\n" + STAND_IN)
    return lambda mode, **kw: Hmr2Adapter(tmp_path, child=[sys.executable, str(script), str(tmp_path / "req.json"),
                                                           mode], **kw)


def test_stand_in_child_round_trip(stand_in, tmp_path, body):
    img = np.full((800, 600, 3), 200, np.uint8)
    est = stand_in("ok").estimate(img, (50, 170, 550, 670), body.rest_joints[0])
    req = json.loads((tmp_path / "req.json").read_text())
    assert req["protocol"] == 1 and req["box"] == [50, 170, 550, 670] and req["image_existed"]
    assert est.camera.width == 600 and est.camera.height == 800 and est.backend == "hmr2"
    stand_in("ok").estimate(img, None, body.rest_joints[0])
    assert json.loads((tmp_path / "req.json").read_text())["box"] == [0, 0, 600, 800]  # whole image by default


def test_the_photo_copy_goes_in_the_scratch_folder_and_a_crash_leftover_is_purged(stand_in, tmp_path, body):
    """The kiosk passes the customer's session folder: hmr2's copy of their photo lives (and dies) there."""
    from engine.kiosk_store import KioskStore

    store = KioskStore(tmp_path / "kiosk")
    session = store.new_session()
    stand_in("ok", scratch=session.folder).estimate(np.full((64, 48, 3), 9, np.uint8), None, body.rest_joints[0])
    image = json.loads((tmp_path / "req.json").read_text())["image"]
    assert session.folder in __import__("pathlib").Path(image).parents
    # a crash while hmr2 runs leaves its copy behind; the next start's purge takes it with the session
    leftover = session.folder / "omfa_hmr2_x" / "photo.png"
    leftover.parent.mkdir()
    leftover.write_bytes(b"customer photo")
    assert KioskStore(tmp_path / "kiosk").purge_leftovers() == 1 and not session.folder.exists()


@pytest.mark.parametrize("mode, words", [("error", "hmr2 failed: CUDA is not available for the detector"),
                                         ("old", "protocol 0"), ("crash", "RuntimeError: segfault in a kernel")])
def test_stand_in_child_failures_are_one_clear_message(stand_in, body, mode, words):
    with pytest.raises(Hmr2Error, match=words):
        stand_in(mode).estimate(np.zeros((64, 48, 3), np.uint8), None, body.rest_joints[0])


def test_stand_in_child_that_hangs_is_stopped(stand_in, body):
    with pytest.raises(Hmr2Error, match="more than 1 s"):
        stand_in("sleep", timeout=1.0).estimate(np.zeros((64, 48, 3), np.uint8), None, body.rest_joints[0])


def test_missing_hmr2_pieces_are_listed_with_where_they_were_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert "does not exist" in Hmr2Adapter(tmp_path / "nope").missing()[0]
    folder = tmp_path / "logs" / "train" / "multiple_datasets"
    folder.mkdir(parents=True)
    missing = Hmr2Adapter(folder).missing()
    text = "\n".join(missing)
    assert "model_config.yaml is not in" in text and "no checkpoint (*.ckpt)" in text
    assert "SMPL_NEUTRAL.pkl" in text and str(tmp_path / "home" / ".cache" / "4DHumans" / "data" / "smpl") in text
    assert "hmr2 package is not importable" in text  # not installed in this environment
    (folder / "model_config.yaml").write_text("MODEL: {}\n")
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "epoch=35-step=1000000.ckpt").write_bytes(b"never unpickled by the app")
    smpl = tmp_path / "home" / ".cache" / "4DHumans" / "data" / "smpl"
    smpl.mkdir(parents=True)
    (smpl / "SMPL_NEUTRAL.pkl").write_bytes(b"")
    assert Hmr2Adapter(folder).missing(check_package=False) == []
    with pytest.raises(Hmr2Error, match="hmr2 cannot run: the hmr2 package is not importable"):
        Hmr2Adapter(folder).estimate(np.zeros((64, 48, 3), np.uint8), None, np.zeros(3))
