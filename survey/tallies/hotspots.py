"""Hotspots: the wards, organisations and ward × organisation groups where concern runs high.

A question's `concern` marks the answers that signal it: some choices, or a scale or number at
most (or at least) a bound. A group is a hotspot of a question when at least HOTSPOT_K (and the
questionnaire's k) answered it and its share of concern answers is above the rest of the
district's by a one-sided two-proportion z-test (z ≥ Z). Counts come from one GROUP BY over the
answer table. With suppression the concern counts (and the rest of each group) join the tally's
lattice: a group is named only where the tally shows how many answered and the pattern withholds
neither part; should the pattern need a cell the tally shows, the question names none. Anonymous
questionnaires count their published batches only, as the tally does.

A repeat (a new wave) gives each hotspot the earlier wave's share of the same group: the
current question's concern applied to the earlier wave's question of the same key and kind,
counted and published under the earlier questionnaire's own rules (None where withheld).
"""

import math
from dataclasses import dataclass

from peewee import SQL, Case, fn

from survey.models import Answer, Choice, Organisation, Ward
from survey.questionnaires.rules import stored_concern
from survey.questionnaires.waves import counted_questions, matched
from survey.tallies.counting import (
    ALL,
    Filters,
    _Counter,
    _up,
    check_period,
    suppressed_cells,
    threshold,
)

HOTSPOT_K = 5  # never a hotspot of fewer answers, whatever the questionnaire withholds
Z = 1.96  # one-sided, about 2.5 %
KINDS = ("single", "multi", "scale", "number")


@dataclass
class Hotspot:
    """One group whose share of concern answers to one question stands out."""

    question: object
    ward: object  # Ward or None
    organisation: object  # Organisation or None
    share: float
    district_share: float
    responses: int  # who answered the question in the group
    z: float
    compared: bool = False  # the questionnaire repeats an earlier wave
    previous_share: float | None = None  # the earlier wave's share there (None: withheld)

    @property
    def place(self):
        """Return the group's name: its ward, its organisation, or both."""
        return " · ".join(g.name for g in (self.ward, self.organisation) if g is not None)

    @property
    def code(self):
        """Return the group's (ward code, organisation code), None where not narrowed."""
        return (self.ward and self.ward.code, self.organisation and self.organisation.code)

    def api(self):
        """Return the hotspot as the API's JSON object."""
        return {
            "question": self.question.key,
            "ward": self.ward.code if self.ward else None,
            "organisation": self.organisation.code if self.organisation else None,
            "share": round(self.share, 4),
            "district_share": round(self.district_share, 4),
            "responses": self.responses,
            **({"previous_share": _rounded(self.previous_share)} if self.compared else {}),
        }


def _rounded(share):
    """Round a share for the API, keeping None."""
    return None if share is None else round(share, 4)


def _choice_ids(question):
    """Return {choice key: id} of a question."""
    return {c.key: c.id for c in Choice.select().where(Choice.question == question.id)}


def _concerns(questionnaire):
    """Return [(question, concern)] of the questions marking concern (a valid one)."""
    found = []
    for q in questionnaire.ordered_questions(include_hidden=True):
        if q.kind not in KINDS or not q.concern:
            continue
        concern = stored_concern(q.kind, q.concern, _choice_ids(q))
        if concern is not None:
            found.append((q, concern))
    return found


def _term(question, concern):
    """Return the SQL condition marking a question's concern answers, or None if it marks none."""
    if "choices" in concern:
        choices = _choice_ids(question)
        ids = [choices[key] for key in concern["choices"] if key in choices]
        if not ids:
            return None
        term = Answer.choice.in_(ids)
    elif "at_most" in concern:
        term = Answer.number <= concern["at_most"]
    else:
        term = Answer.number >= concern["at_least"]
    return (Answer.question == question.id) & term


def concern_terms(questionnaire):
    """Return [(question, SQL condition on its answer rows)] of the questions marking concern."""
    return [(q, _term(q, concern)) for q, concern in _concerns(questionnaire)]


def count_concern(terms, where):
    """Return {(question id, ward, organisation): (answered, concerned)} by one GROUP BY."""
    single = [t for q, t in terms if q.kind != "multi"]
    multi = [t for q, t in terms if q.kind == "multi"]
    columns = [fn.COUNT(SQL("*")).filter(Answer.first_row)]
    if single:  # one row per respondent: count the rows
        columns.append(fn.COUNT(SQL("*")).filter(_any(single)))
    if multi:  # a row per chosen choice: count the respondents
        columns.append(fn.COUNT(fn.DISTINCT(Case(None, [(_any(multi), Answer.response)], None))))
    keys = [Answer.question, Answer.ward, Answer.organisation]
    query = (
        Answer.select(*keys, *columns)
        .where(Answer.question.in_([q.id for q, _t in terms]), *where)
        .group_by(*keys)
        .tuples()
    )
    return {tuple(row[:3]): (row[3], sum(row[4:])) for row in query}


def _any(terms):
    """Return the OR of SQL conditions."""
    result = terms[0]
    for term in terms[1:]:
        result = result | term
    return result


def z_score(x1, n1, total_x, total_n):
    """Return the z of a group (x1 of n1) against the rest of the total, or None if undefined."""
    n2, x2 = total_n - n1, total_x - x1
    if n1 <= 0 or n2 <= 0:
        return None
    p = total_x / total_n
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    return (x1 / n1 - x2 / n2) / se


def _published(counter, qid, groups):
    """Return the groups whose concern counts the tally's lattice lets show, or an empty set."""
    shown = counter.suppressed()
    cells, lines, start = dict(counter.cells), [], set(shown)
    for g in counter.group_keys():
        answered = ("answered", qid, g)
        concerned = groups.get(g, (0, 0))[1]
        cells[("c", qid, g)] = concerned
        cells[("n", qid, g)] = cells[answered] - concerned
        if answered in shown:
            start.update({("c", qid, g), ("n", qid, g)})
        lines.append((answered, [("c", qid, g), ("n", qid, g)]))
    lines += counter.margin_lines(("c", qid)) + counter.margin_lines(("n", qid))
    found = suppressed_cells(cells, lines, counter.k, start)
    if any(key not in shown for key in found if key in counter.cells):
        return set()
    return {
        g
        for g in counter.group_keys()
        if not {("answered", qid, g), ("c", qid, g), ("n", qid, g)} & found
    }


def concern_groups(questionnaire, terms, filters=None):
    """Return the k and {question id: ({group: (answered, concerned)}, groups shown)}.

    Counted over the questionnaire's whole lattice under its own suppression (or within the
    filters' dates when it has none).
    """
    filters = filters or Filters()
    lattice = threshold(questionnaire) > 1
    counter = _Counter(questionnaire, Filters()).run() if lattice else None
    if counter is not None:
        where = counter.where(Answer)[1:]
    else:
        where = Filters(start=filters.start, end=filters.end).conditions(Answer)
    rows = count_concern(terms, where)
    found = {}
    for q, _t in terms:
        groups = {}
        for (qid, w, o), (answered, concerned) in rows.items():
            if qid == q.id:
                for g in _up(w, o):
                    a, c = groups.get(g, (0, 0))
                    groups[g] = (a + answered, c + concerned)
        found[q.id] = (groups, _published(counter, q.id, groups) if counter else set(groups))
    return max(HOTSPOT_K, counter.k if counter else 0), found


def hotspots(questionnaire, filters=None):
    """Return the Hotspots of a questionnaire within the filters' ward, organisation and scope."""
    filters = filters or Filters()
    check_period(questionnaire, filters)
    terms = concern_terms(questionnaire)
    if not terms:
        return []
    k, counted = concern_groups(questionnaire, terms, filters)
    found = []
    for q, _t in terms:
        groups, allowed = counted[q.id]
        if ALL not in allowed or ALL not in groups:
            continue
        total_n, total_x = groups[ALL]
        for g, (n, x) in groups.items():
            if g == ALL or g not in allowed or n < k or not _within(g, filters):
                continue
            z = z_score(x, n, total_x, total_n)
            if z is not None and z >= Z:
                found.append((q, g, x / n, total_x / total_n, n, z))
    spots = _named(found)
    if questionnaire.repeat_of_id is not None:
        _add_previous(questionnaire, spots)
    return spots


def _add_previous(questionnaire, spots):
    """Give each hotspot of a repeat the earlier wave's share of concern in the same group."""
    earlier = questionnaire.repeat_of
    concerns = dict(_concerns(questionnaire))
    pairs = matched([h.question for h in spots], counted_questions(earlier))
    terms, paired = [], {}
    for q, concern in concerns.items():
        if q.key in pairs and (term := _term(pairs[q.key], concern)) is not None:
            terms.append((pairs[q.key], term))
            paired[q.id] = pairs[q.key].id
    counted = concern_groups(earlier, terms)[1] if terms else {}
    for h in spots:
        h.compared = True
        groups, allowed = counted.get(paired.get(h.question.id), ({}, set()))
        g = (h.ward and h.ward.id, h.organisation and h.organisation.id)
        n, x = groups.get(g, (0, 0))
        h.previous_share = x / n if g in allowed and n else None


def _within(group, filters):
    """Tell whether a group lies within the filters' ward, organisation and scope."""
    w, o = group
    if filters.ward is not None and w != filters.ward.id:
        return False
    org = filters.organisation.id if filters.organisation else filters.scope
    return org is None or o == org


def _named(found):
    """Turn (question, group, share, district share, n, z) into Hotspots with their places."""
    ward_ids = {g[0] for _q, g, *_rest in found if g[0] is not None}
    org_ids = {g[1] for _q, g, *_rest in found if g[1] is not None}
    wards = {w.id: w for w in Ward.select().where(Ward.id.in_(list(ward_ids)))} if ward_ids else {}
    orgs = (
        {o.id: o for o in Organisation.select().where(Organisation.id.in_(list(org_ids)))}
        if org_ids
        else {}
    )
    spots = [
        Hotspot(q, wards.get(g[0]), orgs.get(g[1]), share, district, n, z)
        for q, g, share, district, n, z in found
    ]
    order = {q.id: i for i, (q, *_rest) in enumerate(found)}
    spots.sort(key=lambda h: (order[h.question.id], -h.share, -h.responses))
    return spots


def api(spots):
    """Return the hotspots API's JSON list."""
    return [h.api() for h in spots]


def of_open(questionnaires, scope=None):
    """Return [(questionnaire, [Hotspot])] of the open questionnaires that have hotspots.

    Each within the viewer's organisation scope, as its tally page would show them.
    """
    found = []
    for questionnaire in questionnaires:
        if questionnaire.status != "open":
            continue
        spots = hotspots(questionnaire, Filters(scope=scope))
        if spots:
            found.append((questionnaire, spots))
    return found
