"""The session cookie: Flask's signed cookie, without the per-request work that can be done once."""
from flask.sessions import SecureCookieSessionInterface


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer built once per key and no work for an unchanged cookie.

    Flask builds a new serializer (key derivation included) for every request, and works
    out the cookie's name, domain, path and flags before finding, on nearly every request,
    that the cookie need not be sent again. Both showed up on the phone's submit path.
    """

    def __init__(self):
        """Start with no serializer built."""
        self._serializer, self._keys = None, None

    def get_signing_serializer(self, app):
        """Return the serializer for the app's current secret key(s), built again only when they change."""
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if keys != self._keys:
            self._serializer, self._keys = super().get_signing_serializer(app), keys
        return self._serializer

    def save_session(self, app, session, response):
        """Send the cookie only when Flask would: a non-empty, unchanged session costs nothing more."""
        if session and not self.should_set_cookie(app, session):
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
