"""Human corrections as a training data set: ``python -m weft_models.corrections``.

Input: what ``GET /corrections`` answers — pages ``{"items": [...], "nextCursor": ...}`` — as a
JSON file (one page, or a list of pages or items), or the JSON lines ``weft corrections --all``
prints (one item per line). An item is a product with every current correction:

    {"vendor": "northwind", "productId": "NW-1", "correctedAt": "2026-11-28T10:00:00.000Z",
     "labels": {"color": "navy"}, "images": ["uploads/northwind/NW-1/front.jpg"], "text": "…"}

Rules, so that a file holding several exports (pages fetched over time, ``--since`` rounds) reads
as the store's present state:

* A product listed more than once counts with its **latest** entry (``correctedAt``): each entry
  carries all of the product's current corrections, so a newer PUT's value wins and a task whose
  correction was DELETEd in between is absent from it (and is not trained on).
* A task the model does not know, or a label not among its task's labels, is skipped with a
  warning; a product left with no usable label is dropped.

Output: a folder in the catalog's format (``data/catalog.py``), every product image one ``train``
item labeled only for the corrected tasks — ``items.jsonl`` with ``labels`` and the model text as
``title``, ``views.u8`` from the pipeline's own ``weft preprocess-batch`` (garment views recut
around a trained detector's boxes when one is given, as serving cuts them). Training adds it to
the multi-dataset loader as one more data set with its own sampling weight
(``datasets.ExtraDataset``).

Images come from a local folder: the bucket's files by key (``<images>/<key>``), or the local
stack's S3 store (``$WEFT_HOME/s3/<bucket>``, where s3rver keeps ``<key>._S3rver_object``); or from
a bucket, ``s3://BUCKET[/PREFIX]`` (object ``PREFIX/<key>``), read with boto3: each needed key is
downloaded once into ``<out>/images/<key>`` (a key already there is not fetched again, also on a
later build). The endpoint is ``s3_endpoint`` (``--s3-endpoint``), else the standard
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` variables (the local stack's S3: path-style
addressing whenever an endpoint is set), else AWS; credentials from boto3's default chain.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tasks import TaskSpec, tasks_by_name

log = logging.getLogger(__name__)


class CorrectionsError(ValueError):
    """An unreadable corrections file or an image that cannot be found."""


@dataclass(frozen=True)
class Correction:
    vendor: str
    product_id: str
    corrected_at: str
    labels: dict[str, str]
    images: tuple[str, ...] = ()
    text: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    """Task → why its correction was not used."""


def _records(data: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(data, list):
        for entry in data:
            yield from _records(entry)
    elif isinstance(data, Mapping) and "items" in data and "vendor" not in data:
        items = data["items"]
        if not isinstance(items, list):
            raise CorrectionsError("a corrections page's 'items' must be a list")
        yield from items
    elif isinstance(data, Mapping):
        yield data
    else:
        raise CorrectionsError(f"not a corrections page or item: {str(data)[:80]}")


def read_corrections(path: str | os.PathLike[str]) -> list[Mapping[str, Any]]:
    """Every item in the file, in file order (a JSON document, or JSON lines)."""
    file = Path(path)
    if not file.exists():
        raise CorrectionsError(f"corrections file not found: {file}")
    text = file.read_text(encoding="utf-8")
    try:
        documents = [json.loads(text)] if text.strip() else []
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    documents.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise CorrectionsError(f"{file}:{number}: not JSON: {error}") from None
    return [record for document in documents for record in _records(document)]


def _instant(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise CorrectionsError(f"correctedAt {value!r} is not an ISO 8601 time") from None


def resolve(records: Iterable[Mapping[str, Any]], tasks: Sequence[TaskSpec]) -> list[Correction]:
    """The latest entry per product, its labels checked against the model's tasks (see the module
    docstring); products in order of their latest correction."""
    known = tasks_by_name(tasks)
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for record in records:
        for key in ("vendor", "productId", "correctedAt", "labels"):
            if key not in record:
                raise CorrectionsError(f"a correction lacks {key!r}: {json.dumps(record)[:120]}")
        product = (str(record["vendor"]), str(record["productId"]))
        seen = latest.get(product)
        if seen is None or _instant(str(record["correctedAt"])) >= _instant(str(seen["correctedAt"])):
            latest[product] = record
    out: list[Correction] = []
    for (vendor, product_id), record in sorted(latest.items(), key=lambda kv: _instant(str(kv[1]["correctedAt"]))):
        labels: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for task, value in dict(record["labels"]).items():
            if task not in known:
                skipped[task] = "task unknown to the model"
                log.warning("correction of %s on %s/%s skipped: the model has no task %r", task, vendor, product_id, task)
            elif value not in known[task].labels:
                skipped[task] = f"label {value!r} unknown"
                log.warning("correction of %s on %s/%s skipped: %r is not a label of %s", task, vendor, product_id, value, task)
            else:
                labels[task] = str(value)
        if not labels:
            log.warning("%s/%s: no correction usable by the model; left out", vendor, product_id)
            continue
        text = record.get("text")
        out.append(Correction(vendor, product_id, str(record["correctedAt"]), labels, tuple(str(k) for k in record.get("images") or ()),
                              str(text) if isinstance(text, str) else None, skipped))
    return out


def image_file(images: str | os.PathLike[str], key: str) -> Path:
    """A bucket key's file under a local folder: the plain file, or s3rver's ``<key>._S3rver_object``."""
    root = str(images)
    if root.startswith("s3://"):
        raise CorrectionsError(f"{root} is a bucket, not a folder: read it with BucketImages (build_corrections does)")
    plain = Path(root) / key
    if plain.is_file():
        return plain
    stored = Path(root) / f"{key}._S3rver_object"
    if stored.is_file():
        return stored
    raise CorrectionsError(f"image {key!r} not found under {root} (as a file or as the local stack's stored object)")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` → (bucket, prefix without its slashes at either end)."""
    if not url.startswith("s3://"):
        raise CorrectionsError(f"not an s3:// address: {url!r}")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise CorrectionsError(f"{url!r} names no bucket (expected s3://BUCKET[/PREFIX])")
    return bucket, prefix.strip("/")


def s3_client(endpoint: str | None = None) -> Any:
    """A boto3 S3 client for ``endpoint``, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, else AWS.
    A set endpoint (the local stack's S3) is addressed path-style: its buckets have no DNS names."""
    import boto3
    from botocore.config import Config

    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"} if endpoint else None)
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def _relative_key(key: str) -> Path:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise CorrectionsError(f"image key {key!r} cannot be stored as a file (empty, absolute or with '.'/'..' segments)")
    return Path(*parts)


class BucketImages:
    """The images of ``s3://bucket[/prefix]``, each key downloaded once into ``folder/<key>``."""

    def __init__(self, url: str, folder: str | os.PathLike[str], endpoint: str | None = None, client: Any = None) -> None:
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        self.folder = Path(folder)
        self._endpoint = endpoint
        self._client = client
        self._paths: dict[str, Path] = {}
        self.downloaded = 0
        """Objects fetched by this instance (keys found in ``folder`` are not)."""

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self._endpoint)
            log.info("reading images from %s at %s", self.url, self._client.meta.endpoint_url)
        return self._client

    @property
    def keys(self) -> list[str]:
        """The keys asked for so far."""
        return list(self._paths)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def path(self, key: str) -> Path:
        """The local file of ``key``, downloaded on first need."""
        known = self._paths.get(key)
        if known is not None:
            return known
        target = self.folder / _relative_key(key)
        if not target.is_file():
            self._download(key, target)
        self._paths[key] = target
        return target

    def _download(self, key: str, target: Path) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.object_key(key)
        where = f"s3://{self.bucket}/{name}"
        partial = target.with_name(f"{target.name}.partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with partial.open("wb") as out:
                for chunk in iter(lambda: body.read(1 << 20), b""):
                    out.write(chunk)
        except ClientError as error:
            partial.unlink(missing_ok=True)
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                raise CorrectionsError(f"image {key!r} not found: no object {where}") from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
                raise CorrectionsError(f"image {key!r}: access to {where} denied ({code or status})") from None
            raise CorrectionsError(f"image {key!r}: reading {where} failed: {error}") from None
        except (BotoCoreError, OSError) as error:
            partial.unlink(missing_ok=True)
            raise CorrectionsError(f"image {key!r}: reading {where} failed: {error}") from None
        partial.replace(target)
        self.downloaded += 1


def build_corrections(
    corrections: str | os.PathLike[str],
    images: str | os.PathLike[str],
    tasks: Sequence[TaskSpec],
    out: str | os.PathLike[str],
    detector: str | os.PathLike[str] | None = None,
    workers: int = 2,
    s3_endpoint: str | None = None,
    s3: Any = None,
) -> Path:
    """Write the corrections data set (see the module docstring); rebuilt when its inputs change.
    ``images`` is a local folder or ``s3://bucket[/prefix]`` (read through ``s3``, a boto3 S3
    client, else one for ``s3_endpoint``)."""
    from .data.catalog import ITEMS_FILE, VIEWS_FILE
    from .data.render import CENTER_FRACTION, VIEW_SIZE
    from .data.views import VIEW_KINDS, check_preprocess_available, preprocess_batch

    resolved = resolve(read_corrections(corrections), tasks)
    if not resolved:
        raise CorrectionsError(f"{corrections}: no correction the model can use")
    folder = Path(out)
    bucket = BucketImages(str(images), folder / "images", s3_endpoint, s3) if str(images).startswith("s3://") else None
    rows: list[dict[str, Any]] = []
    paths: list[Path] = []
    for product in resolved:
        if not product.images:
            log.warning("%s/%s has no image; its corrections teach only the text model", product.vendor, product.product_id)
        for key in product.images:
            paths.append((bucket.path(key) if bucket is not None else image_file(images, key)).resolve())
            rows.append({
                "item_id": f"c{len(rows):05d}", "split": "train", "vendor": product.vendor, "product_id": product.product_id,
                "title": product.text or "", "description": "", "brand": None, "vendor_color": None, "labels": product.labels,
                "image_path": str(paths[-1]), "view_index": len(rows), "style": "", "scale": "", "family": "",
                "corrected_at": product.corrected_at, "image_key": key,
            })
    if bucket is not None:
        log.info("%d images of %s: %d downloaded, the others already in %s", len(bucket.keys), bucket.url, bucket.downloaded, bucket.folder)
    digest = hashlib.sha256(json.dumps([rows, [p.stat().st_size for p in paths], str(detector)]).encode()).hexdigest()[:16]
    stamp = folder / "build.json"
    if stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == digest and (folder / VIEWS_FILE).exists():
        log.info("corrections data set at %s is up to date", folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ITEMS_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    texts = [{"vendor": p.vendor, "productId": p.product_id, "labels": p.labels, "text": p.text} for p in resolved if p.text]
    (folder / "texts.json").write_text(json.dumps(texts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if rows:
        check_preprocess_available()
        preprocess_batch(paths, folder / VIEWS_FILE, VIEW_SIZE, CENTER_FRACTION, concurrency=workers, views=VIEW_KINDS,
                         boxes=[None] * len(paths))
        if detector is not None:
            from .image.detect import recut_with_detector

            recut_with_detector(folder, detector, ["train"], threads=workers)
    stamp.write_text(json.dumps({
        "fingerprint": digest, "products": len(resolved), "images": len(rows), "tasks": sorted({t for p in resolved for t in p.labels}),
        "skipped": {f"{p.vendor}/{p.product_id}": p.skipped for p in resolved if p.skipped},
    }, indent=2) + "\n", encoding="utf-8")
    log.info("corrections data set: %d products, %d images at %s", len(resolved), len(rows), folder)
    return folder


def corrections_text_examples(folder: str | os.PathLike[str]) -> list[Any]:
    """The corrected products with a model text, as text-model examples (source ``corrections``)."""
    from .text.train import TextExample

    data = json.loads((Path(folder) / "texts.json").read_text(encoding="utf-8"))
    return [TextExample(product_id=d["productId"], vendor=d["vendor"], fields={"title": d["text"]}, labels=d["labels"], text=d["text"],
                        source="corrections") for d in data]


def main(argv: Sequence[str] | None = None) -> None:
    from .tasks import DEFAULT_TASKS, MATERIAL

    parser = argparse.ArgumentParser(prog="python -m weft_models.corrections", description=__doc__.splitlines()[0])
    parser.add_argument("corrections", help="JSON of GET /corrections (or the JSON lines of weft corrections --all)")
    parser.add_argument("--images", required=True,
                        help="folder holding the bucket's objects by key (e.g. $WEFT_HOME/s3/<bucket>), or s3://BUCKET[/PREFIX]")
    parser.add_argument("--s3-endpoint", help="S3 endpoint for s3:// images (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--out", required=True, help="data set folder to write")
    parser.add_argument("--detector", help="detector.pt to cut the garment views around (default: the whole image)")
    parser.add_argument("--material", action="store_true", help="the model also has the material task")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tasks = [*DEFAULT_TASKS, MATERIAL] if args.material else list(DEFAULT_TASKS)
    try:
        build_corrections(args.corrections, args.images, tasks, args.out, args.detector, s3_endpoint=args.s3_endpoint)
    except CorrectionsError as error:
        log.error("%s", error)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
