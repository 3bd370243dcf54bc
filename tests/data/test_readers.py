"""Every dataset reader on a tiny synthetic layout built in tmp_path, plus the real dev folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from rtstrack.data import get_dataset, list_datasets
from rtstrack.data.vot import decode_vot_mask, encode_vot_mask
from rtstrack.errors import DatasetError

SHARED = Path(os.environ.get("RTSTRACK_SHARED", Path(__file__).resolve().parents[2] / ".." / "shared"))
DEV = SHARED / "data" / "dev"


def frames(folder: Path, n: int, pattern: str = "{:08d}.jpg", start: int = 1, size=(24, 32)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((*size, 3), (10 * i) % 256, np.uint8)
        cv2.imwrite(str(folder / pattern.format(start + i)), img)


def boxes_text(n: int, sep: str = ",", offset: int = 0) -> str:
    return "".join(sep.join(str(v) for v in (i + offset, 2, 5, 6)) + "\n" for i in range(n))


def index_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(labels.astype(np.uint8))
    im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
    im.save(path)


# ---------------------------------------------------------------------------------------------
def test_registry_lists_all_issue_datasets():
    names = set(list_datasets())
    assert {"lasot", "lasot_extension", "got10k", "trackingnet", "nfs", "uav123", "otb100", "vot2020",
            "davis2017", "ytvos2019", "avist", "folder"} <= names
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        get_dataset("nope", ".")


def test_folder_dataset_on_dev_is_lazy_and_has_attributes():
    ds = get_dataset("dev", DEV)
    assert len(ds) == 9 and ds.sequence_names()[0] == "davis16_blackswan"
    seq = ds["otb_deer"]
    assert len(seq) == 71 and seq.boxes.shape == (71, 4) and seq.masks is None
    assert seq.attributes["MB"] and seq.read_frame(0).shape == (400, 704, 3)
    davis = ds["davis16_dog"]
    assert davis.has_masks and set(np.unique(davis.read_mask(0))) == {0, 1}


def test_lasot_test_and_train_with_pseudo_masks(tmp_path):
    for name in ("cat-1", "cat-2", "dog-3"):
        d = tmp_path / name.split("-")[0] / name
        frames(d / "img", 12)
        (d / "groundtruth.txt").write_text(boxes_text(12))
        (d / "full_occlusion.txt").write_text(",".join(["0"] * 11 + ["1"]) + "\n")
        (d / "out_of_view.txt").write_text(",".join(["1"] + ["0"] * 11) + "\n")
    (tmp_path / "testing_set.txt").write_text("cat-2\n")
    (tmp_path / "att").mkdir()
    (tmp_path / "att" / "cat-2.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,0,0,1\n")
    test = get_dataset("lasot", tmp_path)
    assert test.sequence_names() == ["cat-2"]
    seq = test[0]
    assert seq.attributes["IV"] and seq.attributes["ARC"] and not seq.attributes["POC"]
    assert seq.extra["target_visible"].tolist() == [False] + [True] * 10 + [False]
    train = get_dataset("lasot", tmp_path, split="train", masks_root=tmp_path / "pm", frame_step=5, max_frames=10)
    assert train.sequence_names() == ["cat-1", "dog-3"]
    seq = train["dog-3"]
    assert len(seq) == 2 and seq.boxes[:, 0].tolist() == [0, 5]
    assert [p.name for p in seq.masks] == ["00000001.png", "00000006.png"]
    assert seq.masks[0].parent == tmp_path / "pm" / "lasot_masks" / "dog-3"


def test_lasot_errors_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="not a LaSOT root"):
        get_dataset("lasot", tmp_path)
    d = tmp_path / "cat" / "cat-1"
    frames(d / "img", 3)
    (d / "groundtruth.txt").write_text(boxes_text(2))
    with pytest.raises(DatasetError, match=r"groundtruth.txt: 2 boxes but the sequence has 3 frames"):
        get_dataset("lasot", tmp_path)[0]


def test_got10k_val_test_train(tmp_path):
    for split, names in (("val", ["GOT-10k_Val_000001"]), ("test", ["GOT-10k_Test_000001"]),
                         ("train", ["GOT-10k_Train_000001", "GOT-10k_Train_004419"])):
        (tmp_path / split).mkdir()
        (tmp_path / split / "list.txt").write_text("\n".join(names) + "\n")
        for name in names:
            d = tmp_path / split / name
            frames(d, 5)
            (d / "groundtruth.txt").write_text(boxes_text(1 if split == "test" else 5))
            (d / "absence.label").write_text("0\n0\n1\n0\n0\n")
            (d / "cover.label").write_text("8\n8\n0\n3\n8\n")
            (d / "meta_info.ini").write_text("[METAINFO]\nresolution: (32, 24)\n")
    val = get_dataset("got10k", tmp_path)
    seq = val[0]
    assert seq.extra["cover"].tolist() == [8, 8, 0, 3, 8] and seq.extra["image_size"].tolist() == [32, 24]
    test = get_dataset("got10k", tmp_path, split="test")[0]
    assert np.isfinite(test.boxes[0]).all() and np.isnan(test.boxes[1:]).all()
    (tmp_path / "pm" / "got10k_masks").mkdir(parents=True)
    train = get_dataset("got10k", tmp_path, split="train", masks_root=tmp_path / "pm")
    assert train.sequence_names() == ["GOT-10k_Train_000001"]  # the sequence without masks is excluded
    assert train[0].masks[0].name == "00000001.png"
    (tmp_path / "val" / "GOT-10k_Val_000001" / "cover.label").write_text("8\n")
    with pytest.raises(DatasetError, match=r"cover.label: 1 values for 5 frames"):
        val[0]


def test_trackingnet_nfs_avist(tmp_path):
    tn = tmp_path / "tn"
    frames(tn / "TEST" / "frames" / "abc", 4, pattern="{}.jpg", start=0)
    (tn / "TEST" / "anno").mkdir(parents=True)
    (tn / "TEST" / "anno" / "abc.txt").write_text(boxes_text(1))
    seq = get_dataset("trackingnet", tn)["abc"]
    assert [p.name for p in seq.frames] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"] and np.isnan(seq.boxes[1]).all()

    nfs = tmp_path / "nfs"
    frames(nfs / "sequences" / "Gymnastics", 3, pattern="{:05d}.jpg")
    (nfs / "anno").mkdir(parents=True)
    (nfs / "anno" / "nfs_Gymnastics.txt").write_text(boxes_text(3, sep="\t"))
    assert get_dataset("nfs", nfs)["Gymnastics"].boxes[2].tolist() == [2, 2, 5, 6]

    av = tmp_path / "avist"
    frames(av / "sequences" / "fog1", 3)
    (av / "anno").mkdir(parents=True)
    (av / "anno" / "fog1.txt").write_text(boxes_text(3))
    (av / "attributes.csv").write_text("name,fog,rain\nfog1,1,0\n")
    seq = get_dataset("avist", av)[0]
    assert seq.attributes == {"fog": True, "rain": False}


def test_uav123_ranges_from_config_and_nan_rows(tmp_path):
    frames(tmp_path / "data_seq" / "UAV123" / "bird1", 10, pattern="{:06d}.jpg")
    anno = tmp_path / "anno" / "UAV123"
    anno.mkdir(parents=True)
    (anno / "bird1_1.txt").write_text(boxes_text(4))
    (anno / "bird1_2.txt").write_text("NaN,NaN,NaN,NaN\n" + boxes_text(2, offset=7))
    (anno / "att").mkdir()
    (anno / "att" / "bird1_2.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,1\n")
    ds = get_dataset("uav", tmp_path)
    assert [p.name for p in ds["bird1_1"].frames] == [f"{i:06d}.jpg" for i in range(1, 5)]
    with pytest.raises(DatasetError, match="configSeqs.m"):
        ds["bird1_2"]
    (tmp_path / "configSeqs.m").write_text(
        "seqUAV123={struct('name','bird1_1','path','D:\\UAV123\\data_seq\\UAV123\\bird1\\','startFrame',1,'endFrame',4,'nz',6),...\n"
        "struct('name','bird1_2','path','D:\\UAV123\\data_seq\\UAV123\\bird1\\','startFrame',8,'endFrame',10,'nz',6)};\n"
    )
    seq = get_dataset("uav123", tmp_path)["bird1_2"]
    assert [p.name for p in seq.frames] == ["000008.jpg", "000009.jpg", "000010.jpg"]
    assert np.isnan(seq.boxes[0]).all() and seq.attributes["SV"] and seq.attributes["SOB"]


def test_otb_special_sequences(tmp_path):
    frames(tmp_path / "Jogging" / "img", 4, pattern="{:04d}.jpg")
    (tmp_path / "Jogging" / "groundtruth_rect.1.txt").write_text(boxes_text(4, sep="\t"))
    (tmp_path / "Jogging" / "groundtruth_rect.2.txt").write_text(boxes_text(4, sep=" "))
    frames(tmp_path / "David" / "img", 303, pattern="{:04d}.jpg", size=(4, 4))
    (tmp_path / "David" / "groundtruth_rect.txt").write_text(boxes_text(4))
    frames(tmp_path / "Tiger1" / "img", 8, pattern="{:04d}.jpg")
    (tmp_path / "Tiger1" / "groundtruth_rect.txt").write_text(boxes_text(8))
    ds = get_dataset("otb", tmp_path)
    assert ds.sequence_names() == ["David", "Jogging_1", "Jogging_2", "Tiger1"]
    assert ds["David"].frames[0].name == "0300.jpg" and len(ds["David"]) == 4
    tiger = ds["Tiger1"]
    assert len(tiger) == 3 and tiger.frames[0].name == "0006.jpg" and tiger.boxes[0, 0] == 5


def test_vot2020_rle_masks_round_trip(tmp_path):
    mask = np.zeros((24, 32), bool)
    mask[5:9, 10:20] = True
    mask[7, 3] = True
    line = encode_vot_mask(mask)
    assert (decode_vot_mask(line, (24, 32)) == mask).all()
    assert decode_vot_mask("m2,1,3,2,1,2,1,2", (4, 6)).astype(int).tolist() == [
        [0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]]
    root = tmp_path / "vot"
    frames(root / "ball" / "color", 2)
    (root / "list.txt").write_text("ball\n")
    (root / "ball" / "sequence").write_text("channels.color=color/%08d.jpg\nname=ball\n")
    (root / "ball" / "groundtruth.txt").write_text(line + "\n3,4,5,6\n")
    seq = get_dataset("vot2020", root)["ball"]
    assert seq.boxes[0].tolist() == [3, 5, 17, 4] and seq.boxes[1].tolist() == [3, 4, 5, 6]
    assert (seq.read_mask(0).astype(bool) == mask).all() and seq.read_mask(1) is None
    (root / "ball" / "groundtruth.txt").write_text(line + "\n")
    with pytest.raises(DatasetError, match="1 regions for 2 frames"):
        get_dataset("vot", root)[0]


def _davis(root: Path) -> None:
    frames(root / "JPEGImages" / "480p" / "cows", 3, pattern="{:05d}.jpg", start=0)
    lab = np.zeros((24, 32), np.uint8)
    lab[2:8, 2:8] = 1
    lab[10:20, 12:30] = 2
    lab[0, 0] = 255
    for i in range(3):
        index_png(root / "Annotations" / "480p" / "cows" / f"{i:05d}.png", np.roll(lab, i, axis=1))
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("cows\n")
    (root / "ImageSets" / "2017" / "train.txt").write_text("cows\n")


def test_davis2017_multiobject_and_per_object(tmp_path):
    _davis(tmp_path)
    seq = get_dataset("davis", tmp_path)["cows"]
    assert seq.object_ids == [1, 2] and seq.extra["init_frames"].tolist() == [0, 0]
    assert set(np.unique(seq.read_mask(0))) == {0, 1, 2, 255} and np.isnan(seq.boxes).all()
    train = get_dataset("davis2017", tmp_path, split="train", multiobj=False)
    assert train.sequence_names() == ["cows_1", "cows_2"]
    obj = train["cows_2"]
    assert obj.boxes[1].tolist() == [13, 10, 18, 10] and obj.extra["visible"].all()
    assert set(np.unique(obj.read_mask(0))) == {0, 1}


def test_ytvos2019_valid_and_holdout_splits(tmp_path):
    for folder, vids in (("valid", ["v1"]), ("train", ["t1", "t2", "t3"])):
        meta = {"videos": {}}
        for v in vids:
            frames(tmp_path / folder / "JPEGImages" / v, 3, pattern="{:05d}.jpg", start=0)
            lab = np.zeros((24, 32), np.uint8)
            lab[3:9, 3:9] = 1
            index_png(tmp_path / folder / "Annotations" / v / "00000.png", lab)
            lab2 = lab.copy()
            lab2[12:20, 12:20] = 2
            index_png(tmp_path / folder / "Annotations" / v / "00002.png", lab2)
            meta["videos"][v] = {"objects": {"1": {"category": "a", "frames": ["00000", "00002"]},
                                             "2": {"category": "b", "frames": ["00002"]}}}
        (tmp_path / folder / "meta.json").write_text(json.dumps(meta))
    seq = get_dataset("ytvos", tmp_path)["v1"]
    assert seq.object_ids == [1, 2] and seq.extra["init_frames"].tolist() == [0, 2]
    assert seq.masks[1] is None
    with pytest.raises(DatasetError, match="holdout"):
        get_dataset("ytvos2019", tmp_path, split="jjtrain")
    jj = get_dataset("ytvos2019", tmp_path, split="jjtrain", holdout=["t2"], multiobj=False)
    assert jj.sequence_names() == ["t1_1", "t1_2", "t3_1", "t3_2"]
    assert get_dataset("ytvos2019", tmp_path, split="jjvalid", holdout=["t2"]).sequence_names() == ["t2"]
    obj = jj["t1_2"]
    assert obj.extra["visible"].tolist() == [False, False, True]


def test_wrong_roots_say_what_was_expected(tmp_path):
    (tmp_path / "x").mkdir()
    for name, pattern in (("got10k", "list.txt"), ("trackingnet", "TEST/anno"), ("nfs", "anno"),
                          ("uav123", "anno/UAV123"), ("otb100", "not an OTB root"), ("vot2020", "list.txt"),
                          ("davis2017", "JPEGImages/480p"), ("ytvos2019", "valid"), ("avist", "anno"),
                          ("folder", "no sequence folders")):
        with pytest.raises(DatasetError, match=pattern):
            get_dataset(name, tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        get_dataset("lasot", tmp_path / "missing")
