"""The tool catalog of the discovery tests: real definitions plus tools written for the tests.

- Real: the 55 definitions of tests/services/real_tools.py (filesystem, git, time, memory,
  fetch, GitHub, Slack, Postgres, SQLite, Puppeteer, Stripe, Gmail), grouped by server; their
  schemas are not recorded there, so each gets an empty object schema.
- Ours (written for these tests, not copied from any server): `weather` and `chess` in
  English, `trains` and `trending` in Chinese, `agenda` in Spanish, `einkauf` in German, as
  local servers in those languages would describe themselves.

`tests/mcp_servers/catalog_server.py` serves any of these services over stdio.
"""

from __future__ import annotations

from typing import Any

from tests.services import real_tools as rt

Tool = dict[str, Any]


def _tool(name: str, description: str, **props: str) -> Tool:
    """A definition whose string parameters are `props` (name -> description), all required."""
    return {"name": name, "description": description,
            "inputSchema": {"type": "object",
                            "properties": {k: {"type": "string", "description": v}
                                           for k, v in props.items()},
                            "required": list(props)}}


OWN: dict[str, tuple[str, list[Tool]]] = {
    "weather": ("Weather", [
        _tool("get_weather_by_city", "Current weather conditions for a city: temperature, "
              "sky, wind and humidity.", city="City name, e.g. Paris"),
        _tool("get_forecast", "Weather forecast for the next days in a city.",
              city="City name", days="Number of days, 1 to 7"),
    ]),
    "chess": ("Chess", [
        _tool("new_game", "Start a new chess game against the engine.",
              color="The side you play: white or black"),
        _tool("make_move", "Play a move in the current chess game.",
              move="The move in algebraic notation, e.g. e4 or Nf3"),
        _tool("get_board", "Show the current chess board position."),
        _tool("get_turn", "Whose turn it is in the current chess game: white or black."),
        _tool("list_legal_moves", "List the legal moves in the current chess position."),
        _tool("resign", "Resign the current chess game."),
    ]),
    "trains": ("铁路出行", [
        _tool("get-tickets", "查询火车票余票信息：出发站、到达站和日期之间的车次、座位和票价。",
              date="出发日期，格式 YYYY-MM-DD", fromStation="出发站", toStation="到达站"),
        _tool("get-stations-in-city", "查询某个城市中的所有火车站。", city="城市名称"),
        _tool("get-train-route", "查询列车的经停站和到站时间。", trainNo="车次，例如 G1"),
        _tool("get-current-date", "获取今天的日期（上海时区），用于计算明天、后天等相对日期。"),
    ]),
    "trending": ("热榜", [
        _tool("get-weibo-trending", "获取微博热搜榜：当前最热门的话题和讨论。"),
        _tool("get-zhihu-trending", "获取知乎热榜：最受关注的问题和回答。"),
        _tool("get-douyin-trending", "获取抖音热点：热门视频和话题。"),
    ]),
    "agenda": ("Agenda", [
        _tool("listar_eventos", "Lista los eventos del calendario para una fecha.",
              fecha="La fecha de los eventos"),
        _tool("crear_evento", "Crea un evento nuevo en el calendario.",
              titulo="Título del evento"),
    ]),
    "einkauf": ("Einkauf", [
        _tool("artikel_hinzufuegen", "Fügt einen Artikel zur Einkaufsliste hinzu.",
              artikel="Der Name des Artikels"),
        _tool("liste_anzeigen", "Zeigt die aktuelle Einkaufsliste an."),
    ]),
}


# real_tools.py's origins -> service ids.
_SERVER_IDS = {rt.FS: "filesystem", rt.GIT: "git", rt.TIME: "time", rt.MEMORY: "memory",
               rt.FETCH: "fetch", rt.GITHUB: "github", rt.SLACK: "slack",
               rt.POSTGRES: "postgres", rt.SQLITE: "sqlite", rt.PUPPETEER: "puppeteer",
               rt.STRIPE: "stripe", rt.GMAIL: "gmail"}


def _real() -> dict[str, tuple[str, list[Tool]]]:
    """real_tools.py grouped by server."""
    services: dict[str, tuple[str, list[Tool]]] = {}
    for origin, name, description, hints, _level in rt.REAL_TOOLS:
        server = _SERVER_IDS[origin]
        services.setdefault(server, (server.title(), []))[1].append(
            {"name": name, "description": description,
             "inputSchema": {"type": "object", "properties": {}}, "annotations": hints})
    return services


SERVICES: dict[str, tuple[str, list[Tool]]] = {**_real(), **OWN}
