"""Default settings for survey; an environment variable SURVEY_<NAME> overrides each name."""

# Where the data lives: a SQLite file in the instance folder when empty,
# or any peewee URL such as postgresql://user@host/db.
DATABASE_URL = ""
# Signs sessions, form tokens and poster links. Empty: a random key the app writes once into
# the instance folder (file `secret_key`); several machines need one SURVEY_SECRET_KEY shared.
SECRET_KEY = ""
# The address printed into personal links and QR codes, e.g. https://survey.example.vn
BASE_URL = "http://127.0.0.1:5000"
TIMEZONE = "Asia/Ho_Chi_Minh"
LANGUAGES = ["vi", "en"]
BABEL_DEFAULT_LOCALE = "vi"

# Forms and sessions.
WTF_CSRF_TIME_LIMIT = 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# False still marks cookies Secure on every request served over HTTPS (after the proxy fix).
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = 8 * 3600
MAX_CONTENT_LENGTH = 1024 * 1024
# Werkzeug's password hashing; scrypt is the strong default (tests use a cheap one).
PASSWORD_HASH_METHOD = "scrypt"

# SQLite's synchronous pragma (README, Production: what NORMAL risks, what FULL costs).
SQLITE_SYNCHRONOUS = "normal"
# Seconds between the SQLite WAL checkpoints each worker runs in a thread of its own
# (0: none; SQLite then checkpoints inside a commit once the WAL passes 40 MB).
SQLITE_CHECKPOINT_SECONDS = 1.0
# Tallies read the running counts the database keeps (migration 0015) where they are exact;
# false: every tally is counted from the answers (a check, or a way round a suspected fault).
RUNNING_TALLIES = True

# Days during which answers kept on a phone under a personal link that was replaced (or whose
# holder was deactivated) are still taken; the old link opens no page meanwhile. 0: none.
TOKEN_GRACE_DAYS = 30
# Who a collaborator whose card no longer works should ask, shown on the phone's error page
# (e.g. "Ban Tuyên giáo, 028 3864 0000"); empty: their organisation only.
PHONE_CONTACT = ""

# Rate limits (Flask-Limiter). memory:// keeps counts in each process; redis://host:6379
# shares them between processes and machines.
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_ENABLED = True
# Login posts per client address, and failed logins per account (whatever address they come from).
LOGIN_RATE_LIMIT = "10 per minute"
LOGIN_ACCOUNT_RATE_LIMIT = "5 per minute;30 per hour"
# Generous: a meeting hall's phones, or a mobile carrier's NAT, may share one address.
# Guessing a 192-bit personal token is hopeless anyway; this only stops floods.
PUBLIC_RATE_LIMIT = "600 per minute"

# Behind a reverse proxy: how many proxies in front set each X-Forwarded-* header (Werkzeug's
# ProxyFix); 0 ignores it. E.g. one TLS proxy: SURVEY_PROXY_FIX_X_FOR=1 SURVEY_PROXY_FIX_X_PROTO=1.
# Trust only a proxy the clients cannot bypass: otherwise they choose their own address.
PROXY_FIX_X_FOR = 0
PROXY_FIX_X_PROTO = 0
PROXY_FIX_X_HOST = 0
PROXY_FIX_X_PORT = 0
PROXY_FIX_X_PREFIX = 0
# Strict-Transport-Security on answers served over HTTPS (0: none).
HSTS_SECONDS = 365 * 24 * 3600

# Compress text answers (Flask-Compress): gzip only, which every phone browser reads.
COMPRESS_ALGORITHM = "gzip"
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "text/csv",
    "image/svg+xml",
]
COMPRESS_MIN_SIZE = 500
# Streamed answers (exports) go out as they are made, in constant memory.
COMPRESS_STREAMS = False

# Static files get versioned names, so browsers may keep them for a year.
SEND_FILE_MAX_AGE_DEFAULT = 365 * 24 * 3600

# The Word report (…/report.docx), laid out as an administrative report; each report's form may
# change these. The governing body and issuing body head the page (e.g. "QUẬN ỦY QUẬN 10",
# "BAN TUYÊN GIÁO"), the abbreviation ends its number ("Số: …/BC-BTG"), the place starts the
# date line ("Quận 10, ngày …"); recipients are one a line (or separated by ";").
REPORT_PARENT = ""
REPORT_ISSUER = ""
REPORT_ABBREVIATION = ""
REPORT_NUMBER = ""
REPORT_PLACE = ""
REPORT_SIGNER = ""
REPORT_SIGNER_TITLE = ""
REPORT_RECIPIENTS = ""
# A TrueType font with Vietnamese letters for the report's charts (empty: a system font).
REPORT_CHART_FONT = ""

# Exports (survey/tallies/jobs.py). A raw XLSX export of more responses than EXPORT_INLINE_ROWS
# is prepared as a job in a process of its own, followed on a page with a progress bar; so is a
# CSV export of more than EXPORT_STREAM_ROWS (it would outlast a worker's timeout), or when
# EXPORT_STREAMS exports are already streaming on this machine (each holds a worker to its
# last byte: keep it below the number of workers). At most EXPORT_JOBS jobs write
# at once per machine, at nice EXPORT_NICE; their files stay EXPORT_KEEP_HOURS in EXPORT_FOLDER
# (empty: `exports` in the instance folder; several machines: a folder they share).
EXPORT_INLINE_ROWS = 20000
EXPORT_STREAM_ROWS = 300000
EXPORT_STREAMS = 1
EXPORT_JOBS = 1
EXPORT_NICE = 10
EXPORT_KEEP_HOURS = 24
EXPORT_FOLDER = ""
