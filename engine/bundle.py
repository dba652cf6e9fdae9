"""A process version's whole bundle: BPMN and DMN files, process.json, forms and scenarios.

A bundle is a map from path to text with the seed library's own layout, so a zip of it can
be unpacked over the repository or uploaded again:

    bpmn/<name>.bpmn, bpmn/<name>.dmn
    workflows/<process>/process.json
    workflows/<process>/forms/<form>.json
    workflows/<process>/scenarios/<scenario>.json
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from .deploy import SourceFile, version_files  # noqa: F401 - part of this module's vocabulary
from .errors import DeployError, Problem
from .registry import GlueError, Registry, glue_from_files

MAX_FILES = 300
_PATH = re.compile(
    r"^(?:bpmn/[A-Za-z0-9._-]+\.(?:bpmn|dmn)"
    r"|workflows/[A-Za-z0-9_-]+/(?:process\.json|(?:forms|scenarios)/[A-Za-z0-9._-]+\.json))$"
)


def check_path(path: str) -> str | None:
    """Why ``path`` cannot be a file of a bundle, or None."""
    if not _PATH.match(path) or "/../" in f"/{path}/" or path.startswith("/"):
        return (
            "not a bundle path: bpmn/NAME.bpmn|.dmn, workflows/KEY/process.json, "
            "workflows/KEY/forms/NAME.json or workflows/KEY/scenarios/NAME.json"
        )
    return None


def read_zip(data: bytes, max_bytes: int) -> dict[str, str]:
    """The files of an uploaded zip, each checked; every problem is listed at once.

    Sizes are checked as declared and again as read, so a zip bomb stops at the limit.
    """
    problems: list[Problem] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DeployError([Problem("bundle.zip", None, f"not a zip file: {exc}")]) from None
    entries = [i for i in archive.infolist() if not i.is_dir()]
    if len(entries) > MAX_FILES:
        raise DeployError([Problem("bundle.zip", None, f"more than {MAX_FILES} files")])
    files: dict[str, str] = {}
    total = 0
    for info in entries:
        name = info.filename
        why = check_path(name)
        if why:
            problems.append(Problem(name, None, why))
            continue
        if info.file_size > max_bytes or total + info.file_size > max_bytes:
            problems.append(Problem(name, None, f"the bundle is larger than {max_bytes} bytes"))
            break
        with archive.open(info) as handle:
            raw = handle.read(max_bytes - total + 1)
        total += len(raw)
        if total > max_bytes:
            problems.append(Problem(name, None, f"the bundle is larger than {max_bytes} bytes"))
            break
        try:
            files[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(name, None, "not UTF-8 text"))
    if problems:
        raise DeployError(problems)
    if not any(p.startswith("bpmn/") for p in files):
        raise DeployError([Problem("bundle.zip", None, "holds no bpmn/*.bpmn file")])
    return files


def write_zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return out.getvalue()


def split(files: dict[str, str]) -> tuple[list[SourceFile], Registry]:
    """The diagrams to deploy and the glue of every process the bundle has a folder for."""
    sources = [
        SourceFile(Path(path).name, text.encode("utf-8"))
        for path, text in sorted(files.items())
        if path.startswith("bpmn/")
    ]
    folders: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        if path.startswith("workflows/"):
            _root, key, rest = path.split("/", 2)
            folders.setdefault(key, {})[rest] = text
    registry = Registry()
    problems = []
    for key, texts in sorted(folders.items()):
        try:
            registry.add(glue_from_files(key, texts))
        except GlueError as exc:
            problems.append(Problem(f"workflows/{key}", None, str(exc)))
    if problems:
        raise DeployError(problems)
    return sources, registry


def library_files(bpmn_dir: Path, workflows_dir: Path) -> dict[str, str]:
    """The seed library on disk as one bundle (every process), e.g. for ``mutu deploy``."""
    files: dict[str, str] = {}
    for path in sorted(bpmn_dir.glob("*")):
        if path.suffix in (".bpmn", ".dmn"):
            files[f"bpmn/{path.name}"] = path.read_text(encoding="utf-8")
    for path in sorted(workflows_dir.rglob("*.json")):
        rel = path.relative_to(workflows_dir).as_posix()
        if check_path(f"workflows/{rel}") is None:
            files[f"workflows/{rel}"] = path.read_text(encoding="utf-8")
    return files
