"""The `place` slot list, generated from the IANA time zone database (not typed by hand).

Cities come from zone names (`Asia/Tokyo` -> "Tokyo"), countries with a single zone from
`zone.tab` and `iso3166.tab`, plus a short table of aliases people say ("NYC", "LA", "here").
The database is the `tzdata` package (a dependency), else the system's /usr/share/zoneinfo.
Run `python -m voice_mcp.services.intents.places` to print the list it makes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

LOCAL = "local"  # the value of "here"; the `timezone` converter resolves it
_SYSTEM_TZDIR = Path("/usr/share/zoneinfo")
_PREFIXED = {"north", "south", "east", "west", "western", "american", "french", "dutch"}
ALIASES: dict[str, tuple[str, str]] = {  # spoken form -> (zone, name said back)
    "(here|my time|local time|my local time|where i am)": (LOCAL, "here"),
    "(new york|new york city|nyc|manhattan)": ("America/New_York", "New York"),
    "(la|l.a.|los angeles)": ("America/Los_Angeles", "Los Angeles"),
    "(san francisco|sf|seattle|silicon valley|pacific)": ("America/Los_Angeles", "Pacific time"),
    "(washington|washington dc|dc|boston|miami|atlanta|eastern)": ("America/New_York",
                                                                    "Eastern time"),
    "(dallas|houston|austin|central)": ("America/Chicago", "Central time"),
    "(mountain|salt lake city|albuquerque)": ("America/Denver", "Mountain time"),
    "(las vegas|san diego)": ("America/Los_Angeles", "Pacific time"),
    "(beijing|china)": ("Asia/Shanghai", "China"),
    "(mumbai|bombay|delhi|new delhi|bangalore|india)": ("Asia/Kolkata", "India"),
    "(london|england|uk|britain|great britain|scotland|wales)": ("Europe/London", "London"),
    "(utc|coordinated universal time|universal time)": ("UTC", "UTC"),
    "(gmt|greenwich mean time|greenwich)": ("Etc/GMT", "GMT"),
    "(sydney|melbourne|canberra)": ("Australia/Sydney", "Sydney"),
    "(toronto|montreal|ottawa)": ("America/Toronto", "Toronto"),
    "(vancouver)": ("America/Vancouver", "Vancouver"),
    "(saint petersburg|st petersburg|moscow)": ("Europe/Moscow", "Moscow"),
}


def _table(name: str) -> list[list[str]]:
    """Rows of a tab-separated tzdata table, from the tzdata package or the system."""
    try:
        text = (resources.files("tzdata") / "zoneinfo" / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        text = (_SYSTEM_TZDIR / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def _spoken(name: str) -> str:
    """How a name is matched: lower case, separators as spaces, no odd punctuation."""
    name = name.replace("_", " ").replace("&", "and").replace("-", " ")
    return " ".join(re.sub(r"[^\w' .]", " ", name.lower()).split())


def _country_names(name: str) -> list[str]:
    """"Korea (South)" -> ["South Korea"]; "Britain (UK)" -> ["Britain", "UK"]."""
    found = re.fullmatch(r"(.+?) \((.+)\)", name)
    if not found:
        return [name]
    base, extra = found.groups()
    if extra.lower() in _PREFIXED:
        return [f"{extra.capitalize()} {base}"]
    return [base] if "." in extra or " " in extra else [base, extra]


def _add(values: dict[str, dict[str, Any]], spoken: str, zone: str, name: str) -> None:
    if spoken and spoken not in values:
        values[spoken] = {"in": spoken, "out": zone, "metadata": {"name": name}}


@cache
def place_values() -> tuple[dict[str, Any], ...]:
    """Values for a hassil list: `in` what is said, `out` the IANA zone, metadata.name."""
    values: dict[str, dict[str, Any]] = {}
    for template, (zone, name) in ALIASES.items():
        values[template] = {"in": template, "out": zone, "metadata": {"name": name}}
    zone_rows = _table("zone.tab")
    for row in zone_rows:
        zone = row[2]
        city = zone.rsplit("/", 1)[-1].replace("_", " ")
        _add(values, _spoken(city), zone, city)
    zones_per_country = Counter(row[0] for row in zone_rows)
    zone_of = {row[0]: row[2] for row in zone_rows}
    for code, country in (row[:2] for row in _table("iso3166.tab")):
        if zones_per_country.get(code) == 1:
            for name in _country_names(country):
                _add(values, _spoken(name), zone_of[code], name)
    return tuple(values.values())


# Places the offline recogniser listens for: a search over every generated place is slow and
# confuses similar names, so speech takes the best-known ones (typed text takes them all).
SPEECH_PLACES = (
    "here", "new york", "los angeles", "san francisco", "seattle", "washington", "boston",
    "miami", "atlanta", "dallas", "houston", "austin", "chicago", "denver", "phoenix",
    "las vegas", "san diego", "anchorage", "honolulu", "toronto", "vancouver", "montreal",
    "mexico city", "havana", "jamaica", "bogota", "lima", "santiago", "buenos aires",
    "sao paulo", "caracas", "london", "england", "dublin", "ireland", "lisbon", "portugal",
    "madrid", "spain", "paris", "france", "brussels", "belgium", "amsterdam", "berlin",
    "germany", "zurich", "switzerland", "rome", "italy", "vienna", "austria", "prague",
    "warsaw", "poland", "budapest", "hungary", "stockholm", "sweden", "oslo", "norway",
    "copenhagen", "denmark", "helsinki", "finland", "athens", "greece", "istanbul", "turkey",
    "moscow", "kiev", "ukraine", "cairo", "egypt", "lagos", "nigeria", "nairobi", "kenya",
    "johannesburg", "dubai", "tehran", "iran", "jerusalem", "israel", "baghdad", "karachi",
    "pakistan", "india", "delhi", "mumbai", "dhaka", "bangkok", "thailand", "singapore",
    "jakarta", "manila", "hong kong", "beijing", "china", "shanghai", "taipei", "seoul",
    "tokyo", "japan", "sydney", "melbourne", "perth", "brisbane", "auckland", "new zealand",
    "utc", "gmt",
)


def speech_places() -> list[str]:
    """SPEECH_PLACES that the generated list knows (so a heard place always matches)."""
    known: set[str] = set()
    for value in place_values():
        known.update(part.strip() for part in value["in"].strip("()").split("|"))
    return [name for name in SPEECH_PLACES if name in known]


if __name__ == "__main__":
    print(json.dumps(list(place_values()), indent=1, ensure_ascii=False))
