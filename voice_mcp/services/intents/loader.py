"""Load `config/intents/<service>.yaml` into hassil intents; any fault is one start-up line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hassil import Intents, ListReference, RuleReference, parse_sentence
from hassil.expression import Expression, Group
from pydantic import ValidationError

from voice_mcp.defaults import builtin_templates
from voice_mcp.services.catalog import ServiceConfig
from voice_mcp.services.intents.clock import spoken_clock_phrases, spoken_clock_rule
from voice_mcp.services.intents.converters import CONVERTERS
from voice_mcp.services.intents.models import IntentFile, IntentSpec
from voice_mcp.services.intents.places import place_values, speech_places
from voice_mcp.services.intents.respond import TemplateError, check_template
from voice_mcp.settings import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    """A generated list: what hassil matches, and the phrases the speech grammar allows."""

    hassil: dict[str, Any]
    spoken: str | None = None  # a JSGF rule body; None: the grammar takes the hassil values
    phrases: list[str] | None = None  # what can be said, for sampling; None: the hassil values


GENERATORS: dict[str, Callable[[], Generated]] = {
    "places": lambda: Generated({"values": list(place_values())}, phrases=speech_places()),
    "clock_time": lambda: Generated({"wildcard": True}, spoken_clock_rule(),
                                    spoken_clock_phrases()),
}


@dataclass
class ServiceIntents:
    """One service's templates, compiled."""

    service: str
    path: Path
    spec: IntentFile
    intents: Intents
    spoken_lists: dict[str, str] = field(default_factory=dict)
    slot_sources: dict[str, str] = field(default_factory=dict)  # slot -> the list it reads
    spoken_phrases: dict[str, list[str]] = field(default_factory=dict)

    def fault(self, intent: str, message: str) -> ConfigError:
        """The one-line start-up error for a fault in one intent of this file."""
        return ConfigError(f"{self.path}: intent {intent}: {message}")


def load_intents(directory: Path, services: Mapping[str, ServiceConfig]) -> list[ServiceIntents]:
    """Every `<service>.yaml` in `directory` for a catalog service, checked and compiled; a
    service without a file of its own gets the built-in templates of the server it runs."""
    loaded: list[ServiceIntents] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            if path.stem not in services:
                log.warning("intents file for a service not in the catalog ignored: %s",
                            path.name)
                continue
            loaded.append(load_file(path, path.stem))
    own = {found.service for found in loaded}
    for service in services.values():
        builtin = builtin_templates(service.command)
        if service.id not in own and builtin is not None:
            loaded.append(load_file(builtin, service.id))
    return loaded


def load_file(path: Path, service: str) -> ServiceIntents:
    """Parse and check one file; raise ConfigError naming the file (and intent) on a fault."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = IntentFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot be read as YAML ({_first_line(err)})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    lists, spoken, phrases = _lists(path, spec)
    sources: dict[str, str] = {}
    for name, intent in spec.intents.items():
        sources.update(_check_intent(path, spec, lists, name, intent))
    body = {"language": spec.language, "lists": lists, "expansion_rules": spec.expansion_rules,
            "skip_words": spec.skip_words,
            "intents": {name: {"data": [block.model_dump() for block in intent.data]}
                        for name, intent in spec.intents.items()}}
    try:
        compiled = Intents.from_dict(body)
    except Exception as err:  # hassil raises many kinds; the operator needs one line
        raise ConfigError(f"{path}: lists: {_first_line(err)}") from None
    return ServiceIntents(service, path, spec, compiled, spoken, sources, phrases)


def _lists(path: Path, spec: IntentFile) -> tuple[dict[str, Any], dict[str, str],
                                                 dict[str, list[str]]]:
    lists: dict[str, Any] = {}
    spoken: dict[str, str] = {}
    phrases: dict[str, list[str]] = {}
    for name, body in spec.lists.items():
        generator = body.get("generator")
        if generator is None:
            lists[name] = body
            continue
        if generator not in GENERATORS:
            raise ConfigError(f"{path}: lists.{name}: unknown generator '{generator}' "
                              f"(known: {', '.join(sorted(GENERATORS))})")
        made = GENERATORS[generator]()
        lists[name] = made.hassil
        if made.spoken is not None:
            spoken[name] = made.spoken
        if made.phrases is not None:
            phrases[name] = made.phrases
    return lists, spoken, phrases


def _check_intent(path: Path, spec: IntentFile, lists: dict[str, Any], name: str,
                  intent: IntentSpec) -> dict[str, str]:
    """Check sentences, slots, converters and the response; return slot -> list names."""
    sources: dict[str, str] = {}

    def fault(message: str) -> ConfigError:
        return ConfigError(f"{path}: intent {name}: {message}")

    for block in intent.data:
        for sentence in block.sentences:
            try:
                expression = parse_sentence(sentence).expression
            except Exception as err:
                raise fault(f"sentence {sentence!r} does not parse ({_first_line(err)})") from None
            slots = set(block.slots)
            for ref in _references(expression, spec.expansion_rules, path, name):
                if ref.list_name not in lists and not ref.is_inline_range:
                    raise fault(f"sentence {sentence!r} uses unknown list {{{ref.list_name}}}")
                slots.add(ref.slot_name)
                sources[ref.slot_name] = ref.list_name
            for argument, source in intent.arguments.items():
                if source.slot is not None and source.slot not in slots:
                    raise fault(f"argument {argument!r} needs slot {{{source.slot}}}, "
                                f"which sentence {sentence!r} does not fill")
    for argument, source in intent.arguments.items():
        if source.convert is not None and source.convert not in CONVERTERS:
            raise fault(f"argument {argument!r}: unknown converter '{source.convert}' "
                        f"(known: {', '.join(sorted(CONVERTERS))})")
    try:
        check_template(intent.response)
    except (TemplateError, ValueError) as err:
        raise fault(f"response: {err}") from None
    return sources


def _references(expression: Expression, rules: dict[str, str], path: Path,
                intent: str, depth: int = 0) -> list[ListReference]:
    """The list references of a sentence, through its expansion rules."""
    if depth > 20:
        raise ConfigError(f"{path}: intent {intent}: expansion rules nest too deep")
    if isinstance(expression, ListReference):
        return [expression]
    if isinstance(expression, RuleReference):
        if expression.rule_name not in rules:
            raise ConfigError(f"{path}: intent {intent}: unknown rule <{expression.rule_name}>")
        rule = parse_sentence(rules[expression.rule_name]).expression
        return _references(rule, rules, path, intent, depth + 1)
    if isinstance(expression, Group):
        return [ref for item in expression.items
                for ref in _references(item, rules, path, intent, depth)]
    return []


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
