from voice_mcp.services.tool_index.tokens import tokenize


def test_identifiers_split_on_case_and_separators() -> None:
    assert tokenize("listEvents") == tokenize("list_events") == tokenize("list-events")
    assert tokenize("get_HTTPResponse") == ["http", "respons"]


def test_words_are_lowercased_stemmed_and_common_words_dropped() -> None:
    assert tokenize("Please show me my Calendars for TOMORROW") == ["calendar", "tomorrow"]


def test_cjk_runs_become_bigrams_and_other_scripts_stay_words() -> None:
    assert tokenize("查询火车票") == ["查询", "询火", "火车", "车票"]
    assert tokenize("天気") == ["天気"]
    assert tokenize("票") == ["票"]
    assert tokenize("12306余票") == ["12306", "余票"]
    assert tokenize("¿Qué eventos tengo mañana?") == ["evento", "mañana"]


def test_full_width_forms_are_normalised() -> None:
    assert tokenize("ＧＩＴ　ｓｔａｔｕｓ") == tokenize("git status")
