"""Tests of the LLM client, tool naming and the fake OpenAI server."""
