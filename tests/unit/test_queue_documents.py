"""Queue documents are validated before anything is written."""

from __future__ import annotations

import pytest

from scheduler.errors import ValidationFailed
from services.queue_documents import parse_queue_document
from tests.conftest import demo_document


def test_the_demo_document_is_valid() -> None:
    doc = parse_queue_document(demo_document())
    assert doc.key == "support" and len(doc.weekly_hours) == 5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"key": "Has Spaces"}, "key"),
        ({"region": "ZZ"}, "region"),
        ({"language": "de"}, "language"),
        ({"asap_reserve_percent": 150}, "asap_reserve_percent"),
        ({"surprise": 1}, "surprise"),
        ({"lead_minutes": "30"}, "lead_minutes"),
    ],
)
def test_bad_settings_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_queue_document(demo_document(**changes))
    assert any(key.startswith(field) for key in caught.value.details)


def test_overlapping_hours_are_refused() -> None:
    hours = [
        {"weekday": "monday", "opens": "09:00", "closes": "12:00", "slot_minutes": 15, "capacity": 1},
        {"weekday": "monday", "opens": "11:00", "closes": "13:00", "slot_minutes": 15, "capacity": 1},
    ]
    with pytest.raises(ValidationFailed, match="not valid"):
        parse_queue_document(demo_document(weekly_hours=hours))


def test_an_override_is_closed_or_has_hours() -> None:
    with pytest.raises(ValidationFailed):
        parse_queue_document(demo_document(date_overrides=[{"date": "2027-12-25"}]))
    with pytest.raises(ValidationFailed):
        parse_queue_document(
            demo_document(
                date_overrides=[{"date": "2027-12-25", "closed": True}, {"date": "2027-12-25", "closed": True}]
            )
        )
    doc = parse_queue_document(demo_document(date_overrides=[{"date": "2027-12-25", "closed": True, "note": "Xmas"}]))
    assert doc.date_overrides[0].closed


def test_closing_before_opening_is_refused() -> None:
    hours = [{"weekday": "monday", "opens": "17:00", "closes": "09:00", "slot_minutes": 15, "capacity": 1}]
    with pytest.raises(ValidationFailed):
        parse_queue_document(demo_document(weekly_hours=hours))


@pytest.mark.parametrize(
    "target", ["+442079460000", "tel:+442079460000", "sip:agents@pbx.example.com", "queue:support"]
)
def test_agent_targets_may_be_numbers_sip_or_provider_queues(target: str) -> None:
    assert parse_queue_document(demo_document(agent_target=target)).agent_target == target


@pytest.mark.parametrize("target", ["02079460000", "http://pbx", "sip:", "agents"])
def test_other_agent_targets_are_refused(target: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_queue_document(demo_document(agent_target=target))


def test_inbound_settings_have_their_defaults() -> None:
    document = demo_document()
    for name in (
        "inbound_numbers",
        "offer_threshold_seconds",
        "offer_at_entry",
        "offer_repeat_seconds",
        "callers_waiting",
        "agents",
        "average_handle_seconds",
    ):
        del document[name]
    doc = parse_queue_document(document)
    assert doc.inbound_numbers == [] and doc.offer_threshold_seconds == 60 and doc.offer_at_entry is False
    assert (doc.offer_repeat_seconds, doc.callers_waiting, doc.agents, doc.average_handle_seconds) == (60, 0, 1, 300)


@pytest.mark.parametrize("numbers", [["07400123456"], ["+441632960001", "+441632960001"], ["+0123"], "+441632960001"])
def test_inbound_numbers_are_a_list_of_distinct_e164_numbers(numbers: object) -> None:
    with pytest.raises(ValidationFailed):
        parse_queue_document(demo_document(inbound_numbers=numbers))


def test_a_queue_needs_at_least_one_agent_for_its_estimate() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_queue_document(demo_document(agents=0))
    assert "agents" in caught.value.details


def test_reminders_have_their_defaults() -> None:
    reminders = parse_queue_document(demo_document()).reminders
    assert (reminders.confirmation, reminders.before_minutes, reminders.in_quiet_hours) == (True, [1440, 15], "earlier")


@pytest.mark.parametrize(
    "reminders",
    [
        {"before_minutes": [15, 15]},
        {"before_minutes": [2]},  # under 5 minutes
        {"before_minutes": [20_000]},  # over a week
        {"before_minutes": [5, 10, 15, 20, 25, 30]},
        {"in_quiet_hours": "later"},
        {"sms": True},
    ],
)
def test_bad_reminder_settings_are_refused(reminders: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as failed:
        parse_queue_document(demo_document(reminders=reminders))
    assert any(field.startswith("reminders") for field in failed.value.details)


@pytest.mark.parametrize(
    "widget",
    [
        {"allowed_origins": ["https://example.com/path"]},  # an origin has no path
        {"allowed_origins": ["*"]},
        {"fields": [{"name": "a", "label": "A"}] * 2},
        {"fields": [{"name": f"f{n}", "label": "F"} for n in range(6)]},
        {"tags": [f"t{n}" for n in range(11)]},
        {"units": [{"id": "Sales Team", "name": "Sales"}]},
        {"blocked_numbers": ["0044"]},
        {"requests_per_phone_per_hour": 0},
    ],
)
def test_bad_widget_settings_are_refused(widget: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as failed:
        parse_queue_document(demo_document(widget=widget))
    assert any(field.startswith("widget") for field in failed.value.details)


def test_fixed_prompts_may_have_https_recordings() -> None:
    audio = {"welcome": "https://cdn.example.com/support/welcome.mp3", "offer": "https://cdn.example.com/o.wav?v=2"}
    assert parse_queue_document(demo_document(prompt_audio=audio)).prompt_audio == audio
    assert parse_queue_document(demo_document()).prompt_audio == {}


@pytest.mark.parametrize(
    ("audio", "says"),
    [
        ({"welcom": "https://cdn.example.com/w.mp3"}, "'welcom' is not a prompt"),
        ({"slot_choice": "https://cdn.example.com/s.mp3"}, "cannot be pre-recorded"),  # {key} and {time}
        ({"wait": "https://cdn.example.com/w.mp3"}, "cannot be pre-recorded"),  # {wait}
        ({"link_sms": "https://cdn.example.com/l.mp3"}, "cannot be pre-recorded"),  # a text, not said
        ({"welcome": "http://cdn.example.com/w.mp3"}, "must be an https:// URL"),
        ({"welcome": "https:///w.mp3"}, "must be an https:// URL"),
        ({"welcome": "welcome.mp3"}, "must be an https:// URL"),
        ({"welcome": 5}, "valid string"),
    ],
)
def test_bad_recordings_are_refused_with_the_reason(audio: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_queue_document(demo_document(prompt_audio=audio))
    assert any(key.startswith("prompt_audio") and says in message for key, message in caught.value.details.items())


def test_seats_may_be_derived_from_staffing() -> None:
    hours = {
        "weekday": "friday",
        "opens": "09:00",
        "closes": "17:00",
        "slot_minutes": 15,
        "agents": 3,
        "callback_percent": 50,
    }
    doc = parse_queue_document(demo_document(weekly_hours=[hours], average_handle_seconds=300))
    assert doc.weekly_hours[0].seats(doc.average_handle_seconds) == 4


@pytest.mark.parametrize(
    "hours",
    [
        {"slot_minutes": 15},  # neither
        {"slot_minutes": 15, "capacity": 2, "agents": 3},  # both
        {"slot_minutes": 15, "capacity": 2, "callback_percent": 50},  # a share without agents
        {"slot_minutes": 15, "agents": 3, "callback_percent": 150},
    ],
)
def test_capacity_or_staffing_not_both_nor_neither(hours: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        parse_queue_document(
            demo_document(weekly_hours=[{"weekday": "monday", "opens": "09:00", "closes": "17:00", **hours}])
        )


def test_staffing_needs_an_average_handle_time() -> None:
    hours = {"weekday": "monday", "opens": "09:00", "closes": "17:00", "slot_minutes": 15, "agents": 3}
    with pytest.raises(ValidationFailed) as refused:
        parse_queue_document(demo_document(weekly_hours=[hours], average_handle_seconds=0))
    assert "average_handle_seconds" in str(refused.value.details)


def test_a_queue_may_override_the_retention() -> None:
    assert parse_queue_document(demo_document()).retention_days is None
    assert parse_queue_document(demo_document(retention_days=30)).retention_days == 30
    for bad in (0, 4000, "30"):
        with pytest.raises(ValidationFailed) as failed:
            parse_queue_document(demo_document(retention_days=bad))
        assert "retention_days" in failed.value.details


WORKSPACE = "WS" + "0123456789abcdef" * 2
TASK_QUEUE = "WQ" + "0123456789ABCDEF" * 2


WORKFLOW = "WW" + "0123456789abcdef" * 2


def test_a_queue_may_reserve_its_agents_through_taskrouter_without_reading_figures_there() -> None:
    doc = parse_queue_document(
        demo_document(dial_mode="agent_first", taskrouter_workspace_sid=WORKSPACE, taskrouter_workflow_sid=WORKFLOW)
    )
    assert (doc.taskrouter_workflow_sid, doc.taskrouter_task_queue_sid) == (WORKFLOW, None)


def test_a_queue_may_read_its_agents_from_taskrouter() -> None:
    doc = parse_queue_document(demo_document(taskrouter_workspace_sid=WORKSPACE, taskrouter_task_queue_sid=TASK_QUEUE))
    assert (doc.taskrouter_workspace_sid, doc.taskrouter_task_queue_sid) == (WORKSPACE, TASK_QUEUE)
    assert parse_queue_document(demo_document()).taskrouter_workspace_sid is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"taskrouter_workspace_sid": "WQ" + "0" * 32, "taskrouter_task_queue_sid": TASK_QUEUE},
            "taskrouter_workspace_sid",
        ),
        (
            {"taskrouter_workspace_sid": WORKSPACE, "taskrouter_task_queue_sid": "WQ" + "0" * 31},
            "taskrouter_task_queue_sid",
        ),
        (
            {"taskrouter_workspace_sid": WORKSPACE, "taskrouter_task_queue_sid": "WQ" + "g" * 32},
            "taskrouter_task_queue_sid",
        ),
        ({"taskrouter_workspace_sid": WORKSPACE}, "queue"),
        ({"taskrouter_task_queue_sid": TASK_QUEUE}, "queue"),
        ({"taskrouter_workflow_sid": WORKFLOW}, "queue"),  # reservations need the workspace
        (
            {"taskrouter_workspace_sid": WORKSPACE, "taskrouter_workflow_sid": "WW" + "0" * 31},
            "taskrouter_workflow_sid",
        ),
    ],
)
def test_bad_taskrouter_sids_are_refused_by_name(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_queue_document(demo_document(**changes))
    assert caught.value.type == "validation_error"  # 422 in the API and the console
    assert field in caught.value.details, caught.value.details


def test_holding_callers_ring_the_agents_unless_told_to_wait_in_a_twilio_queue() -> None:
    doc = parse_queue_document(demo_document())
    assert (doc.hold_mode, doc.twilio_queue) == ("dial", None)
    enqueued = parse_queue_document(demo_document(hold_mode="enqueue"))
    assert (enqueued.hold_mode, enqueued.twilio_queue) == ("enqueue", None)  # None: the queue's key
    named = parse_queue_document(demo_document(hold_mode="enqueue", twilio_queue="Support line"))
    assert named.twilio_queue == "Support line"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hold_mode": "queue"}, "hold_mode"),
        ({"hold_mode": "enqueue", "twilio_queue": ""}, "twilio_queue"),
        ({"hold_mode": "enqueue", "twilio_queue": "q" * 65}, "twilio_queue"),
        ({"hold_mode": "enqueue", "twilio_queue": "line\n2"}, "twilio_queue"),
        ({"twilio_queue": "support"}, "twilio_queue"),  # a queue to hold in, but callers ring the agents
    ],
)
def test_a_wrong_hold_mode_or_twilio_queue_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_queue_document(demo_document(**changes))
    assert list(caught.value.details) == [field]
