"""Canonical request, response and usage types.

The canonical chat request is the OpenAI Chat Completions shape: it is the lingua franca of the
field, every open-model server speaks it, and it lets the OpenAI-to-OpenAI path forward the
client's own JSON untouched. These structs *validate* a request (msgspec, in microseconds) and give
typed access to the fields Pointsman decides on; the raw decoded body travels beside them so that
fields Pointsman does not know still reach OpenAI-compatible upstreams.

A streamed answer is a sequence of OpenAI ``chat.completion.chunk`` JSON payloads (bytes, without
SSE framing); adapters for other protocols produce that shape, and edges for other client wire
formats consume it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

NonNegInt = Annotated[int, Meta(ge=0)]
PosInt = Annotated[int, Meta(ge=1)]


class TextPart(Struct, tag="text", tag_field="type", omit_defaults=True):
    text: str


class ImageURL(Struct, omit_defaults=True):
    url: str
    detail: str | None = None


class ImagePart(Struct, tag="image_url", tag_field="type", omit_defaults=True):
    image_url: ImageURL


class InputAudio(Struct):
    data: str
    format: str


class AudioPart(Struct, tag="input_audio", tag_field="type", omit_defaults=True):
    input_audio: InputAudio


class FilePart(Struct, tag="file", tag_field="type", omit_defaults=True):
    file: dict[str, Any]


class RefusalPart(Struct, tag="refusal", tag_field="type", omit_defaults=True):
    refusal: str


ContentPart = TextPart | ImagePart | AudioPart | FilePart | RefusalPart
CONTENT_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "refusal"})


class FunctionCall(Struct, omit_defaults=True):
    name: str
    arguments: str


class ToolCall(Struct, omit_defaults=True):
    id: str
    function: FunctionCall
    type: str = "function"


class Message(Struct, omit_defaults=True):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None


class FunctionDef(Struct, omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Struct, omit_defaults=True):
    function: FunctionDef
    type: str = "function"


class ResponseFormat(Struct, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class StreamOptions(Struct, omit_defaults=True):
    include_usage: bool | None = None


class ChatRequest(Struct, omit_defaults=True):
    """The OpenAI ``/v1/chat/completions`` request body, as far as Pointsman reads it."""

    model: str
    messages: Annotated[list[Message], Meta(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: PosInt | None = None
    max_completion_tokens: PosInt | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    presence_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None

    @property
    def output_limit(self) -> int | None:
        """The requested output cap, whichever of the two spellings the client used."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class EmbeddingRequest(Struct, omit_defaults=True):
    """The OpenAI ``/v1/embeddings`` request body."""

    model: str
    input: str | list[str | int | list[int]]  # text, texts, tokens or token lists
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: PosInt | None = None
    user: str | None = None


class Usage(Struct, omit_defaults=True):
    """Token usage of one request. ``estimated`` is set when Pointsman counted it itself."""

    prompt_tokens: NonNegInt = 0
    completion_tokens: NonNegInt = 0
    cached_tokens: NonNegInt = 0
    cache_write_tokens: NonNegInt = 0
    reasoning_tokens: NonNegInt = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# --- Minimal views of upstream OpenAI-format answers: decode only what accounting needs. ---


class _PromptDetails(Struct):
    cached_tokens: int | None = None


class _CompletionDetails(Struct):
    reasoning_tokens: int | None = None


class UsageView(Struct):
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None

    def to_usage(self) -> Usage:
        cached = self.prompt_tokens_details.cached_tokens if self.prompt_tokens_details else 0
        details = self.completion_tokens_details
        reasoning = details.reasoning_tokens if details else 0
        return Usage(
            prompt_tokens=self.prompt_tokens or 0,
            completion_tokens=self.completion_tokens or 0,
            cached_tokens=cached or 0,
            reasoning_tokens=reasoning or 0,
        )


class _MessageView(Struct):
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _ChoiceView(Struct):
    finish_reason: str | None = None
    message: _MessageView | None = None


class CompletionView(Struct):
    """What Pointsman reads of a non-streamed ``chat.completion``."""

    model: str | None = None
    choices: list[_ChoiceView] = []
    usage: UsageView | None = None


class _DeltaView(Struct):
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _ChunkChoiceView(Struct):
    delta: _DeltaView | None = None
    finish_reason: str | None = None


class ChunkView(Struct):
    """What Pointsman reads of one streamed ``chat.completion.chunk``."""

    choices: list[_ChunkChoiceView] = []
    usage: UsageView | None = None


completion_view_decoder = msgspec.json.Decoder(CompletionView)
chunk_view_decoder = msgspec.json.Decoder(ChunkView)
