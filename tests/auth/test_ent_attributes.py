"""The ENT's attributes read the ways real ENTs write them: flat, multi-valued, nested, CAS 2 and 3."""
import pytest

from services.auth.ent_attributes import (
    CasUser, Mapping, Profile, RoleRefused, ValidationFailure, class_name, derive, parse_validation,
)

NS = 'xmlns:cas="http://www.yale.edu/tp/cas"'


def success(body: str, user: str = "jdupont") -> str:
    return f"<cas:serviceResponse {NS}><cas:authenticationSuccess><cas:user>{user}</cas:user>{body}" \
           "</cas:authenticationSuccess></cas:serviceResponse>"


CAS3_FLAT_TEACHER = success("""
  <cas:attributes>
    <cas:ENTPersonProfils>National_ENS</cas:ENTPersonProfils>
    <cas:displayName>Jeanne Dupont</cas:displayName>
    <cas:ENTPersonStructRattachUAI>0750001A</cas:ENTPersonStructRattachUAI>
    <cas:ENTAuxEnsClasses>0750001A$2NDE3</cas:ENTAuxEnsClasses>
  </cas:attributes>""")

CAS3_MULTIVALUED_STUDENT = success("""
  <cas:attributes>
    <cas:ENTPersonProfils>National_ELV</cas:ENTPersonProfils>
    <cas:givenName>Minh</cas:givenName>
    <cas:sn>Nguye\u0302\u0303n</cas:sn>
    <cas:ENTEleveClasses>0750001A$2NDE3</cas:ENTEleveClasses>
    <cas:ENTEleveClasses>0750001A$G2-SPE-NSI</cas:ENTEleveClasses>
    <cas:ENTPersonStructRattachUAI>0750001A</cas:ENTPersonStructRattachUAI>
  </cas:attributes>""", user="eleve.nguye\u0302\u0303n")

CAS3_NESTED_TEACHER = success("""
  <cas:attributes>
    <cas:ENTPersonProfils><cas:ENTPersonProfil>National_TUT</cas:ENTPersonProfil>
      <cas:ENTPersonProfil>National_DOC</cas:ENTPersonProfil></cas:ENTPersonProfils>
    <cas:ENTPersonStructRattachUAI><cas:value>0690001B</cas:value></cas:ENTPersonStructRattachUAI>
    <cas:cn>M. Martin</cas:cn>
  </cas:attributes>""")

# CAS 2 ENTs (ENT-core, Esup) write the attributes beside cas:user, without cas:attributes.
CAS2_BESIDE_USER_STUDENT = success("""
    <cas:ENTPersonProfils>National_ELV</cas:ENTPersonProfils>
    <cas:displayName>Léa Petit</cas:displayName>
    <cas:ENTEleveClasses>0130002C$1ERE2</cas:ENTEleveClasses>""", user="lpetit")

CAS3_JASIG_STYLE_STUDENT = success("""
  <cas:attribute name="ENTPersonProfils" value="National_ELV"/>
  <cas:attribute name="ENTEleveClasses" value="0310003D$TG1"/>
  <cas:attribute name="displayName" value="Tom Roux"/>""", user="troux")

# django-cas-server writes every attribute twice: in cas:attributes and as cas:attribute.
BOTH_STYLES_STUDENT = success("""
  <cas:attributes><cas:ENTPersonProfils>National_ELV</cas:ENTPersonProfils>
    <cas:ENTEleveClasses>0750001A$2NDE3</cas:ENTEleveClasses><cas:ENTEleveClasses>0750001A$G2</cas:ENTEleveClasses>
  </cas:attributes>
  <cas:attribute name="ENTPersonProfils" value="National_ELV"/>
  <cas:attribute name="ENTEleveClasses" value="0750001A$2NDE3"/>
  <cas:attribute name="ENTEleveClasses" value="0750001A$G2"/>""", user="x")

GUARDIAN = success("""
  <cas:attributes><cas:ENTPersonProfils>National_TUT</cas:ENTPersonProfils>
  <cas:displayName>Parent Dupont</cas:displayName></cas:attributes>""", user="pdupont")


@pytest.mark.parametrize(("raw", "expected"), [
    (CAS3_FLAT_TEACHER, Profile("jdupont", "Jeanne Dupont", "teacher", "0750001A", ("2NDE3",))),
    (CAS3_MULTIVALUED_STUDENT, Profile("eleve.nguyễn", "Minh Nguyễn", "student", "0750001A", ("2NDE3", "G2-SPE-NSI"))),
    (CAS3_NESTED_TEACHER, Profile("jdupont", "M. Martin", "teacher", "0690001B", ())),
    (CAS2_BESIDE_USER_STUDENT, Profile("lpetit", "Léa Petit", "student", "0130002C", ("1ERE2",))),
    (CAS3_JASIG_STYLE_STUDENT, Profile("troux", "Tom Roux", "student", "0310003D", ("TG1",))),
    (BOTH_STYLES_STUDENT, Profile("x", "x", "student", "0750001A", ("2NDE3", "G2"))),
], ids=["cas3-flat", "cas3-multivalued", "cas3-nested", "cas2-beside-user", "jasig-attribute", "both-styles"])
def test_each_way_an_ent_writes_attributes_gives_the_right_profile(raw, expected):
    assert derive(parse_validation(raw.encode())) == expected


def test_a_value_written_in_both_styles_counts_once():
    assert parse_validation(BOTH_STYLES_STUDENT).attributes["ENTEleveClasses"] == ["0750001A$2NDE3", "0750001A$G2"]


def test_uids_and_names_come_out_in_nfc():
    profile = derive(parse_validation(CAS3_MULTIVALUED_STUDENT))
    assert profile.uid == "eleve.nguy\u1ec5n" and profile.name.endswith("Nguy\u1ec5n")


def test_bidirectional_controls_are_removed_from_what_others_see_and_the_uid_is_kept():
    """A name from the ENT is cleaned, not refused: the person could not change it to get in."""
    raw = success("""
      <cas:attributes>
        <cas:ENTPersonProfils>National_ELV</cas:ENTPersonProfils>
        <cas:displayName>L\u00e9a \u202euaerom</cas:displayName>
        <cas:ENTEleveClasses>0750001A$2NDE\u20663\u2069</cas:ENTEleveClasses>
        <cas:ENTPersonStructRattachUAI>\u200f0750001A</cas:ENTPersonStructRattachUAI>
      </cas:attributes>""", user="lea.moreau")
    assert derive(parse_validation(raw.encode())) == Profile("lea.moreau", "Léa uaerom", "student", "0750001A",
                                                             ("2NDE3",))


def test_a_display_name_made_only_of_controls_falls_back_to_the_given_name():
    raw = success("""
      <cas:attributes>
        <cas:ENTPersonProfils>National_ELV</cas:ENTPersonProfils>
        <cas:displayName>\u202e</cas:displayName><cas:givenName>Lan</cas:givenName><cas:sn>Tran</cas:sn>
      </cas:attributes>""")
    assert derive(parse_validation(raw.encode())).name == "Lan Tran"


@pytest.mark.parametrize("profile", ["National_TUT", "National_COL", "National_PAR", ""])
def test_other_profiles_are_refused(profile):
    raw = success(f"<cas:attributes><cas:ENTPersonProfils>{profile}</cas:ENTPersonProfils></cas:attributes>")
    with pytest.raises(RoleRefused):
        derive(parse_validation(raw))


def test_guardian_is_refused_with_the_profiles_named():
    with pytest.raises(RoleRefused) as refused:
        derive(parse_validation(GUARDIAN))
    assert refused.value.profiles == ("National_TUT",)


def test_the_mapping_is_configurable():
    mapping = Mapping.from_settings({"CAS_TEACHER_PROFILES": "National_ENS, Local_FORMATEUR",
                                     "CAS_STUDENT_PROFILES": "National_ELV,National_TUT",
                                     "CAS_PROFILE_ATTRIBUTES": "ENTPersonProfils"})
    assert derive(parse_validation(GUARDIAN), mapping).role == "student"
    raw = success("<cas:attributes><cas:ENTPersonProfils>Local_FORMATEUR</cas:ENTPersonProfils></cas:attributes>")
    assert derive(parse_validation(raw), mapping).role == "teacher"


def test_a_teacher_profile_wins_over_a_student_one():
    user = CasUser("x", {"ENTPersonProfils": ["National_ELV", "National_ENS"]})
    assert derive(user).role == "teacher"


@pytest.mark.parametrize(("value", "expected"), [("0750001A$2NDE3", "2NDE3"), ("2NDE3", "2NDE3"),
                                                 ("0750001A$TG1$extra", "TG1")])
def test_the_class_is_after_the_dollar(value, expected):
    assert class_name(value) == expected


@pytest.mark.parametrize(("raw", "code"), [
    (f'<cas:serviceResponse {NS}><cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized'
     "</cas:authenticationFailure></cas:serviceResponse>", "INVALID_TICKET"),
    ("<html>proxy error</html>", "INVALID_RESPONSE"),
    ("not xml at all", "INVALID_RESPONSE"),
    (success("").replace("<cas:user>jdupont</cas:user>", ""), "INVALID_RESPONSE"),
])
def test_failures_and_garbage_are_validation_failures(raw, code):
    with pytest.raises(ValidationFailure) as failure:
        parse_validation(raw)
    assert failure.value.code == code
