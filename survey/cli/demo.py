"""Demo data: the programme's organisations, the wards of former District 10, a few
collaborators, a sample questionnaire and an admin account. Seeding twice changes nothing."""

import secrets
from dataclasses import dataclass, field

from survey.db import database
from survey.models import AuditEvent, Collaborator, Organisation, Questionnaire, User, Ward
from survey.questionnaires.file_format import import_questionnaire
from survey.security import hash_password

# The six signatories of the 2022–2025 public-opinion programme of District 10.
ORGANISATIONS = [
    ("BTG", "Ban Tuyên giáo Quận ủy"),
    ("MTTQ", "Ủy ban MTTQ Việt Nam quận"),
    ("DOAN", "Quận đoàn"),
    ("LDLD", "Liên đoàn Lao động quận"),
    ("HLHPN", "Hội Liên hiệp Phụ nữ quận"),
    ("HCCB", "Hội Cựu chiến binh quận"),
]
# Phường 1, 2, 4–15 of former District 10 (there was no Phường 3).
WARDS = [(f"P{n:02d}", f"Phường {n}") for n in [1, 2, *range(4, 16)]]

COLLABORATORS = [
    ("Nguyễn Văn Hùng", "0903100001", "MTTQ", "P01"),
    ("Trần Thị Mai", "0903100002", "HLHPN", "P01"),
    ("Lê Hoàng Nam", "0903100003", "DOAN", "P02"),
    ("Phạm Thị Lan", "0903100004", "HLHPN", "P04"),
    ("Võ Văn Tư", "0903100005", "HCCB", "P05"),
    ("Huỳnh Ngọc Ánh", "0903100006", "DOAN", "P06"),
    ("Đặng Quốc Bảo", "0903100007", "LDLD", "P07"),
    ("Bùi Thị Hồng", "0903100008", "MTTQ", "P08"),
    ("Đỗ Minh Tuấn", "0903100009", "LDLD", "P09"),
    ("Hồ Thị Thu", "0903100010", "MTTQ", "P10"),
    ("Ngô Văn Sáu", "0903100011", "HCCB", "P12"),
    ("Dương Thanh Tâm", "0903100012", "DOAN", "P14"),
]

SAMPLE_SLUG = "y-kien-chinh-trang-do-thi"
QUESTIONNAIRE = {
    "slug": SAMPLE_SLUG,
    "title": "Ý kiến về chỉnh trang đô thị trên địa bàn phường",
    "description": "Phiếu thăm dò ý kiến dành cho cộng tác viên dư luận xã hội. "
    "Xin ông/bà dành ít phút trả lời; ý kiến được tổng hợp theo phường và đơn vị.",
    "status": "open",
    "anonymous": False,
    "per_collaborator": "one",
    "open_link": True,
    "suppress_below": 0,
    "targets": {"organisations": [], "wards": []},
    "questions": [
        {"key": "chung", "kind": "section", "prompt": "Thông tin chung"},
        {
            "key": "biet",
            "kind": "single",
            "required": True,
            "prompt": "Ông/bà có biết kế hoạch chỉnh trang vỉa hè, lòng đường của phường không?",
            "choices": [
                {"key": "co", "label": "Có biết rõ"},
                {"key": "nghe", "label": "Có nghe nhưng chưa rõ"},
                {"key": "khong", "label": "Chưa biết"},
            ],
        },
        {
            "key": "dong_tinh",
            "kind": "single",
            "required": True,
            "prompt": "Ông/bà có đồng tình với việc chỉnh trang vỉa hè không?",
            "choices": [
                {"key": "co", "label": "Đồng tình"},
                {"key": "mot_phan", "label": "Đồng tình một phần"},
                {"key": "khong", "label": "Không đồng tình"},
            ],
        },
        {
            "key": "ly_do",
            "kind": "longtext",
            "required": True,
            "prompt": "Vì sao ông/bà chưa đồng tình?",
            "show_if": {"question": "dong_tinh", "choice": "khong"},
        },
        {
            "key": "quan_tam",
            "kind": "multi",
            "required": False,
            "prompt": "Ông/bà quan tâm nhất đến những vấn đề nào? (chọn một hoặc nhiều)",
            "choices": [
                {"key": "via_he", "label": "Vỉa hè, lòng đường"},
                {"key": "do_xe", "label": "Chỗ đậu xe"},
                {"key": "cay_xanh", "label": "Cây xanh"},
                {"key": "chieu_sang", "label": "Chiếu sáng"},
                {"key": "ngap", "label": "Ngập nước"},
                {"key": "an_ninh", "label": "An ninh trật tự"},
            ],
        },
        {
            "key": "hai_long",
            "kind": "scale",
            "required": True,
            "min": 1,
            "max": 5,
            "prompt": "Mức độ hài lòng với công tác thông tin, tuyên truyền của phường",
            "help": "1 = rất không hài lòng, 5 = rất hài lòng",
        },
        {
            "key": "so_nguoi",
            "kind": "number",
            "required": False,
            "min": 1,
            "max": 20,
            "prompt": "Số người trong hộ gia đình",
        },
        {
            "key": "kien_nghi",
            "kind": "text",
            "required": False,
            "prompt": "Kiến nghị, đề xuất của ông/bà",
        },
    ],
}


@dataclass
class Seeded:
    """What a demo run created (empty lists and None when everything was there already)."""

    organisations: list = field(default_factory=list)
    wards: list = field(default_factory=list)
    collaborators: list = field(default_factory=list)
    questionnaire: Questionnaire | None = None
    admin_password: str | None = None

    @property
    def changed(self):
        """Tell whether this run created anything."""
        return bool(
            self.organisations
            or self.wards
            or self.collaborators
            or self.questionnaire
            or self.admin_password
        )


def _missing(model, rows):
    """Create the (code, name) rows whose code is not stored yet; return the codes created."""
    have = {code for (code,) in model.select(model.code).tuples()}
    created = [code for code, _ in rows if code not in have]
    for code, name in rows:
        if code in created:
            model.create(code=code, name=name)
    return created


def _collaborators():
    """Create the demo collaborators whose phone is not stored yet; return them."""
    have = {p for (p,) in Collaborator.select(Collaborator.phone).tuples()}
    orgs = {o.code: o for o in Organisation.select()}
    wards = {w.code: w for w in Ward.select()}
    return [
        Collaborator.create(name=name, phone=phone, organisation=orgs[org], ward=wards[ward])
        for name, phone, org, ward in COLLABORATORS
        if phone not in have
    ]


def _admin():
    """Create the `admin` account with a random password if missing; return the password or None."""
    if User.select().where(User.username == "admin").exists():
        return None
    password = secrets.token_urlsafe(12)
    User.create(username="admin", password_hash=hash_password(password), role="admin")
    return password


def seed():
    """Create whatever demo data is missing, in one transaction; return what was created."""
    seeded = Seeded()
    with database.atomic():
        seeded.organisations = _missing(Organisation, ORGANISATIONS)
        seeded.wards = _missing(Ward, WARDS)
        seeded.collaborators = _collaborators()
        if not Questionnaire.select().where(Questionnaire.slug == SAMPLE_SLUG).exists():
            seeded.questionnaire = import_questionnaire(QUESTIONNAIRE)
        seeded.admin_password = _admin()
        if seeded.changed:
            AuditEvent.record(None, "demo.seed", f"{len(seeded.collaborators)} collaborators")
    return seeded


def showcase_collaborators(count=3):
    """Return a few demo collaborators whose links are worth printing."""
    phones = [phone for _, phone, _, _ in COLLABORATORS[:count]]
    return list(
        Collaborator.select()
        .where(Collaborator.phone.in_(phones) & Collaborator.active)
        .order_by(Collaborator.phone)
    )
