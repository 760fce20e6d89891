"""Request and response bodies of the HTTP API, as they appear in its OpenAPI document."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, naming the field or file and the reason")


class Segment(BaseModel):
    kind: str = Field(description="shot, sound, speech or ocr")
    start: float = Field(description="seconds from the file's start")
    end: float
    file_id: str = Field(description="id of the audio or video file this segment belongs to")


class ChannelRank(BaseModel):
    rank: int = Field(description="the hit's rank in this channel's own list, from 1")
    score: float = Field(description="its score there: BM25 for words, cosine similarity for vectors")


class Snippet(BaseModel):
    text: str = Field(description="a stretch of the item's stored text (or file name, folder, fields)")
    marks: list[list[int]] = Field(description="[start, end) character ranges of the matched words in text")


class Result(BaseModel):
    rank: int
    id: str
    score: float = Field(description="higher is closer: cosine similarity (semantic), BM25 (keyword), or the fused "
                                     "score of both lists (hybrid)")
    channel: str = Field("vectors", description="which channel found it: words, vectors or both")
    channels: dict[str, ChannelRank] = Field(default_factory=dict,
                                             description="channel (words, vectors) -> the hit's rank and score there")
    snippet: Snippet | None = Field(None, description="the matched words in context, for a hit of the words")
    relevance: float | None = Field(None, description="calibrated probability that the result is relevant (text "
                                                      "queries, where the model or collection has a calibration)")
    modality: str
    path: str | None
    text: str | None
    metadata: dict[str, Any] = Field(description="the item's metadata, without a segment's place in its file")
    segment: Segment | None = None
    thumbnail_url: str | None = Field(None, description="a JPEG of the photo or the shot's frame")
    media_url: str | None = Field(None, description="the file itself; audio and video honour HTTP Range requests")


class SearchResponse(BaseModel):
    results: list[Result]
    offset: int
    k: int
    has_more: bool = Field(description="whether another page follows")
    relevance_cut: float | None = Field(None, description="the default minimum relevance: the page shows the "
                                                          "results above it first (null: no calibration)")
    took_ms: float


class SpaceInfo(BaseModel):
    dimension: int
    vectors: int


class Info(BaseModel):
    path: str
    model: str
    items: int
    generation: int = Field(description="the committed generation this server is reading")
    spaces: dict[str, SpaceInfo]
    modalities: list[str] = Field(description="what the model can search by")
    writes_enabled: bool
    keys_for_reads: bool
    max_upload_bytes: int
    roots: list[str]


class Health(BaseModel):
    status: str


class WordShare(BaseModel):
    word: str
    share: float


class ClassShare(BaseModel):
    name: str
    probability: float
    weight: float
    similarity: float
    share: float


class Explanation(BaseModel):
    text: str
    id: str
    score: float
    words: list[WordShare] = Field(description="score minus the score without each word")
    classes: list[ClassShare] = Field(description="exact shares of the score per ImageNet class (offline pack)")


class AddPaths(BaseModel):
    paths: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, max_length=1000,
                             description="files or folders inside the server's roots (relative: to the first root)")


class AddReport(BaseModel):
    added: int
    updated: int
    unchanged: int
    skipped: list[str] = Field(description="'path: reason' for each file that could not be indexed")
    ids: list[str] = Field(default_factory=list, description="ids of the uploaded items")


class RemoveReport(BaseModel):
    removed: int


class MetadataUpdate(BaseModel):
    id: str
    metadata: dict[str, Any] = Field(description="keys to set; a null value removes the key")


class ReindexRequest(BaseModel):
    root: str | None = Field(None, description="a folder inside the roots (default: every root)")
    sync: StrictBool = Field(True, description="also remove stored files that are gone")


class Job(BaseModel):
    id: str
    state: str = Field(description="queued, running, done or failed")
    sources: list[str]
    files_total: int | None = Field(description="media files found under the sources")
    files_done: int
    skipped: int
    message: str | None = None
    report: AddReport | None = None


class DuplicateCopy(BaseModel):
    id: str
    path: str | None
    modality: str
    size: int | None
    mtime: float | None
    similarity: float = Field(description="cosine similarity to the group's best copy")
    exact: bool = Field(description="the same content hash as the best copy")


class DuplicateGroup(BaseModel):
    best: str = Field(description="the id of the best copy: the largest file, then the oldest")
    copies: list[DuplicateCopy]


class Duplicates(BaseModel):
    threshold: float
    space: str
    hash_distance: int | None = Field(None, description="perceptual hash bits (of 63) within which close photos "
                                                        "are copies; null: vectors only")
    groups: list[DuplicateGroup]
