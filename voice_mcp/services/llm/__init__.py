"""The LLM edge: an OpenAI-compatible chat client, tool naming and the assistant's prompt."""

from voice_mcp.services.llm.client import LLMClient, RoundListener
from voice_mcp.services.llm.models import AssistantTurn, ToolCallRequest, Usage, tool_result_message
from voice_mcp.services.llm.prompts import ASK_USER, ASK_USER_TOOL, SYSTEM_PROMPT
from voice_mcp.services.llm.tool_names import ToolSet, function_name, tool_set_for

__all__ = [
    "ASK_USER",
    "ASK_USER_TOOL",
    "SYSTEM_PROMPT",
    "AssistantTurn",
    "LLMClient",
    "RoundListener",
    "ToolCallRequest",
    "ToolSet",
    "Usage",
    "function_name",
    "tool_result_message",
    "tool_set_for",
]
