"""The documents API: list, read, upload and delete articles — thin routes over `NewsQA`.

Status codes: an upload that stored or refreshed something is 201, one that changed
nothing (unchanged or a duplicate) is 200; a file that could not be ingested at all
is 413 (too big), 415 (unsupported type) or 422 (anything else), with a message that
names the file and the problem.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rag.http.deps import ServiceDep

DOC_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file in a multipart body
STATUS_FOR_KIND = {"too_large": 413, "unsupported_type": 415}


DocIdPath = Annotated[str, Path(pattern=DOC_ID, description="an article id")]

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"message": message})


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str
    url: str | None
    author: str | None = None
    chunks: int


class DocumentList(BaseModel):
    count: int
    documents: list[DocumentOut]


class ArticleOut(BaseModel):
    doc_id: str
    title: str
    date: str | None
    source: str
    url: str | None
    author: str | None
    body: str


class DuplicateOut(BaseModel):
    doc_id: str
    source: str
    of: str
    similarity: float


class ProblemOut(BaseModel):
    source: str
    problem: str
    kind: str


class UploadReport(BaseModel):
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    duplicates: list[DuplicateOut]
    skipped: list[ProblemOut]
    summary: str


@router.get("", response_model=DocumentList)
def list_documents(svc: ServiceDep) -> DocumentList:
    """Every stored article, without bodies."""
    docs = [DocumentOut.model_validate(d, from_attributes=True) for d in svc.documents()]
    return DocumentList(count=len(docs), documents=docs)


@router.get("/{doc_id}", response_model=ArticleOut, responses={404: {}})
def get_document(doc_id: DocIdPath, svc: ServiceDep) -> Any:
    """One article with its body (the text that citation offsets refer to)."""
    article = svc.article(doc_id)
    if article is None:
        return _error(404, f"no article {doc_id!r}: list them with GET /api/v1/documents")
    return ArticleOut.model_validate(article, from_attributes=True)


@router.post(
    "", response_model=UploadReport, status_code=201, responses={413: {}, 415: {}, 422: {}}
)
def upload_document(
    request: Request,
    file: Annotated[UploadFile, File(description=".txt, .md, .html, .pdf or .jsonl")],
    svc: ServiceDep,
) -> Any:
    """Add or update the articles in an uploaded file (size and type limits apply)."""
    limit = svc.settings.max_file_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        return _error(413, f"the upload is over the {limit:,}-byte limit (NEWSRAG_MAX_FILE_BYTES)")
    data = file.file.read(limit + 1)  # one byte more than allowed is enough to refuse it
    report = svc.add_upload(file.filename or "", data)
    body = report.to_dict()
    if report.added or report.updated:
        return JSONResponse(status_code=201, content=body)
    if report.skipped and not (report.unchanged or report.duplicates):
        status = STATUS_FOR_KIND.get(report.skipped[0].kind, 422)
        return JSONResponse(
            status_code=status,
            content={"message": "; ".join(str(e) for e in report.skipped), **body},
        )
    return JSONResponse(status_code=200, content=body)


@router.delete("/{doc_id}", responses={404: {}})
def delete_document(doc_id: DocIdPath, svc: ServiceDep) -> Any:
    """Remove an article and every one of its chunks."""
    if not svc.delete(doc_id):
        return _error(404, f"no article {doc_id!r}: list them with GET /api/v1/documents")
    return {"removed": doc_id}
