"""Which passwords are too easy to guess: the commonest, the account's own name, one key held."""

from survey.i18n import lazy_gettext as _l

# The commonest passwords of public leak lists, with the Vietnamese favourites and this app's
# own words; compared without case and without the digits and signs people tack on at the end.
COMMON = frozenset(
    """
    123456 1234567 12345678 123456789 1234567890 0123456789 987654321 9876543210 123123123
    123321 112233 11223344 121212 123654 147258369 147852369 159357 159753 654321 666666
    696969 7777777 88888888 99999999 131313 123abc abc123 abcd1234 abcdef abcdefg abcdefgh
    qwerty qwertyui qwertyuiop qwerty123 qwer1234 asdf1234 asdfgh asdfghjk asdfghjkl zxcvbn
    zxcvbnm 1qaz2wsx 1q2w3e4r 1q2w3e4r5t q1w2e3r4 qazwsx qazwsxedc zaq12wsx passw0rd
    password password1 password12 password123 p@ssw0rd p@ssword pass1234 passwd passport
    admin admin123 admin1234 administrator root toor letmein welcome welcome1 login guest
    changeme default secret master superman batman spiderman iloveyou iloveu loveyou lovely
    monkey dragon shadow sunshine princess football baseball basketball soccer hockey
    michael jennifer jordan hunter ranger buster thomas robert charlie daniel jessica
    ashley killer trustno1 whatever freedom starwars pokemon naruto computer internet
    samsung google facebook yahoo hello hellohello hello123 access mustang harley matrix
    maggie ginger cookie chocolate butterfly flower summer winter autumn spring
    matkhau matkhau123 matkhaumoi anhyeuem emyeuanh yeuem yeuanh iloveyou1 tinhyeu
    vietnam vietnam123 hanoi saigon hochiminh hcmc quan10 phuong khaosat survey
    congtacvien canbo dangnhap taikhoan quantri xinchao thanhcong hanhphuc anhyeuem123
    khongbiet khongco nguyen tran levan phamvan hoangvan vuvan 12341234 11111111 00000000
    aaaaaaaa 12121212 20202020 abcabcabc asdasdasd qweqweqwe zxczxczxc
    """.split()
)
MIN_LENGTH = 8
NAME_MIN = 3  # shorter account names occur inside too many good passwords to refuse them

COMMON_MESSAGE = _l("This password is among the most common ones; choose another.")
NAME_MESSAGE = _l("The password must not contain the username.")
REPEAT_MESSAGE = _l("The password must not be one character repeated.")


def core(password):
    """Return a password lower-cased, without the digits and signs tacked on at its end."""
    lowered = password.lower()
    stripped = lowered.rstrip("0123456789!@#$%^&*()-_=+.,?~ ")
    return stripped or lowered


def weakness(password, username=""):
    """Return why a password is too easy to guess (a message), or None when it is not."""
    lowered = password.lower()
    if len(set(password)) <= 1:
        return REPEAT_MESSAGE
    if username and len(username) >= NAME_MIN and username.lower() in lowered:
        return NAME_MESSAGE
    if lowered in COMMON or core(password) in COMMON:
        return COMMON_MESSAGE
    return None
