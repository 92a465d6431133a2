"""What the suite asks: tools, schemas, conversations, and a bounded ``send``.

The simulated provider answers deterministically from the conversation it receives (see
``docs/simulator.md``): the same conversation gives the same words whatever the wire format,
so comparing a protocol's answer with the pass-through OpenAI upstream's shows that the
translation delivered the conversation intact.
"""

from __future__ import annotations

import asyncio

from tests.conformance.cases import Case
from tests.conformance.clients import Ask, Client, Conversation, Reply, Tool

TIMEOUT_S = 10  # no request of the suite may take longer: a hang is a failure

WEATHER = Tool(
    "get_weather",
    "Current weather for a city",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit", "days"],
    },
)
TIME = Tool(
    "get_time",
    "Local time in a time zone",
    {
        "type": "object",
        "properties": {"zone": {"type": "string"}},
        "required": ["zone"],
    },
)
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature": {"type": "integer"},
        "sunny": {"type": "boolean"},
    },
    "required": ["city", "temperature", "sunny"],
    "additionalProperties": False,
}
SYSTEM = "You answer railway questions in one short sentence."
LONG_SYSTEM = (
    "You are the station master of a busy junction. You know every timetable, every platform "
    "and every signal, and you answer travellers patiently, precisely and without fuss."
)


def conversation(
    text: str = "Which platform for the night train?", system: str | None = None
) -> Conversation:
    conv = Conversation(system=system)
    conv.messages.append({"role": "user", "content": text})
    return conv


async def send(client: Client, case: Case, conv: Conversation, ask: Ask | None = None,
               variant: str = "") -> Reply:  # fmt: skip
    """Ask ``case``'s deployment (or its faulty twin ``variant``), failing on a hang."""
    return await asyncio.wait_for(client.send(case.alias(variant), conv, ask or Ask()), TIMEOUT_S)


async def reference(client: Client, conv: Conversation, ask: Ask | None = None) -> Reply:
    """The same request through the pass-through OpenAI upstream."""
    return await asyncio.wait_for(client.send("openai", conv, ask or Ask()), TIMEOUT_S)


def words(reply: Reply, count: int = 8) -> list[str]:
    return reply.text.split()[:count]
