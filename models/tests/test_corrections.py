"""Human corrections as a data set: the latest value wins, deletions and unknown tasks are left out,
images come from a local bucket folder or from S3 (botocore's Stubber: each key fetched once, a
missing one named), and a retrained model fits the corrected products."""
from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from test_image_features import FROZEN, fake_catalog
from weft_models.corrections import (BucketImages, CorrectionsError, build_corrections, corrections_text_examples, image_file,
                                     parse_s3_url, read_corrections, resolve, s3_client)
from weft_models.data.catalog import load_catalog, load_views
from weft_models.datasets import ExtraDataset
from weft_models.image.data import stack_views
from weft_models.image.train import ImageTrainSettings, train_image
from weft_models.tasks import COLOR, DEFAULT_TASKS
from weft_models.training import TrainConfig


def item(product: str, at: str, labels: dict[str, str], images: list[str] | None = None) -> dict:
    return {"vendor": "acme", "productId": product, "correctedAt": at, "labels": labels, "images": images or [], "text": f"{product} tee"}


def test_latest_entry_wins_deleted_and_unknown_tasks_are_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pages = [
        {"items": [item("p1", "2026-11-28T10:00:00.000Z", {"color": "red", "pattern": "striped"}),
                   item("p2", "2026-11-28T10:01:00Z", {"fit": "slim", "color": "blue"}),
                   item("p3", "2026-11-28T10:02:00Z", {"color": "teal"})], "nextCursor": "x"},
        # Later: p1's color set again and its pattern correction DELETEd (absent from the newer entry).
        {"items": [item("p1", "2026-11-29T08:00:00+00:00", {"color": "green"})]},
    ]
    (tmp_path / "page.json").write_text(json.dumps(pages))
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for page in pages for r in page["items"]))
    with caplog.at_level(logging.WARNING):
        for name in ("page.json", "lines.jsonl"):
            resolved = resolve(read_corrections(tmp_path / name), DEFAULT_TASKS)
            assert [(c.product_id, c.labels) for c in resolved] == [("p2", {"color": "blue"}), ("p1", {"color": "green"})]
            assert resolved[0].skipped == {"fit": "task unknown to the model"}
    assert "the model has no task 'fit'" in caplog.text and "'teal' is not a label of color" in caplog.text
    with pytest.raises(CorrectionsError, match="lacks 'correctedAt'"):
        resolve([{"vendor": "a", "productId": "b", "labels": {}}], DEFAULT_TASKS)


def _stubbed_s3() -> tuple[Any, Any]:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="test", aws_secret_access_key="test")
    return client, Stubber(client)


def _object(stubber: Any, bucket: str, key: str, data: bytes) -> None:
    from botocore.response import StreamingBody

    stubber.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentLength": len(data)},
                         {"Bucket": bucket, "Key": key})


def test_bucket_images_fetch_each_key_once_and_name_a_missing_one(tmp_path: Path) -> None:
    client, stubber = _stubbed_s3()
    _object(stubber, "uploads", "catalog/acme/p1/images/front.jpg", b"front")
    stubber.add_client_error("get_object", service_error_code="NoSuchKey", service_message="The specified key does not exist.",
                             http_status_code=404, expected_params={"Bucket": "uploads", "Key": "catalog/acme/p2/images/gone.jpg"})
    stubber.add_client_error("get_object", service_error_code="AccessDenied", service_message="Access Denied",
                             http_status_code=403, expected_params={"Bucket": "uploads", "Key": "catalog/acme/p3/images/private.jpg"})
    images = BucketImages("s3://uploads/catalog/", tmp_path / "images", client=client)
    with stubber:
        first = images.path("acme/p1/images/front.jpg")
        assert first == tmp_path / "images" / "acme/p1/images/front.jpg" and first.read_bytes() == b"front"
        assert images.path("acme/p1/images/front.jpg") == first  # needed twice: the stubber holds one GetObject only
        with pytest.raises(CorrectionsError, match=r"'acme/p2/images/gone\.jpg' not found: no object s3://uploads/catalog/acme/p2/images/gone\.jpg"):
            images.path("acme/p2/images/gone.jpg")
        with pytest.raises(CorrectionsError, match=r"'acme/p3/images/private\.jpg': access to s3://uploads/catalog/acme/p3/images/private\.jpg denied"):
            images.path("acme/p3/images/private.jpg")
        stubber.assert_no_pending_responses()
    assert images.downloaded == 1 and sorted(p.name for p in (tmp_path / "images").rglob("*") if p.is_file()) == ["front.jpg"]
    # A later build finds the key in the folder and fetches nothing (a client without responses would fail).
    again_client, again = _stubbed_s3()
    with again:
        assert BucketImages("s3://uploads/catalog", tmp_path / "images", client=again_client).path("acme/p1/images/front.jpg") == first
    with pytest.raises(CorrectionsError, match="cannot be stored"):
        images.path("acme/../../etc/passwd")
    assert parse_s3_url("s3://b") == ("b", "") and parse_s3_url("s3://b/x/y/") == ("b", "x/y")
    with pytest.raises(CorrectionsError, match="names no bucket"):
        parse_s3_url("s3:///key")
    with pytest.raises(CorrectionsError, match="is a bucket, not a folder"):
        image_file("s3://bucket", "k.jpg")


def test_s3_endpoint_from_the_parameter_or_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4569")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    from_env = s3_client()
    assert from_env.meta.endpoint_url == "http://127.0.0.1:4569" and from_env.meta.config.s3 == {"addressing_style": "path"}
    assert s3_client("http://localhost:9000").meta.endpoint_url == "http://localhost:9000"
    imported = subprocess.run([sys.executable, "-c", "import sys, weft_models.corrections; print('boto3' in sys.modules)"],
                              capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert imported.stdout.strip() == "False", "boto3 is imported only on the s3:// path"


def test_build_from_a_bucket_names_the_missing_key(tmp_path: Path) -> None:
    (tmp_path / "corrections.json").write_text(json.dumps({"items": [item("p1", "2026-11-28T10:00:00Z", {"color": "grey"}, ["acme/p1/x.png"])]}))
    client, stubber = _stubbed_s3()
    stubber.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404,
                             expected_params={"Bucket": "uploads", "Key": "acme/p1/x.png"})
    with stubber, pytest.raises(CorrectionsError, match="'acme/p1/x.png' not found: no object s3://uploads/acme/p1/x.png"):
        build_corrections(tmp_path / "corrections.json", "s3://uploads", DEFAULT_TASKS, tmp_path / "out", s3=client)
    assert not list((tmp_path / "out").rglob("*.png*")), "no partial download left behind"


def _grey_photo(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 2] = 128, 255  # levels the catalog never shows: the model cannot know it is "grey"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")


@pytest.mark.skipif(shutil.which("npx") is None, reason="weft preprocess-batch needs node")
def test_build_from_a_bucket_downloads_each_key_once(tmp_path: Path) -> None:
    _grey_photo(tmp_path / "photo.png", 0)
    shared = "acme/shared/images/front.png"  # one picture listed by two products
    (tmp_path / "corrections.json").write_text(json.dumps({"items": [
        item("p1", "2026-11-28T10:00:00Z", {"color": "grey"}, [shared]),
        item("p2", "2026-11-28T10:01:00Z", {"pattern": "solid"}, [shared]),
    ]}))
    client, stubber = _stubbed_s3()
    _object(stubber, "uploads", f"weft/{shared}", (tmp_path / "photo.png").read_bytes())
    with stubber:
        root = build_corrections(tmp_path / "corrections.json", "s3://uploads/weft", DEFAULT_TASKS, tmp_path / "out", workers=1, s3=client)
        stubber.assert_no_pending_responses()
    assert [(i.product_id, i.labels) for i in load_catalog(root)] == [("p1", {"color": "grey"}), ("p2", {"pattern": "solid"})]
    assert load_views(root).shape == (2, 3, 224, 224, 3)
    assert (root / "images" / shared).read_bytes() == (tmp_path / "photo.png").read_bytes()


@pytest.mark.skipif(shutil.which("npx") is None, reason="weft preprocess-batch needs node")
def test_retrained_model_fits_the_corrected_products(tmp_path: Path) -> None:
    catalog = fake_catalog(tmp_path / "catalog", n_train=32, n_val=16)
    bucket = tmp_path / "s3" / "uploads"
    keys = [f"acme/p{i}/front.png" for i in range(6)]
    for i, key in enumerate(keys):
        # Half as plain files (a synced bucket), half as the local stack's s3rver stores them.
        _grey_photo(bucket / (key if i % 2 else f"{key}._S3rver_object"), i)
    export = [item(f"p{i}", f"2026-11-28T10:0{i}:00Z", {"color": "white", "material": "denim"}, [keys[i]]) for i in range(6)]
    export += [item(f"p{i}", f"2026-11-29T10:0{i}:00Z", {"color": "grey"}, [keys[i]]) for i in range(6)]  # a newer PUT
    (tmp_path / "corrections.json").write_text(json.dumps({"items": export}))
    root = build_corrections(tmp_path / "corrections.json", bucket, DEFAULT_TASKS, tmp_path / "corrections", workers=1)
    items = load_catalog(root)
    assert [i.labels for i in items] == [{"color": "grey"}] * 6 and all(i.split == "train" for i in items)
    assert load_views(root).shape == (6, 3, 224, 224, 3)
    assert [e.labels for e in corrections_text_examples(root)] == [{"color": "grey"}] * 6

    settings = ImageTrainSettings(model=FROZEN, train=TrainConfig(epochs=10, lr=0.01, head_lr=0.02, threads=1), batch_size=8)
    batch = {k: v for k, v in stack_views(load_views(root), list(range(6)), ["downsampled", "center", "garment"]).items()
             if k in FROZEN.views}
    grey = COLOR.index("grey")
    torch.manual_seed(0)
    base, base_result = train_image(catalog, tmp_path / "base", settings)
    with torch.no_grad():
        assert (base(**batch)["color"].argmax(-1) != grey).all(), "the catalog alone never teaches grey"
    torch.manual_seed(0)
    model, result = train_image(catalog, tmp_path / "retrained", settings, extra=[ExtraDataset("corrections", str(root), 1.0)])
    with torch.no_grad():
        assert (model(**batch)["color"].argmax(-1) == grey).all(), "the retrained model gets the corrected products right"
    assert result.history[-1]["color/accuracy"] >= base_result.history[-1]["color/accuracy"], "no loss on validation"
    assert "train/color/loss" in result.history[-1]
