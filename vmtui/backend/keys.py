"""Text and key names to Linux input keycodes, for ``virDomainSendKey`` (VIR_KEYCODE_SET_LINUX)."""

from __future__ import annotations

KEY_ESC, KEY_BACKSPACE, KEY_TAB, KEY_ENTER = 1, 14, 15, 28
KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_LEFTALT, KEY_SPACE = 29, 42, 56, 57
KEY_SYSRQ, KEY_DELETE = 99, 111
KEY_UP, KEY_LEFT, KEY_RIGHT, KEY_DOWN = 103, 105, 106, 108
KEY_HOME, KEY_END, KEY_PAGEUP, KEY_PAGEDOWN = 102, 107, 104, 109
F_KEYS = {
    f"f{i}": code for i, code in enumerate((59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88), 1)
}

_ROWS = {
    "1234567890-=": 2,
    "qwertyuiop[]": 16,
    "asdfghjkl;'`": 30,
    "zxcvbnm,./": 44,
}
_SHIFTED = dict(zip('!@#$%^&*()_+{}:"~<>?|', "1234567890-=[];'`,./\\", strict=True))
_PLAIN: dict[str, int] = {"\\": 43, " ": KEY_SPACE, "\n": KEY_ENTER, "\r": KEY_ENTER, "\t": KEY_TAB}
for _row, _first in _ROWS.items():
    for _i, _ch in enumerate(_row):
        _PLAIN[_ch] = _first + _i

NAMED = {
    "enter": KEY_ENTER,
    "escape": KEY_ESC,
    "backspace": KEY_BACKSPACE,
    "tab": KEY_TAB,
    "delete": KEY_DELETE,
    "up": KEY_UP,
    "down": KEY_DOWN,
    "left": KEY_LEFT,
    "right": KEY_RIGHT,
    "home": KEY_HOME,
    "end": KEY_END,
    "pageup": KEY_PAGEUP,
    "pagedown": KEY_PAGEDOWN,
    "space": KEY_SPACE,
    **F_KEYS,
}

CTRL_ALT_DEL = (KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE)


def ctrl_alt_f(n: int) -> tuple[int, ...]:
    return (KEY_LEFTCTRL, KEY_LEFTALT, F_KEYS[f"f{n}"])


def char_keys(ch: str) -> tuple[int, ...] | None:
    """The keys pressed together to type one character on a US layout (None: cannot)."""
    if ch in _PLAIN:
        return (_PLAIN[ch],)
    if ch.isupper() and ch.lower() in _PLAIN:
        return (KEY_LEFTSHIFT, _PLAIN[ch.lower()])
    if ch in _SHIFTED:
        return (KEY_LEFTSHIFT, _PLAIN[_SHIFTED[ch]])
    return None


def key_combo(key: str, character: str | None) -> tuple[int, ...] | None:
    """A Textual key event as keycodes (ctrl+x, alt+x, named keys, printable characters)."""
    mods: list[int] = []
    name = key
    while True:
        if name.startswith("ctrl+"):
            mods.append(KEY_LEFTCTRL)
            name = name[5:]
        elif name.startswith("alt+"):
            mods.append(KEY_LEFTALT)
            name = name[4:]
        elif name.startswith("shift+"):
            mods.append(KEY_LEFTSHIFT)
            name = name[6:]
        else:
            break
    if name in NAMED:
        return (*mods, NAMED[name])
    ch = character if character and len(character) == 1 and not mods else name
    if len(ch) == 1:
        keys = char_keys(ch)
        return (*mods, *keys) if keys else None
    return None
