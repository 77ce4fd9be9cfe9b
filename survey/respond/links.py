"""The addresses printed into messages and QR codes: personal links and signed poster links."""

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from survey.models import Organisation, Ward


def base_url():
    """Return SURVEY_BASE_URL without a trailing slash."""
    return current_app.config["BASE_URL"].rstrip("/")


def personal_link(collaborator):
    """Return the full address of a collaborator's personal page."""
    return f"{base_url()}/c/{collaborator.token}"


def _group_signer():
    """Return the serializer that signs a ward+organisation pair for poster links."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="survey-poster-group")


def sign_group(ward, organisation):
    """Return the signed token naming a ward and an organisation (for /s/<slug>/<group>)."""
    return _group_signer().dumps([ward.code, organisation.code])


def read_group(group):
    """Return the (ward, organisation) a signed group names, or None if tampered or unknown."""
    try:
        ward_code, organisation_code = _group_signer().loads(group)
    except (BadSignature, ValueError, TypeError):
        return None
    ward = Ward.get_or_none((Ward.code == ward_code) & Ward.active)
    organisation = Organisation.get_or_none(
        (Organisation.code == organisation_code) & Organisation.active
    )
    if ward is None or organisation is None:
        return None
    return ward, organisation


def open_link(questionnaire, ward=None, organisation=None):
    """Return the open-link address of a questionnaire, signed for a ward+organisation if given."""
    url = f"{base_url()}/s/{questionnaire.slug}"
    if ward is not None and organisation is not None:
        url += "/" + sign_group(ward, organisation)
    return url
