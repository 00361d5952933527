"""The capacity grid's bulk forms read into scheduler/bulk_capacity.py's terms: a range of
days and times, a pattern (weekdays, times, a date range or the next N weeks), seats and
a number of weeks. Bad input raises ``FormInvalid`` (a ``ValidationFailed``) with the field
that is wrong, said in the console's language."""

from __future__ import annotations

from datetime import date, time, timedelta

from werkzeug.datastructures import MultiDict

from console.i18n import N_, _
from scheduler.bulk_capacity import MAX_SEATS, MAX_WEEKS, Pattern
from scheduler.errors import ValidationFailed

Form = MultiDict[str, str]
# The form's fields as its labels name them.
FIELDS = {
    "first_day": N_("First day"),
    "last_day": N_("Last day"),
    "starts": N_("From (start time)"),
    "ends": N_("Until (not included)"),
    "seats": N_("Seats"),
    "capacity": N_("Seats"),
    "weeks": N_("Weeks"),
    "weekday": N_("Weekdays"),
}


class FormInvalid(ValidationFailed):
    """A bulk form typed wrong: its message is already in the console's language."""


def _wrong(field: str, says: str) -> FormInvalid:
    name = _(FIELDS[field]) if field in FIELDS else field.replace("_", " ")
    return FormInvalid(_("%(field)s: %(problem)s", field=name, problem=says), {field: says})


def _day(form: Form, field: str) -> date:
    try:
        return date.fromisoformat(form.get(field, "").strip())
    except ValueError:
        raise _wrong(field, _("a date, YYYY-MM-DD")) from None


def _time(form: Form, field: str) -> time:
    raw = form.get(field, "").strip()
    if raw == "24:00":  # the end of a range that runs to midnight
        return time.max
    try:
        if len(raw) != 5:
            raise ValueError(raw)
        return time.fromisoformat(raw)
    except ValueError:
        raise _wrong(field, _("a time, HH:MM")) from None


def _whole(form: Form, field: str, low: int, high: int) -> int:
    raw = form.get(field, "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _wrong(field, _("a whole number from %(low)s to %(high)s", low=low, high=high))
    return int(raw)


def seats(form: Form, field: str = "seats") -> int:
    return _whole(form, field, 0, MAX_SEATS)


def weeks(form: Form) -> int:
    return _whole(form, "weeks", 1, MAX_WEEKS)


def range_pattern(form: Form) -> Pattern:
    """Days ``first_day``..``last_day`` (every weekday), start times ``starts``..``ends``."""
    return Pattern(
        frozenset(range(7)), _time(form, "starts"), _time(form, "ends"), _day(form, "first_day"), _day(form, "last_day")
    )


def pattern(form: Form, today: date) -> Pattern:
    """The weekdays ticked, ``starts``..``ends``, over ``first_day``..``last_day`` or, with
    ``over=weeks``, the next ``weeks`` weeks from today."""
    chosen = form.getlist("weekday")
    if not chosen or not all(d.isdigit() and int(d) < 7 for d in chosen):
        raise _wrong("weekday", _("choose at least one weekday"))
    if form.get("over") == "weeks":
        first, last = today, today + timedelta(days=7 * weeks(form) - 1)
    else:
        first, last = _day(form, "first_day"), _day(form, "last_day")
    return Pattern(frozenset(int(d) for d in chosen), _time(form, "starts"), _time(form, "ends"), first, last)
