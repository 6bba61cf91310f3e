"""The builtin model's fast variant, ``all-MiniLM-L6-v2-q8``: the same weights multiplied as int8.

The shipped ``model.onnx`` stores each MatMul weight as int8 with one fp32 scale per output
column, but dequantizes it in the graph (``Cast``, ``Mul``), so onnxruntime multiplies in fp32.
The build folds those weights back into fp32 initializers and lets onnxruntime's dynamic
quantization re-quantize them per channel (``MatMulInteger``, activations quantized per call):
~1.7x the throughput on one thread, vectors at cosine >= 0.98 to the fp32 ones (``bench/
embedding.py``). Per-tensor quantization is faster still but too lossy (min cosine 0.90).

The file is built once from the installed model, without network, by the ``onnx`` package, in a
child process (``onnx`` and the quantizer never stay in a server's memory), deterministically:
the same inputs give the same bytes. It is cached as ``<cache>/minilm-q8-<key>.onnx``, ``key``
naming the source file's hash and the versions of the builder, ``onnx`` and ``onnxruntime``;
beside it ``.sha256`` holds the hash of its bytes, checked before each load. A file that does not
match (a torn write, a corrupted disk) is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

BUILD_VERSION = "1"
"""Changes whenever the build's output would: old cached files are then simply not used."""

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(source: Path) -> str:
    """What the built file depends on: the source's bytes and the builder's versions."""
    parts = [
        file_sha256(source),
        BUILD_VERSION,
        _version("onnx"),
        _version("onnxruntime"),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def cached_paths(source: Path, cache_dir: Path) -> tuple[Path, Path]:
    """(model file, its ``.sha256``) for ``source`` in ``cache_dir``."""
    model = cache_dir / f"minilm-q8-{cache_key(source)}.onnx"
    return model, model.with_suffix(".sha256")


def _intact(model: Path, checksum: Path) -> bool:
    try:
        expected = checksum.read_text().strip()
    except OSError:
        return False
    return model.is_file() and file_sha256(model) == expected


def q8_model_path(source: Path, cache_dir: Path) -> Path:
    """The per-channel int8 model built from ``source``: the cached file when its hash matches,
    else built now (one process at a time; the others wait and use its file)."""
    model, checksum = cached_paths(source, cache_dir)
    if _intact(model, checksum):
        return model
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".minilm-q8.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _intact(model, checksum):
                _build_in_child(source, model)
                _write_atomically(checksum, (file_sha256(model) + "\n").encode())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return model


class BuildFailed(RuntimeError):
    """The quantized model could not be built (``onnx`` missing, an unexpected source file)."""


def _build_in_child(source: Path, model: Path) -> None:
    fd, temp = tempfile.mkstemp(dir=model.parent, prefix=f".{model.name}.")
    os.close(fd)
    try:
        result = subprocess.run(  # noqa: S603  # this interpreter, this module, our own paths
            [sys.executable, "-m", __name__, str(source), temp],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise BuildFailed(
                f"Building {model.name} from {source} failed: {lines[-1] if lines else '?'}"
            )
        Path(temp).replace(model)
    finally:
        Path(temp).unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def build_q8_bytes(source: Path) -> bytes:
    """The serialized per-channel int8 model built from the shipped ``source``."""
    import onnx

    # onnxruntime ships no type information.
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    model = fold_matmul_weights(onnx.load(str(source)))
    with tempfile.TemporaryDirectory(prefix="ragserve-q8-") as work:
        folded, built = Path(work) / "folded.onnx", Path(work) / "q8.onnx"
        onnx.save(model, str(folded))
        # quantize_dynamic logs a hint about pre-processing on the root logger; it does not apply.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                str(folded),
                str(built),
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            root.setLevel(level)
        return built.read_bytes()


def fold_matmul_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with each MatMul weight computed as ``Cast(int8) * scale`` replaced by its fp32
    value (an initializer), so that quantization sees it as a weight. Other nodes are kept."""
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    dropped_nodes: set[int] = set()
    new_weights: list[onnx.TensorProto] = []
    for node in graph.node:
        if node.op_type != "MatMul" or uses.get(node.input[1], 0) != 1:
            continue
        mul = producers.get(node.input[1])
        if mul is None or mul.op_type != "Mul":
            continue
        casts = [producers.get(name) for name in mul.input]
        cast_index = next(
            (i for i, cast in enumerate(casts) if cast is not None and cast.op_type == "Cast"), None
        )
        if cast_index is None:
            continue
        cast = casts[cast_index]
        assert cast is not None
        scale_name = mul.input[1 - cast_index]
        quantized = initializers.get(cast.input[0])
        scale = initializers.get(scale_name)
        if (
            quantized is None
            or scale is None
            or quantized.data_type != TensorProto.INT8
            or uses.get(cast.output[0], 0) != 1
        ):
            continue
        weight = numpy_helper.to_array(quantized).astype(np.float32) * numpy_helper.to_array(
            scale
        ).astype(np.float32)
        new_weights.append(numpy_helper.from_array(weight.astype(np.float32), node.input[1]))
        dropped_nodes.update((id(mul), id(cast)))
        for name in (cast.input[0], scale_name):
            uses[name] -= 1
    kept = [node for node in graph.node if id(node) not in dropped_nodes]
    del graph.node[:]
    graph.node.extend(kept)
    still_used = [t for t in graph.initializer if uses.get(t.name, 0) > 0]
    del graph.initializer[:]
    graph.initializer.extend(still_used)
    graph.initializer.extend(new_weights)
    return model


def _main(argv: list[str]) -> int:
    """``python -m ragserve.models.minilm_q8 SOURCE TARGET``: write the built model to TARGET."""
    source, target = (Path(arg) for arg in argv)
    data = build_q8_bytes(source)
    with target.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
