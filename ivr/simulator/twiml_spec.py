"""What Twilio documents for the TwiML we use, and a checker: `check_twiml(xml) -> list[str]` (empty = fine).

Voice: `<Response>` with `<Say>`, `<Play>`, `<Pause>`, `<Gather>` (nesting `<Say>`, `<Play>`, `<Pause>`),
`<Record>`, `<Dial>` (one `<Number>`, or the number as its text; the attributes the simulator plays: `action`,
`method`, `timeout`, `callerId`, `timeLimit`), `<Redirect>`, `<Hangup>`. Messaging: `<Response>` with `<Message>` (text, or `<Body>`/`<Media>`) and
`<Redirect>`. Attribute names and values follow Twilio's TwiML reference (twilio.com/docs/voice/twiml/<verb>,
twilio.com/docs/messaging/twiml/message). Anything else — another verb, an unknown or misspelt attribute
(`numdigits`), a value out of range, a verb nested where it cannot be, a verb after `<Hangup>`/`<Redirect>` (never
reached) — is reported with its path, e.g. `Response/Gather[2]: numDigits must be a positive integer, got '0'`.

It is also the contract of the simulator (ivr/simulator/voice.py): a document that passes is one it plays.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import urlsplit

Check = Callable[[str], str | None]


def _choice(*allowed: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(repr(a) for a in allowed)}"

    return check


def _integer(minimum: int) -> Check:
    def check(value: str) -> str | None:
        if value.isdigit() and int(value) >= minimum:
            return None
        return "must be a positive integer" if minimum == 1 else f"must be an integer ≥ {minimum}"

    return check


def _url(value: str) -> str | None:
    if not value.strip() or any(c.isspace() for c in value):
        return "must be a URL without spaces"
    parts = urlsplit(value)
    if parts.scheme and (parts.scheme not in ("http", "https") or not parts.netloc):
        return "must be a relative URL or an absolute http(s) URL"
    return None


_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_VOICE = re.compile(r"^(man|woman|alice|Polly\.[A-Za-z-]+|Google\.[A-Za-z0-9-]+)$")


def _language(value: str) -> str | None:
    return None if _LANGUAGE.match(value) else "must be a BCP-47 language tag such as 'cmn-CN'"


def _voice(value: str) -> str | None:
    return None if _VOICE.match(value) else "must be man, woman, alice, Polly.<Name> or Google.<name>"


def _keys(allow_empty: bool, single: bool) -> Check:
    def check(value: str) -> str | None:
        if value == "" and allow_empty:
            return None
        if value and all(c in "0123456789#*" for c in value) and (not single or len(value) == 1):
            return None
        return (
            "must be one key of 0-9, #, *" + (" or ''" if allow_empty else "")
            if single
            else "must be keys 0-9#*"
        )

    return check


def _input(value: str) -> str | None:
    tokens = value.split()
    if tokens and len(set(tokens)) == len(tokens) and set(tokens) <= {"dtmf", "speech"}:
        return None
    return "must be 'dtmf', 'speech' or 'dtmf speech'"


def _speech_timeout(value: str) -> str | None:
    return None if value == "auto" or value.isdigit() else "must be a positive integer or 'auto'"


def _play_digits(value: str) -> str | None:
    return None if value and all(c in "0123456789wW#*" for c in value) else "must be keys 0-9#* and w (pause)"


def _recording_events(value: str) -> str | None:
    tokens = value.split()
    ok = tokens and set(tokens) <= {"in-progress", "completed", "absent"}
    return None if ok else "must be among 'in-progress completed absent'"


BOOLEAN = _choice("true", "false")
METHOD = _choice("GET", "POST")

# verb → attribute → value check (Twilio's TwiML reference)
VOICE_VERBS: dict[str, dict[str, Check]] = {
    "Say": {"voice": _voice, "language": _language, "loop": _integer(0)},
    "Play": {"loop": _integer(0), "digits": _play_digits},
    "Pause": {"length": _integer(1)},
    "Gather": {
        "action": _url,
        "actionOnEmptyResult": BOOLEAN,
        "bargeIn": BOOLEAN,
        "debug": BOOLEAN,
        "dtmfDetection": BOOLEAN,
        "enhanced": BOOLEAN,
        "finishOnKey": _keys(allow_empty=True, single=True),
        "hints": lambda v: None,
        "input": _input,
        "language": _language,
        "method": METHOD,
        "numDigits": _integer(1),
        "partialResultCallback": _url,
        "partialResultCallbackMethod": METHOD,
        "profanityFilter": BOOLEAN,
        "speechModel": lambda v: None if v else "must not be empty",
        "speechTimeout": _speech_timeout,
        "timeout": _integer(1),
    },
    "Record": {
        "action": _url,
        "finishOnKey": _keys(allow_empty=True, single=False),
        "maxLength": _integer(2),
        "method": METHOD,
        "playBeep": BOOLEAN,
        "recordingStatusCallback": _url,
        "recordingStatusCallbackEvent": _recording_events,
        "recordingStatusCallbackMethod": METHOD,
        "storageUrl": _url,
        "storageUrlMethod": METHOD,
        "timeout": _integer(0),
        "transcribe": BOOLEAN,
        "transcribeCallback": _url,
        "trim": _choice("trim-silence", "do-not-trim"),
    },
    "Dial": {"action": _url, "method": METHOD, "timeout": _integer(1), "timeLimit": _integer(1),
             "callerId": lambda v: None if _PHONE.match(v) else "must be a phone number such as '+861080000000'"},
    "Redirect": {"method": METHOD},
    "Hangup": {},
}
DIAL_NOUNS: dict[str, dict[str, Check]] = {"Number": {}}
MESSAGING_VERBS: dict[str, dict[str, Check]] = {
    "Message": {
        "to": lambda v: None,
        "from": lambda v: None,
        "action": _url,
        "method": METHOD,
        "statusCallback": _url,
    },
    "Redirect": {"method": METHOD},
}
GATHER_CHILDREN = ("Say", "Play", "Pause")
SSML_TAGS = ("break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w")
ENDS_THE_DOCUMENT = ("Hangup", "Redirect")


def check_twiml(xml: str, kind: str | None = None) -> list[str]:
    """Problems with a TwiML document, against Twilio's documented verbs and attributes (empty when valid).
    `kind` ("voice" or "messaging") also requires the document to be of that kind."""
    try:
        root = ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != "Response":
        return [f"root element must be <Response>, got <{root.tag}>"]
    problems = [f"Response: unknown attribute {name!r}" for name in root.attrib]
    problems += _text_problems(root, "Response")
    document_kind = _kind(root)
    if document_kind == "mixed":
        problems.append("Response: mixes voice verbs and <Message>; a document is either voice or messaging")
    if kind is not None and document_kind not in (kind, "empty"):
        problems.append(f"Response: expected a {kind} document, got {document_kind}")
    verbs = MESSAGING_VERBS if document_kind == "messaging" else VOICE_VERBS
    problems += _check_children(root, "Response", verbs, top_level=True)
    return problems


def _kind(root: ET.Element) -> str:
    tags = {child.tag for child in root}
    if not tags:
        return "empty"
    if "Message" in tags:
        return "messaging" if tags <= set(MESSAGING_VERBS) else "mixed"
    return "voice"


def _check_children(
    parent: ET.Element, path: str, verbs: dict[str, dict[str, Check]], top_level: bool
) -> list[str]:
    problems: list[str] = []
    counts: dict[str, int] = {}
    ended_by = None
    for child in parent:
        counts[child.tag] = counts.get(child.tag, 0) + 1
        where = f"{path}/{child.tag}[{counts[child.tag]}]"
        if ended_by:
            problems.append(f"{where}: never reached, it follows <{ended_by}>")
        if child.tag not in verbs:
            problems.append(f"{where}: <{child.tag}> is not allowed here (allowed: {', '.join(verbs)})")
            continue
        problems += _check_verb(child, where, verbs)
        if top_level and child.tag in ENDS_THE_DOCUMENT and ended_by is None:
            ended_by = child.tag
    return problems


def _check_verb(verb: ET.Element, where: str, verbs: dict[str, dict[str, Check]]) -> list[str]:
    problems = _attribute_problems(verb, where, verbs[verb.tag])
    problems += _BODY_CHECKS.get(verb.tag, _no_body)(verb, where)
    return problems


def _attribute_problems(verb: ET.Element, where: str, allowed: dict[str, Check]) -> list[str]:
    problems = []
    for name, value in verb.attrib.items():
        check = allowed.get(name)
        if check is None:
            hint = next((a for a in allowed if a.lower() == name.lower()), None)
            problems.append(
                f"{where}: unknown attribute {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            )
            continue
        error = check(value)
        if error:
            problems.append(f"{where}: {name} {error}, got {value!r}")
    return problems


def _text(element: ET.Element) -> str:
    return "".join(element.itertext()).strip()


def _text_problems(element: ET.Element, where: str) -> list[str]:
    stray = (element.text or "").strip() or any((c.tail or "").strip() for c in element)
    return [f"{where}: text is not allowed directly inside <{element.tag}>"] if stray else []


def _no_body(verb: ET.Element, where: str) -> list[str]:
    problems = [f"{where}: <{verb.tag}> takes no nested elements" for _ in list(verb)[:1]]
    if (verb.text or "").strip():
        problems.append(f"{where}: <{verb.tag}> takes no text")
    return problems


def _say_body(verb: ET.Element, where: str) -> list[str]:
    problems = [
        f"{where}: <{c.tag}> is not SSML that <Say> accepts"
        for c in verb.iter()
        if c is not verb and c.tag not in SSML_TAGS
    ]
    if not _text(verb):
        problems.append(f"{where}: <Say> needs text to speak")
    return problems


def _play_body(verb: ET.Element, where: str) -> list[str]:
    problems = [f"{where}: <Play> takes no nested elements" for _ in list(verb)[:1]]
    url = (verb.text or "").strip()
    if not url and "digits" not in verb.attrib:
        problems.append(f"{where}: <Play> needs an audio URL (or the digits attribute)")
    elif url and (error := _url(url)):
        problems.append(f"{where}: audio URL {error}, got {url!r}")
    return problems


def _redirect_body(verb: ET.Element, where: str) -> list[str]:
    problems = [f"{where}: <Redirect> takes no nested elements" for _ in list(verb)[:1]]
    url = (verb.text or "").strip()
    error = _url(url) if url else "must not be empty"
    if error:
        problems.append(f"{where}: the URL {error}, got {url!r}")
    return problems


def _gather_body(verb: ET.Element, where: str) -> list[str]:
    problems = _text_problems(verb, where)
    return problems + _check_children(
        verb, where, {t: VOICE_VERBS[t] for t in GATHER_CHILDREN}, top_level=False
    )


def _dial_body(verb: ET.Element, where: str) -> list[str]:
    """One `<Number>` holding the number, or the number as the `<Dial>`'s own text — not both, not neither."""
    problems = _check_children(verb, where, DIAL_NOUNS, top_level=False)
    numbers = [c for c in verb if c.tag == "Number"]
    text = (verb.text or "").strip()
    if len(numbers) > 1:
        problems.append(f"{where}: more than one <Number> (the simulator rings one)")
    if numbers and text:
        problems.append(f"{where}: a number as text and a <Number> both")
    for number in numbers or [verb]:
        value = _text(number) if number is not verb else text
        if not _PHONE.match(value):
            problems.append(f"{where}: the number to dial must be a phone number")  # never echoed: personal data
    return problems


def _number_body(verb: ET.Element, where: str) -> list[str]:
    return [f"{where}: <Number> takes no nested elements" for _ in list(verb)[:1]]


def _message_body(verb: ET.Element, where: str) -> list[str]:
    children = {c.tag for c in verb}
    problems = [
        f"{where}: <{t}> is not allowed in <Message> (Body, Media)" for t in children - {"Body", "Media"}
    ]
    if children and (verb.text or "").strip():
        problems.append(f"{where}: put the text in <Body> when <Message> has nested elements")
    problems += [f"{where}: <{c.tag}> takes no attributes" for c in verb if c.attrib]
    has_body = bool((verb.text or "").strip()) or any(c.tag == "Body" and _text(c) for c in verb)
    if not has_body and "Media" not in children:
        problems.append(f"{where}: <Message> needs a body or media")
    for media in verb.iter("Media"):
        if error := _url((media.text or "").strip()):
            problems.append(f"{where}/Media: {error}")
    return problems


_BODY_CHECKS: dict[str, Callable[[ET.Element, str], list[str]]] = {
    "Say": _say_body,
    "Play": _play_body,
    "Redirect": _redirect_body,
    "Gather": _gather_body,
    "Dial": _dial_body,
    "Number": _number_body,
    "Message": _message_body,
}
