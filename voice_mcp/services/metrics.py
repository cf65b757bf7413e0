"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every counter and histogram the server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "voice_mcp_http_requests_total", "HTTP requests by route and status",
            ["method", "route", "status"], registry=self.registry)
        self.http_latency = Histogram(
            "voice_mcp_http_request_duration_seconds", "HTTP request latency by route",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.commands = Counter(
            "voice_mcp_commands_total", "Voice commands by final status", ["status"],
            registry=self.registry)
        self.stage_latency = Histogram(
            "voice_mcp_stage_duration_seconds", "Time spent per pipeline stage", ["stage"],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.tool_calls = Counter(
            "voice_mcp_tool_calls_total", "MCP tool calls by service and outcome",
            ["service", "success"], registry=self.registry)
        self.llm_round = Histogram(
            "voice_mcp_llm_round_duration_seconds",
            "Each LLM round of a command: time to its first token, and in total",
            ["round", "phase"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.tool_latency = Histogram(
            "voice_mcp_tool_call_duration_seconds", "Each MCP tool call, by service",
            ["service"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.first_delta = Histogram(
            "voice_mcp_first_delta_seconds",
            "From the start of a command to its first `delta` event (speech can begin)",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.llm_requests = Counter(
            "voice_mcp_llm_requests_total", "Requests made to the LLM", registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
