from contrail.local.fake.tokens import count_tokens, split_pieces, truncate


def test_words_and_punctuation_are_separate_tokens() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0
    assert count_tokens("  \n ") == 0


def test_pieces_rebuild_the_text_one_token_each() -> None:
    text = "  Hi there,\nhow's it going?  "
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert len(pieces) == count_tokens(text)


def test_truncate_keeps_the_first_tokens() -> None:
    assert truncate("one two three four", 2) == ("one two", True)
    assert truncate("one two", 5) == ("one two", False)
