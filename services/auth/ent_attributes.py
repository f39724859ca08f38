"""Who the ENT says a person is: the CAS validation response read into a profile.

Pure functions, no Flask.  :func:`parse_validation` reads the raw XML of a CAS 2
``serviceValidate`` or CAS 3 ``p3/serviceValidate`` answer; :func:`derive` maps its
attributes to a role, a name, a school and classes with a :class:`Mapping` whose
default follows the national SDET profiles.

We read the XML ourselves because python-cas keeps only the first level of
``<cas:attributes>``: nested attributes, as some ENTs send them
(``<cas:ENTPersonProfils><cas:ENTPersonProfil>National_ENS</…></…>``), come out as
``None``, and attributes written directly under ``<cas:authenticationSuccess>`` (CAS 2
ENTs) are lost.  Every shape real ENTs use is understood here:

- flat: ``<cas:ENTPersonProfils>National_ENS</cas:ENTPersonProfils>``;
- multi-valued: the same element repeated;
- nested: a container whose children hold the values (the values count for the
  container's name and for the child's name);
- CAS 2 style: attributes beside ``<cas:user>``, with no ``<cas:attributes>``;
- Jasig style: ``<cas:attribute name="…" value="…"/>`` (django-cas-server writes these
  beside ``<cas:attributes>``; a name given both ways counts once).

Attributes read (SDET names, see ``docs/ent-integration.md``):

- role: ``ENTPersonProfils`` (or ``ENTPersonProfil``), configurable;
- name: ``displayName``, else ``givenName`` + ``sn``, else ``cn``, else the uid;
- school (UAI): ``ENTPersonStructRattachUAI``, else ``ENTEleveStructRattachUAI`` /
  ``ENTStructureUAI`` / ``ENTEleveStructRattachId``, else the UAI before the ``$`` of
  the first class;
- classes: ``ENTEleveClasses`` (students) and ``ENTAuxEnsClasses`` (teachers), values
  ``<UAI>$<class>`` (``0750001A$2NDE3`` → ``2NDE3``).

The name, the school and the classes are shown to others (a teacher's list, a ZIP's
folders): bidirectional control characters (:mod:`capytale.bidi`) are removed from
them rather than refused, since the person cannot change what the ENT says.  The uid
is kept exactly as it is: it is the ENT's identifier, and the user key is made from it.
"""
from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

from capytale.bidi import without_bidi_controls

NATIONAL_TEACHER_PROFILES = ("National_ENS", "National_DOC", "National_DIR", "National_ETA", "National_EVS")
NATIONAL_STUDENT_PROFILES = ("National_ELV",)
PROFILE_ATTRIBUTES = ("ENTPersonProfils", "ENTPersonProfil")
SCHOOL_ATTRIBUTES = ("ENTPersonStructRattachUAI", "ENTEleveStructRattachUAI", "ENTStructureUAI",
                     "ENTEleveStructRattachId")
CLASS_ATTRIBUTES = ("ENTEleveClasses", "ENTAuxEnsClasses")
_NOT_ATTRIBUTES = {"user", "proxyGrantingTicket", "proxies"}


class ValidationFailure(Exception):
    """The CAS server refused the ticket, or answered something that is not CAS."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RoleRefused(Exception):
    """The person's profiles give no role on Capytale (guardians, local authority staff…)."""

    def __init__(self, uid: str, profiles: tuple[str, ...]):
        super().__init__(f"{uid}: no allowed profile in {profiles}")
        self.uid = uid
        self.profiles = profiles


@dataclass(frozen=True)
class CasUser:
    """A validated ticket: the uid and every attribute as a list of values."""

    uid: str
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def values(self, *names: str) -> list[str]:
        """Values of the first of ``names`` present (names compared without case)."""
        lowered = {k.lower(): v for k, v in self.attributes.items()}
        for name in names:
            if lowered.get(name.lower()):
                return lowered[name.lower()]
        return []

    def first(self, *names: str) -> str:
        values = self.values(*names)
        return values[0] if values else ""


@dataclass(frozen=True)
class Mapping:
    """Which ENT profiles give which role; the default is the national SDET one."""

    teacher_profiles: tuple[str, ...] = NATIONAL_TEACHER_PROFILES
    student_profiles: tuple[str, ...] = NATIONAL_STUDENT_PROFILES
    profile_attributes: tuple[str, ...] = PROFILE_ATTRIBUTES

    @classmethod
    def from_settings(cls, settings) -> "Mapping":
        return cls(split_list(settings["CAS_TEACHER_PROFILES"]), split_list(settings["CAS_STUDENT_PROFILES"]),
                   split_list(settings["CAS_PROFILE_ATTRIBUTES"]))


@dataclass(frozen=True)
class Profile:
    uid: str
    name: str
    role: str  # "teacher" or "student"
    school: str = ""
    classes: tuple[str, ...] = ()


def split_list(raw: str) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``: the format of the list settings."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def shown_text(text: str) -> str:
    """An attribute as others will see it: NFC, without bidirectional controls."""
    return nfc(without_bidi_controls(text))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _collect(element: ElementTree.Element, into: dict[str, list[str]],
             jasig: dict[str, list[str]] | None = None) -> None:
    """Add the attributes held by ``element``'s children to ``into`` (``<cas:attribute>`` ones to ``jasig``)."""
    jasig = into if jasig is None else jasig

    def add(name: str, value: str | None, target: dict[str, list[str]] = into) -> None:
        if value is not None and value.strip():
            target.setdefault(name, []).append(nfc(value))

    for child in element:
        name = _local(child.tag)
        if name in _NOT_ATTRIBUTES:
            continue
        if name in ("attributes", "norEduPerson"):
            _collect(child, into, jasig)
        elif name == "attribute" and "name" in child.attrib:
            add(child.attrib["name"], child.attrib.get("value", child.text), jasig)
        elif len(child):  # nested: the values are in the children
            for leaf in child.iter():
                if leaf is not child and not len(leaf):
                    add(name, leaf.text)
                    if _local(leaf.tag) != name:
                        add(_local(leaf.tag), leaf.text)
        else:
            add(name, child.text)


def parse_validation(raw: bytes | str) -> CasUser:
    """The uid and attributes of a CAS 2/3 validation answer; :class:`ValidationFailure` otherwise."""
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise ValidationFailure("INVALID_RESPONSE", f"not XML: {exc}") from None
    if _local(root.tag) != "serviceResponse":
        raise ValidationFailure("INVALID_RESPONSE", f"unexpected root element {root.tag}")
    for outcome in root:
        kind = _local(outcome.tag)
        if kind == "authenticationFailure":
            raise ValidationFailure(outcome.attrib.get("code", "UNKNOWN"), (outcome.text or "").strip())
        if kind == "authenticationSuccess":
            user = next((c for c in outcome if _local(c.tag) == "user"), None)
            if user is None or not (user.text or "").strip():
                raise ValidationFailure("INVALID_RESPONSE", "success without a user")
            attributes: dict[str, list[str]] = {}
            jasig: dict[str, list[str]] = {}
            _collect(outcome, attributes, jasig)
            for name, values in jasig.items():  # some servers write both styles: count each value once
                attributes.setdefault(name, values)
            return CasUser(uid=nfc(user.text), attributes=attributes)
    raise ValidationFailure("INVALID_RESPONSE", "neither success nor failure")


def class_name(value: str) -> str:
    """``0750001A$2NDE3`` → ``2NDE3``; a value without ``$`` is the class itself."""
    parts = value.split("$")
    return parts[1].strip() if len(parts) > 1 else value.strip()


def derive(user: CasUser, mapping: Mapping = Mapping()) -> Profile:
    """The Capytale profile of a validated CAS user; :class:`RoleRefused` when no role applies."""
    profiles = tuple(p.strip() for value in user.values(*mapping.profile_attributes)
                     for p in value.replace(";", ",").split(",") if p.strip())
    lowered = {p.lower() for p in profiles}
    if lowered & {p.lower() for p in mapping.teacher_profiles}:
        role = "teacher"
    elif lowered & {p.lower() for p in mapping.student_profiles}:
        role = "student"
    else:
        raise RoleRefused(user.uid, profiles)

    name = shown_text(user.first("displayName"))
    if not name:
        name = shown_text(" ".join(part for part in (user.first("givenName"), user.first("sn")) if part))
    name = name or shown_text(user.first("cn")) or user.uid

    raw_classes = [v for attribute in CLASS_ATTRIBUTES for v in user.values(attribute)]
    classes: list[str] = []
    for value in raw_classes:
        name_of_class = shown_text(class_name(value))
        if name_of_class and name_of_class not in classes:
            classes.append(name_of_class)

    school = user.first(*SCHOOL_ATTRIBUTES)
    if not school and raw_classes and "$" in raw_classes[0]:
        school = raw_classes[0].split("$", 1)[0]
    return Profile(uid=user.uid, name=name, role=role, school=shown_text(school), classes=tuple(classes))
