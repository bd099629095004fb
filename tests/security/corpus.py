"""Hostile and malformed input, sorted by what the server must do with it."""

MEGABYTE_STRING = "x" * (1024 * 1024)

# Valid text: the server may refuse it for its own rules (length, unknown names) but it
# must never break on it; where the field is free text it is stored exactly as sent.
TEXT = {
    "sql_drop": "'; DROP TABLE tickets_ticket; --",
    "sql_or": "1' OR '1'='1",
    "sql_union": '" UNION SELECT password FROM agents_user --',
    "script": "<script>alert(1)</script>",
    "img_onerror": '"><img src=x onerror=alert(1)>',
    "javascript_url": "javascript:alert(document.cookie)",
    "template": "{{ 7|add:7 }} {% debug %} ${7*7}",
    "rtl_override": "evil\u202etxt.exe",
    "control_chars": "bell\u0007 escape\u001b[31m form\u000c",
    "emoji": "ship it 🚀🧨",
    "percent": "100% %s %(name)s %n",
    "backslashes": "C:\\path\\..\\..\\etc\\passwd",
}

# Must be refused with a 4xx wherever a string goes.
BAD_TEXT = {
    "nul_byte": "before\x00after",
    "lone_surrogate": "half \ud800 a pair",
    "megabyte": MEGABYTE_STRING,
    "list": ["a", "b"],
    "object": {"name": "x"},
}

# Must be refused with a 4xx wherever a whole number (an id, a count, seconds) goes.
BAD_NUMBERS = {
    "negative": -1,
    "zero_id": 0,
    "huge": 2**64,
    "googol": 10**100,
    "fraction": 1.5,
    "text": "ten",
    "bool": True,
    "list": [1],
    "object": {"n": 1},
}

# Bodies that are not JSON the server can read.
RAW_BODIES = {
    "invalid_utf8": b'{"name": "\xff\xfe\xfd"}',
    "invalid_utf8_only": b"\xc3\x28\xa0\xa1\xe2\x28\xa1",
    "deep_array": b"[" * 10_000 + b"]" * 10_000,
    "deep_object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "nan": b'{"name": NaN, "title": NaN, "text": NaN, "ticket_ids": [NaN]}',
    "infinity": b'{"name": Infinity, "lease_seconds": 1e999, "ticket_ids": [-Infinity]}',
    "truncated": b'{"name": "unfinished',
    "not_an_object": b'"just a string"',
    "nul_in_json": b'{"name": "a\\u0000b", "title": "a\\u0000b", "text": "a\\u0000b"}',
    "two_megabytes": b'{"name": "' + b"y" * (2 * 1024 * 1024) + b'"}',
}
