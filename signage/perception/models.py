"""The model files: read the manifest, check every file's sha256 before use, open onnxruntime sessions.

A missing or altered model file must stop the engine at start-up with a message that names the file, not produce
quietly wrong faces hours later. models/build.py writes the manifest; this module only reads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

MANIFEST_NAME = "manifest.json"


class ModelError(Exception):
    """A model file that cannot be used: missing, altered, or not described by the manifest."""


def default_models_dir() -> Path:
    """The models/ folder next to the signage package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parents[2] / "models"


def resolve_models_dir(configured: str) -> Path:
    return Path(configured) if configured else default_models_dir()


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry: which file, where it came from, and the hash it must have."""

    name: str
    path: Path
    sha256: str
    source: str
    license: str

    @classmethod
    def from_manifest(cls, entry: dict[str, Any], folder: Path) -> ModelSpec:
        source = entry["source"]
        return cls(
            name=entry["name"],
            path=folder / entry["file"],
            sha256=entry["sha256"],
            source=f"{source['package']}=={source['version']}:{source['file']}",
            license=entry["license"],
        )

    @property
    def version(self) -> str:
        """A short id logged with every result that came from this model."""
        return f"{self.name}@{self.sha256[:12]}"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelStore:
    """The verified model files of one folder. `load` checks the hashes of the models asked for, once."""

    folder: Path
    specs: dict[str, ModelSpec]

    @classmethod
    def load(cls, folder: Path, *, names: tuple[str, ...]) -> ModelStore:
        manifest_path = folder / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            entries = {e["name"]: ModelSpec.from_manifest(e, folder) for e in manifest["models"]}
        except FileNotFoundError:
            raise ModelError(f"model manifest {manifest_path} is missing (rebuild with models/build.py)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"model manifest {manifest_path} cannot be read: {exc!r}") from None
        specs: dict[str, ModelSpec] = {}
        for name in names:
            spec = entries.get(name)
            if spec is None:
                raise ModelError(f"model {name!r} is not in {manifest_path} (it lists {sorted(entries)})")
            if not spec.path.is_file():
                raise ModelError(f"model file {spec.path} ({name}) is missing; rebuild it with models/build.py")
            actual = _file_sha256(spec.path)
            if actual != spec.sha256:
                raise ModelError(
                    f"model file {spec.path} ({name}) is altered: sha256 {actual[:16]}... but the manifest says "
                    f"{spec.sha256[:16]}...; rebuild it with models/build.py"
                )
            specs[name] = spec
        return cls(folder=folder, specs=specs)

    def session(self, name: str, *, threads: int) -> ort.InferenceSession:
        """An onnxruntime CPU session; spinning is off because on 2 cores a spinning pool starves the player."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        return ort.InferenceSession(str(self.specs[name].path), options, providers=["CPUExecutionProvider"])
