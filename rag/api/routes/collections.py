"""Collections and their documents.

Documents arrive as a multipart upload of files (read by the same
``FilesystemConnector`` as ``rag ingest``, so the same formats and the same
skip reasons) or as JSON text (``{"documents": [{"id", "title", "text",
"metadata"}]}``). Ingests and deletes run in a worker thread, one at a time;
readers keep answering from the previous snapshot until the new one is swapped
in whole.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from rag.api.deps import CallerDep, MetricsDep, ServiceDep, require_scope, run_ingest, run_query
from rag.api.errors import APIError
from rag.api.schemas import (
    ERROR_RESPONSES,
    CollectionCreate,
    CollectionInfo,
    CollectionList,
    DocumentDetail,
    DocumentList,
    DocumentsIn,
    IngestReportOut,
)
from rag.service import RAGService
from rag.store import check_name
from rag.types import Document, Skipped

router = APIRouter(prefix="/v1/collections", tags=["collections"])

MAX_FILES = 1000
_COPY_BLOCK = 1 << 20


def _info(service: RAGService, name: str) -> dict[str, Any]:
    for row in service.collections():
        if row["name"] == name:
            return row
    raise APIError(404, "collection_not_found", f"collection {name!r} not found")


def _checked(caller, name: str) -> str:
    check_name(name)
    require_scope(caller, name)
    return name


@router.get("", response_model=CollectionList, summary="List collections", responses=ERROR_RESPONSES)
async def list_collections(request: Request, caller: CallerDep, service: ServiceDep) -> dict:
    rows = await run_query(request, service.collections)
    return {"collections": [r for r in rows if caller.allows(r["name"])]}


@router.post("", response_model=CollectionInfo, status_code=201, summary="Create an empty collection",
             responses={**ERROR_RESPONSES, 409: {"description": "the collection exists"}})
async def create_collection(body: CollectionCreate, request: Request, caller: CallerDep, service: ServiceDep,
                            metrics: MetricsDep) -> dict:
    name = _checked(caller, body.name)
    if service.store.exists(name):
        raise APIError(409, "collection_exists", f"collection {name!r} already exists")
    await run_ingest(request, service.ingest, name, [])
    request.app.state.loaded.add(name)
    return await run_query(request, _info, service, name)


@router.get("/{name}", response_model=CollectionInfo, summary="One collection", responses=ERROR_RESPONSES)
async def get_collection(name: str, request: Request, caller: CallerDep, service: ServiceDep) -> dict:
    _checked(caller, name)
    return await run_query(request, _info, service, name)


@router.delete("/{name}", status_code=204, summary="Delete a collection and all its documents",
               responses=ERROR_RESPONSES)
async def delete_collection(name: str, request: Request, caller: CallerDep, service: ServiceDep) -> Response:
    _checked(caller, name)
    if not service.store.exists(name):
        raise APIError(404, "collection_not_found", f"collection {name!r} not found")
    await run_ingest(request, service.delete_collection, name)
    request.app.state.loaded.discard(name)
    return Response(status_code=204)


# ----------------------------------------------------------------- documents
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["files"],
            "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                     "description": ".txt .md .html .pdf .csv .json .jsonl files"}}}},
        "application/json": {"schema": {"$ref": "#/components/schemas/DocumentsIn"}},
    },
}


def _safe_name(filename: str | None) -> str | None:
    """The bare file name of an upload, or None when nothing usable is left ("../x" → "x", ".env" → None)."""
    if not filename:
        return None
    name = PurePosixPath(filename.replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or "\x00" in name or len(name) > 255:
        return None
    return name


def _read_uploads(service: RAGService, folder: Path, saved: dict[str, str]) -> list[Document | Skipped]:
    """Documents from the saved files, their sources and paths named by the uploaded file name, not the temp path."""
    from connectors import FilesystemConnector

    prefix = str(folder) + "/"
    out: list[Document | Skipped] = []
    for item in FilesystemConnector([folder / n for n in saved], max_file_mb=service.config.max_file_mb).load():
        if isinstance(item, Skipped):
            src = item.source[len(prefix):] if item.source.startswith(prefix) else item.source
            out.append(Skipped(saved.get(src, src), item.reason))
            continue
        src = item.source[len(prefix):] if item.source.startswith(prefix) else item.source
        meta = dict(item.metadata)
        if "path" in meta:
            meta["path"] = saved.get(src, src)
        out.append(dataclasses.replace(item, source=f"upload:{saved.get(src, src)}", metadata=meta))
    return out


async def _from_multipart(request: Request, service: RAGService) -> list[Document | Skipped]:
    folder = Path(tempfile.mkdtemp(prefix="rag-upload-"))
    request.state.upload_dir = folder
    saved: dict[str, str] = {}  # stored name -> uploaded name
    skipped: list[Skipped] = []
    async with request.form(max_files=MAX_FILES, max_fields=100) as form:
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if not files:
            raise APIError(422, "no_files", "the upload holds no files: send them as multipart field 'files'")
        for _, f in files:
            name = _safe_name(f.filename)
            if name is None:
                skipped.append(Skipped(f.filename or "(unnamed)", "no usable file name"))
                continue
            if name in saved:
                skipped.append(Skipped(f.filename or name, f"duplicate file name {name!r} in this upload"))
                continue
            with (folder / name).open("wb") as out:
                while block := await f.read(_COPY_BLOCK):
                    out.write(block)
            saved[name] = f.filename or name
    return skipped + await run_ingest(request, _read_uploads, service, folder, saved)


async def _from_json(request: Request) -> list[Document | Skipped]:
    try:
        body = DocumentsIn.model_validate_json(await request.body())
    except ValidationError as e:
        raise RequestValidationError(e.errors(include_url=False, include_context=False)) from None
    return [Document(id=d.id, title=d.title, text=d.text, source=f"api:{d.id}", metadata=d.metadata)
            for d in body.documents]


@router.post("/{name}/documents", response_model=IngestReportOut, openapi_extra={"requestBody": _UPLOAD_BODY},
             summary="Add or update documents (multipart files or JSON text); creates the collection if needed",
             responses={**ERROR_RESPONSES, 415: {"description": "neither multipart/form-data nor JSON"}})
async def add_documents(name: str, request: Request, caller: CallerDep, service: ServiceDep,
                        metrics: MetricsDep) -> dict:
    _checked(caller, name)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "multipart/form-data":
            items = await _from_multipart(request, service)
        elif ctype == "application/json" or ctype.endswith("+json"):
            items = await _from_json(request)
        else:
            raise APIError(415, "unsupported_media_type",
                           "send documents as multipart/form-data files or as application/json")
        docs = [i for i in items if isinstance(i, Document)]
        if not docs:
            skipped = [{"source": s.source, "reason": s.reason} for s in items if isinstance(s, Skipped)]
            raise APIError(422, "nothing_ingested", f"none of the {len(skipped)} files could be read", skipped=skipped)
        report = await run_ingest(request, service.ingest, name, items)
    finally:
        folder = getattr(request.state, "upload_dir", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    out = report.to_dict()
    metrics.observe_ingest(name, out)
    request.app.state.loaded.add(name)
    return out


def _snapshot(service: RAGService, name: str):
    return service.pipeline(name).snapshot


@router.get("/{name}/documents", response_model=DocumentList, summary="List a collection's documents",
            responses=ERROR_RESPONSES)
async def list_documents(name: str, request: Request, caller: CallerDep, service: ServiceDep,
                         offset: Annotated[int, Query(ge=0)] = 0,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    _checked(caller, name)
    snap = await run_query(request, _snapshot, service, name)
    ids = sorted(snap.docs)
    return {"collection": name, "total": len(ids), "offset": offset, "limit": limit,
            "documents": [dataclasses.asdict(snap.docs[i]) for i in ids[offset:offset + limit]]}


@router.get("/{name}/documents/{doc_id:path}", response_model=DocumentDetail, summary="One document and its chunks",
            responses=ERROR_RESPONSES)
async def get_document(name: str, doc_id: str, request: Request, caller: CallerDep, service: ServiceDep) -> dict:
    _checked(caller, name)
    snap = await run_query(request, _snapshot, service, name)
    rec = snap.docs.get(doc_id)
    if rec is None:
        raise APIError(404, "document_not_found", f"no document {doc_id!r} in collection {name!r}")
    chunks = [{"id": c.id, "position": c.position, "section": c.section, "kind": c.kind, "text": c.text,
               "quarantined": c.metadata.get("quarantine")} for c in snap.chunks if c.doc_id == doc_id]
    chunks.sort(key=lambda c: c["position"])
    return {**dataclasses.asdict(rec), "collection": name, "chunks": chunks}


@router.delete("/{name}/documents/{doc_id:path}", response_model=IngestReportOut, summary="Delete one document",
               responses=ERROR_RESPONSES)
async def delete_document(name: str, doc_id: str, request: Request, caller: CallerDep, service: ServiceDep,
                          metrics: MetricsDep) -> dict:
    _checked(caller, name)
    snap = await run_query(request, _snapshot, service, name)
    if doc_id not in snap.docs:
        raise APIError(404, "document_not_found", f"no document {doc_id!r} in collection {name!r}")
    report = await run_ingest(request, service.delete_documents, name, [doc_id])
    out = report.to_dict()
    metrics.observe_ingest(name, out)
    return out
