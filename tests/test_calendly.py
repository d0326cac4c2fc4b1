"""Calendly: the token sources, the API client against a local fake, and the ``find_slots`` /
``book_slot`` tools as the config builds them."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from livekit.agents import llm

from agent_runtime.config.loading import spec_from_document
from agent_runtime.errors import ToolError
from agent_runtime.integrations.calendly import CalendlyClient, event_type_uri, iso_utc
from agent_runtime.integrations.calendly_settings import CalendlySettings
from agent_runtime.integrations.calendly_tokens import (
    PlatformToken,
    StaticToken,
    token_provider,
)
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.plugins import calendly as calendly_plugin
from agent_runtime.plugins.context import PluginContext
from agent_runtime.replay.local_server import serve
from agent_runtime.telephony.local import LocalLine

from .fakes_calendly import (
    CONNECTION,
    EVENT_TYPE,
    PLATFORM_AUTH,
    TOKEN,
    FakeCalendly,
    Scripted,
)
from .test_sms import Control, virtual

LA = ZoneInfo("America/Los_Angeles")
DAY = (datetime.now(LA) + timedelta(days=30)).date()  # a day surely ahead, in the callee's zone


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A time of the callee's ``day``, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA).astimezone(UTC)


SLOTS = [at(9), at(14, 30), at(16), at(10, day=DAY + timedelta(days=9))]


def calendly(env: dict[str, str]) -> CalendlySettings:
    return CalendlySettings.from_env(env)


def client(base_url: str, token: str = TOKEN, **env: str) -> CalendlyClient:
    settings = CalendlySettings.from_env({"CALENDLY_BASE_URL": base_url, **env})
    return CalendlyClient(StaticToken(token), settings)


# -- small parts ---------------------------------------------------------------------------------


def test_event_type_id_may_be_a_uri_or_a_uuid() -> None:
    uuid = "b2330295-2a91-4a1d-bb73-99e7707663d5"
    assert event_type_uri(uuid) == EVENT_TYPE
    assert event_type_uri(f" {EVENT_TYPE} ") == EVENT_TYPE


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (datetime(2031, 12, 2, 22, 30, tzinfo=UTC), "Tuesday, December 2 at 2:30 PM"),
        (datetime(2031, 12, 3, 0, 0, tzinfo=UTC), "Tuesday, December 2 at 4 PM"),
        (datetime(2031, 12, 2, 20, 0, tzinfo=UTC), "Tuesday, December 2 at 12 PM"),
        (datetime(2031, 12, 2, 8, 5, tzinfo=UTC), "Tuesday, December 2 at 12:05 AM"),
        (datetime(2031, 7, 1, 16, 0, tzinfo=UTC), "Tuesday, July 1 at 9 AM"),  # summer time
    ],
)
def test_times_are_said_in_the_callee_zone(moment: datetime, words: str) -> None:
    assert calendly_plugin.spoken_time(moment, LA) == words


def test_token_sources_in_order() -> None:
    connection = "8c1f-42.ab"
    own = {"CALENDLY_TOKEN_8C1F_42_AB": "own-token"}
    url = {"CALENDLY_TOKEN_URL": "https://platform.example/tokens"}
    shared = {"CALENDLY_TOKEN": "shared-token"}
    assert isinstance(token_provider(calendly({**own, **url, **shared}), connection), StaticToken)
    assert isinstance(token_provider(calendly({**url, **shared}), connection), PlatformToken)
    assert isinstance(token_provider(calendly(shared), connection), StaticToken)
    assert token_provider(calendly({}), connection) is None

    async def tokens() -> tuple[str, str]:
        first = token_provider(calendly({**own, **shared}), connection)
        second = token_provider(calendly(shared), connection)
        assert first is not None and second is not None
        return await first.token(), await second.token()

    assert asyncio.run(tokens()) == ("own-token", "shared-token")


async def test_the_platform_token_endpoint() -> None:
    fake = FakeCalendly([])
    async with serve(fake.app) as url:
        good = PlatformToken(f"{url}/tokens", connection_id=CONNECTION, auth=PLATFORM_AUTH)
        assert await good.token() == TOKEN
        assert await good.token() == TOKEN  # kept for the call
        for provider in (
            PlatformToken(f"{url}/tokens", connection_id=CONNECTION, auth="wrong"),
            PlatformToken(f"{url}/tokens", connection_id="conn_unknown", auth=PLATFORM_AUTH),
        ):
            with pytest.raises(ToolError) as caught:
                await provider.token()
            assert caught.value.code == "token_unavailable"
    assert [path for _, path, _ in fake.requests] == ["/tokens"] * 3


# -- the client ----------------------------------------------------------------------------------


async def test_a_long_range_is_asked_in_windows_of_seven_days() -> None:
    fake = FakeCalendly(SLOTS)
    start, end = at(0), at(0, day=DAY + timedelta(days=10))
    async with serve(fake.app) as url:
        found = await client(url).available_times(EVENT_TYPE, start, end)
    assert found == sorted(SLOTS)
    windows = [(q["start_time"], q["end_time"]) for _, _, q in fake.requests]
    assert sorted(windows) == [
        (iso_utc(start), iso_utc(start + timedelta(days=7))),
        (iso_utc(start + timedelta(days=7)), iso_utc(end)),
    ]
    assert all(q["event_type"] == EVENT_TYPE for _, _, q in fake.requests)


async def test_a_refused_token_is_fetched_again_once() -> None:
    fake = FakeCalendly(SLOTS)
    async with serve(fake.app) as url:
        platform = PlatformToken(f"{url}/tokens", connection_id=CONNECTION, auth=PLATFORM_AUTH)
        api = CalendlyClient(platform, CalendlySettings(base_url=url))
        await api.available_times(EVENT_TYPE, at(0), at(23))
        fake.tokens = {"rotated-token"}  # the platform refreshed the OAuth token
        fake.connections[CONNECTION] = "rotated-token"
        found = await api.available_times(EVENT_TYPE, at(0), at(23))
    assert found == SLOTS[:3]
    paths = [path for _, path, _ in fake.requests]
    assert paths == ["/tokens", "/event_type_available_times"] + [
        "/event_type_available_times",
        "/tokens",
        "/event_type_available_times",
    ]


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        (lambda f: f.take(SLOTS[1]), "slot_taken", "no longer available"),
        (lambda f: setattr(f, "paid_plan", False), "forbidden", "does not allow booking"),
        (lambda f: f.tokens.clear(), "auth_failed", "not authorized"),
        (
            lambda f: f.script.update({"/invitees": [Scripted(429, {"title": "Too Many"})]}),
            "rate_limited",
            "try again in a minute",
        ),
    ],
)
async def test_booking_refusals_are_short_errors(setup: Any, code: str, words: str) -> None:
    fake = FakeCalendly(SLOTS)
    setup(fake)
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as caught:
            await client(url).book(
                EVENT_TYPE, SLOTS[1], name="Jane", email="jane@example.com", time_zone="UTC"
            )
    assert caught.value.code == code and words in caught.value.message
    assert not caught.value.maybe_done and fake.bookings == []


async def test_calendly_refusing_the_email_is_named() -> None:
    fake = FakeCalendly(SLOTS)
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as caught:
            await client(url).book(
                EVENT_TYPE, SLOTS[1], name="Jane", email="jane@example", time_zone="UTC"
            )
    assert caught.value.code == "invalid_email" and "spell it again" in caught.value.message


async def test_other_refusals_say_what_calendly_said() -> None:
    fake = FakeCalendly(SLOTS)
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as caught:
            await client(url).book(
                EVENT_TYPE, SLOTS[1], name="Jane", email="jane@example.com", time_zone="Mars/Base"
            )
    assert caught.value.code == "refused"
    assert caught.value.message == "The calendar refused the request: invitee.timezone is invalid."


async def test_a_failed_service_may_have_booked() -> None:
    fake = FakeCalendly(SLOTS)
    fake.script["/invitees"] = [Scripted(502, {"title": "Bad Gateway"})]
    fake.script["/event_type_available_times"] = [Scripted(503)]
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as booking:
            await client(url).book(
                EVENT_TYPE, SLOTS[1], name="Jane", email="jane@example.com", time_zone="UTC"
            )
        with pytest.raises(ToolError) as finding:
            await client(url).available_times(EVENT_TYPE, at(0), at(23))
    assert booking.value.maybe_done and "do not book again" in booking.value.message
    assert not finding.value.maybe_done


# -- the tools -----------------------------------------------------------------------------------


def _spec() -> Any:
    return spec_from_document(
        {
            "id": "call_calendly",
            "direction": "inbound",
            "from_phone_number": "+14155550123",
            "to_phone_number": "+14155550100",
            "assistant": {
                "prompt": "Book demos.",
                "calendly": {
                    "connection_id": CONNECTION,
                    "event_type_id": "b2330295-2a91-4a1d-bb73-99e7707663d5",
                },
            },
        }
    )


def _tools(env: dict[str, str]) -> tuple[llm.RawFunctionTool, llm.RawFunctionTool, Control]:
    control = Control()
    ctx = PluginContext(
        spec=_spec(),
        control=control,
        telephony=LocalLine(),
        integrations=IntegrationSettings.from_env(env),
    )
    find, book = calendly_plugin.tools(ctx)
    assert isinstance(find, llm.RawFunctionTool) and isinstance(book, llm.RawFunctionTool)
    return find, book, control


def test_the_tools_are_offered_only_with_calendly_and_a_token() -> None:
    spec = spec_from_document({"assistant": {"prompt": "Hi."}})
    ctx = PluginContext(
        spec=spec,
        control=Control(),
        telephony=LocalLine(),
        integrations=IntegrationSettings.from_env({"CALENDLY_TOKEN": "t"}),
    )
    assert calendly_plugin.tools(ctx) == []
    control = Control()
    ctx = PluginContext(
        spec=_spec(), control=control, telephony=LocalLine(), integrations=IntegrationSettings()
    )
    assert calendly_plugin.tools(ctx) == []
    assert "CALENDLY_TOKEN" in control.of("calendly_unavailable")[0]["reason"]
    find, book, _ = _tools({"CALENDLY_TOKEN": "t"})
    assert (find.info.name, book.info.name) == ("find_slots", "book_slot")
    assert "America/Los_Angeles" in find.info.raw_schema["description"]


async def test_find_slots_offers_times_in_words_with_their_exact_start() -> None:
    fake = FakeCalendly(SLOTS)
    async with serve(fake.app) as url:
        find, _, control = _tools(fake.env(url))
        output = await find({"start_date": DAY.isoformat()}, None)
        nothing = await find({"start_date": (DAY + timedelta(days=1)).isoformat()}, None)
    day = calendly_plugin.spoken_date(DAY)
    assert output.splitlines()[1:4] == [
        f"- {day} at 9 AM: start_time {iso_utc(SLOTS[0])}",
        f"- {day} at 2:30 PM: start_time {iso_utc(SLOTS[1])}",
        f"- {day} at 4 PM: start_time {iso_utc(SLOTS[2])}",
    ]
    assert "(America/Los_Angeles)" in output.splitlines()[0]
    assert nothing.startswith("No free times")
    assert [e["found"] for e in control.of("calendly_slots")] == [3, 0]
    # the day is asked from the callee's midnight to the next one
    query = next(q for _, path, q in fake.requests if path == "/event_type_available_times")
    assert query["start_time"] == iso_utc(at(0))
    assert query["end_time"] == iso_utc(at(0, day=DAY + timedelta(days=1)))


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({}, "start_date is required"),
        ({"start_date": "next tuesday"}, "YYYY-MM-DD"),
        ({"start_date": "2020-01-02"}, "past"),
        ({"start_date": DAY.isoformat(), "end_date": "2020-01-01"}, "before start_date"),
    ],
)
async def test_find_slots_refuses_unusable_dates(arguments: dict[str, str], words: str) -> None:
    find, _, _ = _tools({"CALENDLY_TOKEN": TOKEN, "CALENDLY_BASE_URL": "http://127.0.0.1:9"})
    with pytest.raises(llm.ToolError, match=words):
        await find(arguments, None)


async def test_a_long_request_is_clipped_to_four_weeks() -> None:
    fake = FakeCalendly(SLOTS)
    async with serve(fake.app) as url:
        find, _, _ = _tools(fake.env(url))
        output = await find(
            {"start_date": DAY.isoformat(), "end_date": (DAY + timedelta(days=90)).isoformat()},
            None,
        )
    assert "Only the first 28 days were searched." in output
    assert sum(path == "/event_type_available_times" for _, path, _ in fake.requests) == 4


async def test_book_slot_books_once_and_confirms_in_words() -> None:
    fake = FakeCalendly(SLOTS)
    arguments = {"start_time": iso_utc(SLOTS[1]), "name": "Jane Doe", "email": "Jane@Example.com"}
    async with serve(fake.app) as url:
        _, book, control = _tools(fake.env(url))
        first = await book(arguments, None)
        again = await book({**arguments, "email": "jane@example.com"}, None)
        other = book({**arguments, "email": "john@example.com"}, None)
        with pytest.raises(llm.ToolError, match="no longer available"):
            await other
    when = calendly_plugin.spoken_time(SLOTS[1], LA)
    assert first == (
        f"Booked for {when} (America/Los_Angeles). A confirmation email goes to Jane@example.com."
    )
    assert again.startswith("Already booked earlier in this call")
    (booking,) = fake.bookings
    assert booking["start_time"].startswith(iso_utc(SLOTS[1])[:-1])
    assert (booking["name"], booking["timezone"]) == ("Jane Doe", "America/Los_Angeles")
    assert sum(path == "/invitees" for _, path, _ in fake.requests) == 2
    assert len(control.of("calendly_booked")) == 1
    assert control.of("calendly_failed") == [
        {"operation": "book", "code": "slot_taken", "maybe_booked": False}
    ]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"start_time": "tomorrow at 2"}, "exact start_time"),
        ({"start_time": "2020-01-02T10:00:00Z"}, "past"),
        ({"start_time": iso_utc(SLOTS[1]), "email": "jane@example.com"}, "name"),
        ({"start_time": iso_utc(SLOTS[1]), "name": "Jane", "email": "jane at example"}, "email"),
    ],
)
async def test_book_slot_checks_its_arguments(arguments: dict[str, str], words: str) -> None:
    _, book, _ = _tools({"CALENDLY_TOKEN": TOKEN, "CALENDLY_BASE_URL": "http://127.0.0.1:9"})
    with pytest.raises(llm.ToolError, match=words):
        await book(arguments, None)


async def test_a_time_without_offset_is_the_callee_local_time() -> None:
    fake = FakeCalendly(SLOTS)
    local = SLOTS[1].astimezone(LA).replace(tzinfo=None).isoformat()
    async with serve(fake.app) as url:
        _, book, _ = _tools(fake.env(url))
        await book({"start_time": local, "name": "Jane", "email": "jane@example.com"}, None)
    assert fake.bookings[0]["start_time"].startswith(iso_utc(SLOTS[1])[:-1])


def test_a_booking_without_answer_is_never_made_twice() -> None:
    fake = FakeCalendly(SLOTS)
    fake.script["/invitees"] = [Scripted(201, delay=30)]
    arguments = {"start_time": iso_utc(SLOTS[1]), "name": "Jane", "email": "jane@example.com"}

    async def main() -> tuple[str, str, Control]:
        async with serve(fake.app) as url:
            _, book, control = _tools({**fake.env(url), "CALENDLY_TIMEOUT": "3"})
            messages = []
            for _ in range(2):
                with pytest.raises(llm.ToolError) as caught:
                    await book(arguments, None)
                messages.append(caught.value.message)
            return messages[0], messages[1], control

    first, second, control = virtual(main)
    assert "may or may not have been made" in first and second == first
    assert sum(path == "/invitees" for _, path, _ in fake.requests) == 1
    assert control.of("calendly_failed") == [
        {"operation": "book", "code": "no_answer", "maybe_booked": True}
    ]


async def test_no_token_in_events_logs_or_answers(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeCalendly(SLOTS)
    caplog.set_level(logging.DEBUG)
    async with serve(fake.app) as url:
        find, book, control = _tools(fake.env(url))
        shown = [await find({"start_date": DAY.isoformat()}, None)]
        arguments = {"start_time": iso_utc(SLOTS[1]), "name": "Jane", "email": "jane@example.com"}
        shown.append(await book(arguments, None))
        fake.tokens.clear()
        with pytest.raises(llm.ToolError) as caught:
            await book({**arguments, "start_time": iso_utc(SLOTS[2])}, None)
        shown.append(caught.value.message)
    text = "\n".join(shown) + repr(control.events) + caplog.text
    assert TOKEN not in text and PLATFORM_AUTH not in text
    assert "jane@example.com" not in repr(control.events) + caplog.text
